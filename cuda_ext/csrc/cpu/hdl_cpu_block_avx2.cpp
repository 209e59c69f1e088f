// The AVX2 row-block kernel of the CPU HDL (see hdl_cpu_block.h for the interface).
//
// Eight rows are processed together, interleaved: the scratch buffers hold, for each concept
// a, one 8-float vector with the eight rows' values, so each ancestor index of the table
// drives one aligned vector load (gather) or load-add-store (scatter) instead of eight
// scalar ones. Per block:
//
//   1. for each concept a (8x8 tiles transposed in registers, converted to float32):
//        s_a = log sigma(z_a / T)   t_a = log sigma(y_a / T)   d_a = sigma(-z_a / T) / T
//   2. the log-marginals ls = sum_{a in A[c]} s_a (and lt) along the table's chains
//      (hacd_graph/distill/chain_plan.py): ls[c] = s[c] + ls[base] + the residual terms,
//      bases first, in place; then for each concept c
//        p = e^lt, q = e^ls,  L = T^2 w_c (p (lt - ls) + (1-p)(log(1-p) - log(1-q)))
//        g = dL/dls = T^2 w_c ((1-p) q / (1-q) - p)            (times 1/B or grad_output)
//      and the sum over descendants acc_a = sum_{c : a in A[c]} g_c runs the chains
//      backwards: acc[base] += acc[c] (concepts built on others first), and each residual
//      entry adds acc[c] to its concept's total.
//   3. dz_a = acc_a * d_a, transposed back into the rows of the gradient.
//
// The block runs only when every |z/T|, |y/T| of its rows is at most kBlockLogitRange (40):
// then q / (1 - q), sigma(-z/T) and 1 - q are normal floats and log(1 - q) =
// log1mexp(ls) is exact (log1p(-q) below q = 1/2, log(-expm1(ls)) above). Step 1 checks the
// range and hands the block back otherwise (hdl_math.h has the exact formulation the scalar
// kernel then runs).
//
// The math functions are float32 polynomial approximations (Cephes-style, ~1 ulp) that
// propagate NaN.
#include "hdl_cpu_block.h"

int64_t hdl_block_work_floats(int64_t n, int64_t num_slots, bool loss_elements,
                              bool grad_output) {
  const int64_t n8 = (n + 7) / 8 * 8;  // st [n8][16]; d, acc [, loss] [, grad_output] [n8][8]
  return (32 + (loss_elements ? 8 : 0) + (grad_output ? 8 : 0)) * n8 + 24 * num_slots;
}

#if defined(__x86_64__) || defined(_M_X64)

bool hdl_block_avx2_supported() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
         __builtin_cpu_supports("f16c");
}

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#endif
#include <immintrin.h>

namespace {

using v8 = __m256;

inline v8 set1(float x) { return _mm256_set1_ps(x); }

// The math functions work on U independent vectors in lockstep (each statement is a loop
// over u that the compiler unrolls): consecutive concepts' dependency chains then
// interleave, which is what keeps the FP pipes busy; one vector at a time is latency-bound.
#define HDL_EACH(u) for (int u = 0; u < U; ++u)

// exp(x) for x <= 0, and optionally expm1(x), sharing the range reduction
// x = n ln2 + r, |r| <= ln2 / 2:  expm1(r) = r + r^2 P(r) (Taylor to r^7, rel. error < 2e-8),
// exp(x) = 2^n (1 + expm1(r)), expm1(x) = expm1(r) if n == 0 else exp(x) - 1.
// 2^n is applied as two normal factors so that results down to 2^-150 come out subnormal.
template <int U>
inline void exp_nonpositive(const v8* x_in, v8* e_out, v8* expm1_out) {
  v8 x[U], n[U], r[U], p[U], em1r[U], s1[U], s2[U];
  // NaN-preserving clamp: max returns its 2nd operand when one is NaN
  HDL_EACH(u) x[u] = _mm256_max_ps(set1(-104.0f), x_in[u]);
  HDL_EACH(u) n[u] = _mm256_round_ps(_mm256_mul_ps(x[u], set1(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  HDL_EACH(u) r[u] = _mm256_fnmadd_ps(n[u], set1(0.693359375f), x[u]);
  HDL_EACH(u) r[u] = _mm256_fnmadd_ps(n[u], set1(-2.12194440e-4f), r[u]);
  HDL_EACH(u) p[u] = _mm256_fmadd_ps(set1(1.0f / 5040.0f), r[u], set1(1.0f / 720.0f));
  HDL_EACH(u) p[u] = _mm256_fmadd_ps(p[u], r[u], set1(1.0f / 120.0f));
  HDL_EACH(u) p[u] = _mm256_fmadd_ps(p[u], r[u], set1(1.0f / 24.0f));
  HDL_EACH(u) p[u] = _mm256_fmadd_ps(p[u], r[u], set1(1.0f / 6.0f));
  HDL_EACH(u) p[u] = _mm256_fmadd_ps(p[u], r[u], set1(0.5f));
  HDL_EACH(u) em1r[u] = _mm256_fmadd_ps(p[u], _mm256_mul_ps(r[u], r[u]), r[u]);
  HDL_EACH(u) {
    const __m256i ni = _mm256_cvtps_epi32(n[u]);
    const __m256i n1 = _mm256_srai_epi32(ni, 1);
    const __m256i bias = _mm256_set1_epi32(127);
    s1[u] = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    s2[u] = _mm256_castsi256_ps(
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(ni, n1), bias), 23));
  }
  HDL_EACH(u) e_out[u] = _mm256_mul_ps(_mm256_mul_ps(_mm256_add_ps(em1r[u], set1(1.0f)), s1[u]),
                                       s2[u]);
  if (expm1_out != nullptr) {
    HDL_EACH(u) expm1_out[u] = _mm256_blendv_ps(
        _mm256_sub_ps(e_out[u], set1(1.0f)), em1r[u],
        _mm256_cmp_ps(n[u], _mm256_setzero_ps(), _CMP_EQ_OQ));
  }
}

// log(x) for x >= 0 (Cephes logf): log(0) = -inf, NaN stays NaN, subnormals are rescaled.
// kPlain: the caller promises x in [1, 2] (no zero, NaN or subnormal to handle).
template <int U, bool kPlain = false>
inline void log_nonnegative(const v8* x_in, v8* out) {
  v8 x[U], special[U], e[U], m[U], z[U], y[U];
  HDL_EACH(u) x[u] = x_in[u];
  if (!kPlain) {
    HDL_EACH(u) {
      const v8 subnormal = _mm256_cmp_ps(x[u], set1(1.17549435e-38f), _CMP_LT_OQ);
      special[u] = subnormal;
      x[u] = _mm256_blendv_ps(x[u], _mm256_mul_ps(x[u], set1(16777216.0f)), subnormal);  // 2^24
    }
  }
  HDL_EACH(u) {
    const __m256i xi = _mm256_castps_si256(x[u]);
    e[u] = _mm256_cvtepi32_ps(
        _mm256_sub_epi32(_mm256_srli_epi32(xi, 23), _mm256_set1_epi32(126)));
    m[u] = _mm256_castsi256_ps(_mm256_or_si256(
        _mm256_and_si256(xi, _mm256_set1_epi32(0x007FFFFF)), _mm256_set1_epi32(0x3F000000)));
  }
  if (!kPlain) HDL_EACH(u) e[u] = _mm256_sub_ps(e[u], _mm256_and_ps(special[u], set1(24.0f)));
  HDL_EACH(u) {  // m in [0.5, 1) -> [sqrt(1/2) - 1, sqrt(2) - 1)
    const v8 below = _mm256_cmp_ps(m[u], set1(0.707106781186547524f), _CMP_LT_OQ);
    const v8 extra = _mm256_and_ps(m[u], below);
    e[u] = _mm256_sub_ps(e[u], _mm256_and_ps(set1(1.0f), below));
    m[u] = _mm256_add_ps(_mm256_sub_ps(m[u], set1(1.0f)), extra);
  }
  HDL_EACH(u) z[u] = _mm256_mul_ps(m[u], m[u]);
  HDL_EACH(u) y[u] = _mm256_fmadd_ps(set1(7.0376836292e-2f), m[u], set1(-1.1514610310e-1f));
  HDL_EACH(u) y[u] = _mm256_fmadd_ps(y[u], m[u], set1(1.1676998740e-1f));
  HDL_EACH(u) y[u] = _mm256_fmadd_ps(y[u], m[u], set1(-1.2420140846e-1f));
  HDL_EACH(u) y[u] = _mm256_fmadd_ps(y[u], m[u], set1(1.4249322787e-1f));
  HDL_EACH(u) y[u] = _mm256_fmadd_ps(y[u], m[u], set1(-1.6668057665e-1f));
  HDL_EACH(u) y[u] = _mm256_fmadd_ps(y[u], m[u], set1(2.0000714765e-1f));
  HDL_EACH(u) y[u] = _mm256_fmadd_ps(y[u], m[u], set1(-2.4999993993e-1f));
  HDL_EACH(u) y[u] = _mm256_fmadd_ps(y[u], m[u], set1(3.3333331174e-1f));
  HDL_EACH(u) y[u] = _mm256_mul_ps(_mm256_mul_ps(y[u], m[u]), z[u]);
  HDL_EACH(u) y[u] = _mm256_fmadd_ps(e[u], set1(-2.12194440e-4f), y[u]);
  HDL_EACH(u) y[u] = _mm256_fnmadd_ps(z[u], set1(0.5f), y[u]);
  HDL_EACH(u) out[u] = _mm256_fmadd_ps(e[u], set1(0.693359375f), _mm256_add_ps(m[u], y[u]));
  if (!kPlain) {
    HDL_EACH(u) {
      const v8 is_zero = _mm256_cmp_ps(x_in[u], _mm256_setzero_ps(), _CMP_EQ_OQ);
      const v8 is_nan = _mm256_cmp_ps(x_in[u], x_in[u], _CMP_UNORD_Q);
      out[u] = _mm256_or_ps(_mm256_blendv_ps(out[u], set1(-__builtin_inff()), is_zero), is_nan);
    }
  }
}

// log sigma(x) and optionally sigma(-x) * scale, from one exp and one log:
// log sigma(x) = min(x, 0) - log1p(e), sigma(-x) = (x >= 0 ? e : 1) / (1 + e), e = exp(-|x|).
template <int U>
inline void log_sigmoid(const v8* x, v8 scale, v8* out, v8* sigmoid_neg_scaled) {
  v8 e[U], u1[U], log_u[U];
  HDL_EACH(u) e[u] = _mm256_sub_ps(_mm256_setzero_ps(), _mm256_andnot_ps(set1(-0.0f), x[u]));
  exp_nonpositive<U>(e, e, nullptr);
  HDL_EACH(u) u1[u] = _mm256_add_ps(set1(1.0f), e[u]);
  log_nonnegative<U, true>(u1, log_u);  // 1 + e in [1, 2]
  HDL_EACH(u) {
    // log1p(e) = log(u) + (e - (u - 1)) / u: the correction restores what rounding u lost.
    const v8 correction = _mm256_mul_ps(_mm256_sub_ps(e[u], _mm256_sub_ps(u1[u], set1(1.0f))),
                                        _mm256_rcp_ps(u1[u]));
    out[u] = _mm256_sub_ps(_mm256_min_ps(_mm256_setzero_ps(), x[u]),
                           _mm256_add_ps(log_u[u], correction));
  }
  if (sigmoid_neg_scaled != nullptr) {
    HDL_EACH(u) {
      const v8 nonneg = _mm256_cmp_ps(x[u], _mm256_setzero_ps(), _CMP_GE_OQ);
      const v8 numerator = _mm256_blendv_ps(set1(1.0f), e[u], nonneg);
      sigmoid_neg_scaled[u] = _mm256_div_ps(_mm256_mul_ps(numerator, scale), u1[u]);
    }
  }
}

inline void transpose8(v8 r[8]) {
  const v8 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const v8 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const v8 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const v8 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const v8 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const v8 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const v8 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const v8 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

inline float scalar_to_float(const void* base, int dtype, int64_t i) {
  if (dtype == kHdlFloat32) return static_cast<const float*>(base)[i];
  const uint16_t bits = static_cast<const uint16_t*>(base)[i];
  if (dtype == kHdlFloat16) return _cvtsh_ss(bits);
  return _mm_cvtss_f32(_mm_castsi128_ps(_mm_cvtsi32_si128(static_cast<int>(bits) << 16)));
}

inline uint16_t float_to_bf16_bits(float x) {
  const uint32_t bits = static_cast<uint32_t>(_mm_cvtsi128_si32(_mm_castps_si128(_mm_set_ss(x))));
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((bits >> 16) | 0x40u);
  return static_cast<uint16_t>((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);  // to nearest even
}

inline void scalar_from_float(void* base, int dtype, int64_t i, float x) {
  if (dtype == kHdlFloat32) {
    static_cast<float*>(base)[i] = x;
  } else if (dtype == kHdlFloat16) {
    static_cast<uint16_t*>(base)[i] = _cvtss_sh(x, _MM_FROUND_TO_NEAREST_INT);
  } else {
    static_cast<uint16_t*>(base)[i] = float_to_bf16_bits(x);
  }
}

inline v8 load8(const void* base, int dtype, int64_t i) {
  if (dtype == kHdlFloat32) return _mm256_loadu_ps(static_cast<const float*>(base) + i);
  const __m128i h = _mm_loadu_si128(
      reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(base) + i));
  if (dtype == kHdlFloat16) return _mm256_cvtph_ps(h);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

inline void store8(void* base, int dtype, int64_t i, v8 x) {
  if (dtype == kHdlFloat32) {
    _mm256_storeu_ps(static_cast<float*>(base) + i, x);
    return;
  }
  __m128i h;
  if (dtype == kHdlFloat16) {
    h = _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT);
  } else {
    const __m256i bits = _mm256_castps_si256(x);
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
    __m256i rounded = _mm256_add_epi32(bits, _mm256_add_epi32(_mm256_set1_epi32(0x7FFF), lsb));
    rounded = _mm256_srli_epi32(rounded, 16);
    const __m256i quiet_nan = _mm256_or_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(0x40));
    const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(x, x, _CMP_UNORD_Q));
    rounded = _mm256_blendv_epi8(rounded, quiet_nan, nan);
    h = _mm_packus_epi32(_mm256_castsi256_si128(rounded), _mm256_extracti128_si256(rounded, 1));
  }
  _mm_storeu_si128(reinterpret_cast<__m128i*>(static_cast<uint16_t*>(base) + i), h);
}

// tile[j] = concept a0 + j of the block's rows (lanes); rows/concepts past the end read 0.
inline void load_tile(const void* base, int dtype, int64_t n, int rows, int64_t a0, v8 tile[8]) {
  if (rows == kBlockRows && a0 + 8 <= n) {
    for (int r = 0; r < 8; ++r) tile[r] = load8(base, dtype, r * n + a0);
  } else {
    alignas(32) float tmp[8][8] = {};
    for (int r = 0; r < rows; ++r)
      for (int64_t j = 0; j < 8 && a0 + j < n; ++j) tmp[r][j] = scalar_to_float(base, dtype, r * n + a0 + j);
    for (int r = 0; r < 8; ++r) tile[r] = _mm256_load_ps(tmp[r]);
  }
  transpose8(tile);
}

// The inverse of load_tile: lanes past `rows` and concepts past n are not written.
inline void store_tile(void* base, int dtype, int64_t n, int rows, int64_t a0, v8 tile[8]) {
  transpose8(tile);
  if (rows == kBlockRows && a0 + 8 <= n) {
    for (int r = 0; r < 8; ++r) store8(base, dtype, r * n + a0, tile[r]);
  } else {
    alignas(32) float tmp[8][8];
    for (int r = 0; r < 8; ++r) _mm256_store_ps(tmp[r], tile[r]);
    for (int r = 0; r < rows; ++r)
      for (int64_t j = 0; j < 8 && a0 + j < n; ++j) scalar_from_float(base, dtype, r * n + a0 + j, tmp[r][j]);
  }
}

// L and dL/dls of U concepts for the 8 rows, from the log-marginals and T^2 w_c.
template <int U>
inline void binary_kl(const v8* ls, const v8* lt, const v8* scale, v8* loss, v8* dls) {
  v8 p[U], q[U], one_minus_p[U], one_minus_q[U], log_omp[U], log_omq[U];
  exp_nonpositive<U>(lt, p, one_minus_p);
  exp_nonpositive<U>(ls, q, one_minus_q);
  HDL_EACH(u) one_minus_p[u] = _mm256_sub_ps(_mm256_setzero_ps(), one_minus_p[u]);
  HDL_EACH(u) one_minus_q[u] = _mm256_sub_ps(_mm256_setzero_ps(), one_minus_q[u]);
  log_nonnegative<U>(one_minus_p, log_omp);
  log_nonnegative<U>(one_minus_q, log_omq);
  HDL_EACH(u) {
    // below 1/2, log1p(-p) = log(u) + (-p - (u - 1)) / u with u = 1 - p rounded: the
    // correction restores the low bits of u (exact subtraction, u in [1/2, 1]).
    const v8 small_p = _mm256_cmp_ps(p[u], set1(0.5f), _CMP_LT_OQ);
    const v8 small_q = _mm256_cmp_ps(q[u], set1(0.5f), _CMP_LT_OQ);
    const v8 fix_p = _mm256_div_ps(_mm256_sub_ps(_mm256_sub_ps(_mm256_setzero_ps(), p[u]),
                                                 _mm256_sub_ps(one_minus_p[u], set1(1.0f))),
                                   one_minus_p[u]);
    const v8 fix_q = _mm256_div_ps(_mm256_sub_ps(_mm256_sub_ps(_mm256_setzero_ps(), q[u]),
                                                 _mm256_sub_ps(one_minus_q[u], set1(1.0f))),
                                   one_minus_q[u]);
    log_omp[u] = _mm256_add_ps(log_omp[u], _mm256_and_ps(small_p, fix_p));
    log_omq[u] = _mm256_add_ps(log_omq[u], _mm256_and_ps(small_q, fix_q));
  }
  HDL_EACH(u) {
    // where 1 - p == 0 the (1 - p)(...) terms are 0 (x log x -> 0); NaN is not "saturated".
    const v8 live = _mm256_cmp_ps(one_minus_p[u], _mm256_setzero_ps(), _CMP_NLE_UQ);
    const v8 second = _mm256_and_ps(
        live, _mm256_mul_ps(one_minus_p[u], _mm256_sub_ps(log_omp[u], log_omq[u])));
    const v8 first = _mm256_mul_ps(p[u], _mm256_sub_ps(lt[u], ls[u]));
    loss[u] = _mm256_mul_ps(scale[u], _mm256_add_ps(first, second));
    // q / (1 - q) <= e^40 in the block's range (hdl_cpu_block.h)
    const v8 odds = _mm256_div_ps(_mm256_mul_ps(one_minus_p[u], q[u]), one_minus_q[u]);
    dls[u] = _mm256_mul_ps(scale[u], _mm256_sub_ps(_mm256_and_ps(live, odds), p[u]));
  }
}

}  // namespace

double hdl_block_avx2(const HdlBlockArgs& args, bool* in_range) {
  const int64_t n = args.n;
  const int64_t n8 = (n + 7) / 8 * 8;
  const int rows = args.rows;
  const bool want_grad = args.grad != nullptr;
  float* st = args.work;          // [n8][16]: s (lanes 0-7) then t (8-15); later ls, lt; g
  float* dsig = st + 16 * n8;     // [n8][8]: sigma(-z / T) / T
  float* acc = dsig + 8 * n8;     // [n8][8]: dL/dls summed over descendants
  float* loss_el = acc + 8 * n8;  // [n8][8], only with args.loss_elements
  float* gout = loss_el + (args.loss_elements != nullptr ? 8 * n8 : 0);  // [n8][8]
  float* slot_terms = gout + (args.grad_output != nullptr ? 8 * n8 : 0);  // [S][16]: s, t
  float* slot_extra = slot_terms + 16 * args.num_slots;  // [S][8]: residual sums of acc
  const v8 inv_t = set1(args.inv_temperature);
  const v8 dsig_scale = set1(args.inv_temperature);
  const v8 sign_bit = set1(-0.0f);
  v8 beyond = _mm256_setzero_ps();  // lanes with some |x| > kBlockLogitRange

  // 1. per-concept log-sigmoids (and sigma(-x) / T), rows interleaved.
  for (int64_t a0 = 0; a0 < n; a0 += 8) {
    v8 zs[8], zt[8], go[8];
    load_tile(args.student, args.dtype, n, rows, a0, zs);
    load_tile(args.teacher, args.dtype, n, rows, a0, zt);
    if (args.grad_output != nullptr) load_tile(args.grad_output, kHdlFloat32, n, rows, a0, go);
    for (int j = 0; j < 8; j += 2) {
      v8 x[2], y[2], s_out[2], t_out[2], d[2];
      for (int u = 0; u < 2; ++u) {
        x[u] = _mm256_mul_ps(zs[j + u], inv_t);
        y[u] = _mm256_mul_ps(zt[j + u], inv_t);
        const v8 largest = _mm256_max_ps(_mm256_andnot_ps(sign_bit, x[u]),
                                         _mm256_andnot_ps(sign_bit, y[u]));
        beyond = _mm256_or_ps(beyond, _mm256_cmp_ps(largest, set1(kBlockLogitRange),
                                                    _CMP_GT_OQ));
      }
      log_sigmoid<2>(x, dsig_scale, s_out, d);
      log_sigmoid<2>(y, dsig_scale, t_out, nullptr);
      for (int u = 0; u < 2; ++u) {
        const int64_t a = a0 + j + u;
        _mm256_store_ps(st + 16 * a, s_out[u]);
        _mm256_store_ps(st + 16 * a + 8, t_out[u]);
        _mm256_store_ps(dsig + 8 * a, d[u]);
        _mm256_store_ps(acc + 8 * a, _mm256_setzero_ps());
        if (args.grad_output != nullptr) _mm256_store_ps(gout + 8 * a, go[j + u]);
      }
    }
  }

  if (_mm256_movemask_ps(beyond) != 0) {  // lanes past `rows` hold zeros: never beyond
    *in_range = false;
    return 0.0;
  }
  *in_range = true;

  // 2. the log-marginals along the chains, in place: a concept's own terms are kept aside
  // first where another concept has it as a residual term.
  for (int64_t c = 0; c < n; ++c) {
    const int32_t k = args.slot[c];
    if (k < 0) continue;
    _mm256_store_ps(slot_terms + 16 * k, _mm256_load_ps(st + 16 * c));
    _mm256_store_ps(slot_terms + 16 * k + 8, _mm256_load_ps(st + 16 * c + 8));
  }
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = args.order[i], bp = args.base[i];
    const int32_t residuals = args.residual_count[i];
    if (bp < 0 && residuals == 0) continue;  // a root: ls = s
    float* dst = st + 16 * c;
    v8 ls = _mm256_load_ps(dst), lt = _mm256_load_ps(dst + 8);
    if (bp >= 0) {
      const float* src = st + 16 * static_cast<int64_t>(args.order[bp]);
      ls = _mm256_add_ps(ls, _mm256_load_ps(src));
      lt = _mm256_add_ps(lt, _mm256_load_ps(src + 8));
    }
    for (int32_t k = 0; k < residuals; ++k) {
      const float* src = slot_terms + 16 * static_cast<int64_t>(args.residual[k * n + i]);
      ls = _mm256_add_ps(ls, _mm256_load_ps(src));
      lt = _mm256_add_ps(lt, _mm256_load_ps(src + 8));
    }
    _mm256_store_ps(dst, ls);
    _mm256_store_ps(dst + 8, lt);
  }

  // Loss and dL/dls, two concepts in lockstep (independent chains overlap, where one
  // concept at a time was latency-bound); dL/dls overwrites ls, lt (no longer needed). The
  // loss is summed in float32 over kChunk concepts, then in float64.
  constexpr int64_t kChunk = 64;
  const bool sum_loss = args.loss_elements == nullptr;
  const v8 t2 = set1(args.loss_scale);
  const v8 grad_scale = set1(args.grad_scale);
  __m256d total_lo = _mm256_setzero_pd(), total_hi = _mm256_setzero_pd();
  for (int64_t c0 = 0; c0 < n; c0 += kChunk) {
    const int64_t count = c0 + kChunk < n ? kChunk : n - c0;
    v8 partial = _mm256_setzero_ps();
    for (int64_t i = 0; i < count; i += 2) {  // st has n8 >= c0 + i + 2 rows
      v8 ls[2], lt[2], scale[2], loss[2], dls[2];
      for (int u = 0; u < 2; ++u) {
        const float* src = st + 16 * (c0 + i + u);
        ls[u] = _mm256_load_ps(src);
        lt[u] = _mm256_load_ps(src + 8);
        const bool real = i + u < count;
        scale[u] = args.weights == nullptr || !real
                       ? t2 : _mm256_mul_ps(t2, set1(args.weights[c0 + i + u]));
      }
      binary_kl<2>(ls, lt, scale, loss, dls);
      for (int u = 0; u < 2 && i + u < count; ++u) {
        const int64_t c = c0 + i + u;
        if (sum_loss) {
          partial = _mm256_add_ps(partial, loss[u]);  // lanes past `rows` dropped at the end
        } else {
          _mm256_store_ps(loss_el + 8 * c, loss[u]);
        }
        if (!want_grad) continue;
        v8 g = _mm256_mul_ps(dls[u], grad_scale);
        if (args.grad_output != nullptr) g = _mm256_mul_ps(g, _mm256_load_ps(gout + 8 * c));
        _mm256_store_ps(st + 16 * c, g);
      }
    }
    total_lo = _mm256_add_pd(total_lo, _mm256_cvtps_pd(_mm256_castps256_ps128(partial)));
    total_hi = _mm256_add_pd(total_hi, _mm256_cvtps_pd(_mm256_extractf128_ps(partial, 1)));
  }

  // The sum over descendants, the chains backwards: acc[c] is complete when c is reached
  // (the concepts built on it come later in `order`); the residual entries' sums go aside
  // and join their concepts' totals at the end (they must not flow down those chains).
  if (want_grad) {
    for (int64_t k = 0; k < args.num_slots; ++k)
      _mm256_store_ps(slot_extra + 8 * k, _mm256_setzero_ps());
    for (int64_t i = n - 1; i >= 0; --i) {
      const int64_t c = args.order[i], bp = args.base[i];
      float* mine = acc + 8 * c;
      const v8 total = _mm256_add_ps(_mm256_load_ps(mine), _mm256_load_ps(st + 16 * c));
      _mm256_store_ps(mine, total);
      if (bp >= 0) {
        float* dst = acc + 8 * static_cast<int64_t>(args.order[bp]);
        _mm256_store_ps(dst, _mm256_add_ps(_mm256_load_ps(dst), total));
      }
      for (int32_t k = 0; k < args.residual_count[i]; ++k) {
        float* dst = slot_extra + 8 * static_cast<int64_t>(args.residual[k * n + i]);
        _mm256_store_ps(dst, _mm256_add_ps(_mm256_load_ps(dst), total));
      }
    }
    for (int64_t c = 0; c < n; ++c) {
      const int32_t k = args.slot[c];
      if (k < 0) continue;
      float* dst = acc + 8 * c;
      _mm256_store_ps(dst, _mm256_add_ps(_mm256_load_ps(dst), _mm256_load_ps(slot_extra + 8 * k)));
    }
  }

  // 3. write out: the loss elements and dz = acc * sigma(-z / T) / T, rows de-interleaved.
  for (int64_t a0 = 0; a0 < n; a0 += 8) {
    v8 tile[8];
    if (!sum_loss) {
      for (int j = 0; j < 8; ++j) tile[j] = _mm256_load_ps(loss_el + 8 * (a0 + j));
      store_tile(args.loss_elements, kHdlFloat32, n, rows, a0, tile);
    }
    if (want_grad) {
      for (int j = 0; j < 8; ++j)
        tile[j] = _mm256_mul_ps(_mm256_load_ps(acc + 8 * (a0 + j)), _mm256_load_ps(dsig + 8 * (a0 + j)));
      store_tile(args.grad, args.dtype, n, rows, a0, tile);
    }
  }
  alignas(32) double lanes[8];
  _mm256_store_pd(lanes, total_lo);
  _mm256_store_pd(lanes + 4, total_hi);
  double total = 0.0;
  for (int r = 0; r < rows; ++r) total += lanes[r];
  return total;
}

#undef HDL_EACH
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#else  // not x86-64: only the scalar kernel exists

bool hdl_block_avx2_supported() { return false; }
double hdl_block_avx2(const HdlBlockArgs&, bool* in_range) {
  *in_range = false;
  return 0.0;
}

#endif
