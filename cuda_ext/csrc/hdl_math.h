// The element and per-concept maths of the exact HDL kernels, shared by the portable CPU
// kernel (cpu/hdl_cpu.cpp) and the CUDA kernel (cuda/hdl_cuda.cu): one statement of it.
//
// Per row, with x_a = z_a / T (student) and y_a = y_a / T (teacher):
//
//   s_a = log sigma(x_a),  n_a = log sigma(-x_a)        (both exact at any |x|)
//   ls_c = sum_{a in A[c]} s_a,  q = e^ls                (likewise lt, p for the teacher)
//   ms_c = log(1 - q)  =  log1mexp(ls)                   where ls < -sqrt(tiny)
//                      =  logsumexp_i [n_{a_i} + sum_{j<i} s_{a_j}]   elsewhere
//   L_c = T^2 w_c (p (lt - ls) + (1 - p)(mt - ms))
//
// ls rounds to 0 (or to a subnormal) once every factor of the row saturates (x >~ 87 in
// float32), so log1mexp(ls) would be -inf; there every partial product of the row exceeds
// 1/2 and the log-sum-exp, a sum of positive terms, is exact. Below -sqrt(tiny), ls is a
// normal float exact to rounding and log1mexp is exact.
//
// The gradient: dL/dz_a = (1/T) sum_{c : a in A[c]} k_c ((1 - p_c) q_c / (1 - q_c) - p_c)
// sigma(-x_a), with k_c = T^2 w_c times the incoming gradient. q/(1 - q) = e^(ls - ms)
// overflows where 1 - q is tiny, while the product with sigma(-x_a) <= 1 - q_c stays
// bounded. So each concept contributes in one of two ways:
//   - linear (ms >= -kDirectBelow): g_c = k_c ((1 - p) e^(ls - ms) - p) <= k_c e^40, summed
//     over descendants into acc[a], later multiplied by sigma(-x_a);
//   - direct (ms < -kDirectBelow, every factor of the row saturated): -k_c p_c into acc[a]
//     as above, and k_c (1 - p_c) q_c e^(n_a - ms_c) (an exp per table entry, <= k_c)
//     straight into the gradient.
// Nothing overflows; what underflows is below float32's smallest normal times e^40.
#pragma once

#include <math.h>

#if defined(__CUDACC__)
#define HDL_INLINE __host__ __device__ __forceinline__
#else
#define HDL_INLINE inline
#endif

namespace hdl_math {

HDL_INLINE float exp_(float x) { return expf(x); }
HDL_INLINE double exp_(double x) { return exp(x); }
HDL_INLINE float log_(float x) { return logf(x); }
HDL_INLINE double log_(double x) { return log(x); }
HDL_INLINE float log1p_(float x) { return log1pf(x); }
HDL_INLINE double log1p_(double x) { return log1p(x); }
HDL_INLINE float expm1_(float x) { return expm1f(x); }
HDL_INLINE double expm1_(double x) { return expm1(x); }
HDL_INLINE float fabs_(float x) { return fabsf(x); }
HDL_INLINE double fabs_(double x) { return fabs(x); }

// sqrt(smallest normal): log-marginals above -kNearOne<T>() take the row's log-sum-exp.
template <typename T> HDL_INLINE T near_one();
template <> HDL_INLINE float near_one<float>() { return 1.0842021724855044e-19f; }
template <> HDL_INLINE double near_one<double>() { return 1.4916681462400413e-154; }

// Concepts with log(1 - q) below -kDirectBelow contribute to the gradient directly.
constexpr double kDirectBelow = 40.0;
constexpr double kLn2 = 0.6931471805599453;

// log sigma(x) into *pos and log sigma(-x) into *neg, exact at any |x|; NaN stays NaN.
template <typename T>
HDL_INLINE void log_sigmoid_pair(T x, T* pos, T* neg) {
  const T soft = log1p_(exp_(-fabs_(x)));
  *pos = (x > T(0) ? T(0) : x) - soft;
  *neg = (x < T(0) ? T(0) : -x) - soft;
}

// log(1 - e^l) for l <= 0, exact while l is (Maechler 2012); l = 0 gives -inf.
template <typename T>
HDL_INLINE T log1mexp(T l) {
  return l > T(-kLn2) ? log_(-expm1_(l)) : log1p_(-exp_(l));
}

// log(e^a + e^b); NaN stays NaN, -inf + -inf = -inf.
template <typename T>
HDL_INLINE T logaddexp(T a, T b) {
  if (a != a || b != b) return a + b;
  const T hi = a > b ? a : b, lo = a > b ? b : a;
  if (lo == -INFINITY) return hi;
  return hi + log1p_(exp_(lo - hi));
}

// One step of log(1 - prod) along a row: the running (prefix, complement) of the factors
// seen so far, extended by a factor with log sigma = pos and log sigma(-.) = neg:
// 1 - P f = (1 - P) + P (1 - f).
template <typename T>
HDL_INLINE void extend_complement(T pos, T neg, T* prefix, T* complement) {
  *complement = logaddexp(*complement, *prefix + neg);
  *prefix += pos;
}

// The loss of one concept and its gradient coefficients (see the top of this file).
template <typename T>
struct ConceptTerms {
  T loss;    // L_c
  T linear;  // g_c, summed over descendants, times sigma(-x_a)
  T direct;  // k_c (1 - p) q, times e^(n_a - ms) per table entry; 0 unless is_direct
  bool is_direct;
};

// ls, lt: log-marginals; ms, mt: log(1 - q), log(1 - p); scale = T^2 w_c; grad_factor =
// the incoming gradient of L_c (1/B for batchmean, grad_output[b, c] for "none").
template <typename T>
HDL_INLINE ConceptTerms<T> concept_terms(T ls, T lt, T ms, T mt, T scale, T grad_factor) {
  ConceptTerms<T> out;
  const T p = exp_(lt), one_minus_p = exp_(mt);
  const T first = p == T(0) ? T(0) : p * (lt - ls);  // 0 log 0 = 0; NaN stays NaN
  const T second = one_minus_p <= T(0) ? T(0) : one_minus_p * (mt - ms);
  out.loss = scale * (first + second);
  const T k = scale * grad_factor;
  out.is_direct = ms < T(-kDirectBelow);
  if (out.is_direct) {
    out.linear = -k * p;
    out.direct = k * one_minus_p * exp_(ls);
  } else {
    out.linear = k * (one_minus_p * exp_(ls - ms) - p);
    out.direct = T(0);
  }
  return out;
}

}  // namespace hdl_math
