// The fused hierarchical distillation loss (HDL) on CUDA (contract in cpu/hdl_cpu.h).
//
// Same structure as the CPU kernel: one thread block owns one row at a time (a grid of as
// many blocks as fit on the SMs walks the rows) and does, per row,
//
//   0. for each element a (threads stride over a), once: the terms
//        u_a = e^60 softplus(-z_a / T) and likewise for the teacher (y_a / T),
//      kept in a row buffer (shared memory when it fits, else the block's global workspace);
//   1. for each concept c, gathering (loads and adds only) over the row A[c] of the table:
//        U_s = sum_a u_a = e^60 v_s, v_s = -ls,   U_t likewise for the teacher,
//        L_c = T^2 w_c (p (lt - ls) + (1-p)(log(1-p) - log(1-q))),  q = e^ls, p = e^lt,
//        g_c = dL_c/dls_c = T^2 w_c (q - p) / (1 - q)   (times grad_output[b, c] for "none"),
//        acc[a] += g_c for a in A[c]        -- the sum over descendants, with atomics into
//                                              a row buffer, compensated (TwoSum on the
//                                              value each atomic returns, the rounding
//                                              errors summed into comp[a]);
//   2. dz_a = (1 - sigma(z_a / T)) / T * (acc[a] + comp[a]) * (1/B for batchmean), from u_a,
//      written once.
//
// So the transcendental functions run O(N) times per row, not O(N K). The gradient is
// ready after the forward; for reductions "sum"/"batchmean" the autograd backward is one
// scale. Per-row losses are reduced in a fixed order (block reduction, then a sum over rows
// on the host side); the descendant sums are exact up to the rounding of the final
// acc + comp, whatever the order of the atomics.
//
// Numerics follow hacd_graph/distill/hdl_triton.py (see its docstring): log(1 - q) from
// U = e^60 v, as log U - 60 where v < 1e-8 (every ancestor saturated: 1 - q below float32
// normals), floored at -127; the buffer holds g e^-56 and the factor is (1 - sigma(s)) e^56,
// so neither overflows while their product (bounded by T^2 w) is exact. No subnormals are
// needed.
#include "hdl_cuda.h"

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

namespace {

constexpr int kThreads = 512;
constexpr int64_t kWorkspaceElems = int64_t(1) << 26;
constexpr int64_t kNone = 0, kBatchmean = 2;

// float and double overloads of the math functions used below.
__device__ __forceinline__ float exp_(float x) { return expf(x); }
__device__ __forceinline__ double exp_(double x) { return exp(x); }
__device__ __forceinline__ float log_(float x) { return logf(x); }
__device__ __forceinline__ double log_(double x) { return log(x); }
__device__ __forceinline__ float log1p_(float x) { return log1pf(x); }
__device__ __forceinline__ double log1p_(double x) { return log1p(x); }
__device__ __forceinline__ float expm1_(float x) { return expm1f(x); }
__device__ __forceinline__ double expm1_(double x) { return expm1(x); }

template <typename T>
struct Num {
  static constexpr T kShift = T(60);                           // u = e^60 softplus(-s)
  static constexpr T kExpShift = T(1.1420073898156842e26);     // e^60
  static constexpr T kExpNegShift = T(8.75651076269652e-27);   // e^-60
  static constexpr T kExtreme = T(30);  // above: softplus(-s) = e^-s to float precision
  // U below: v < 1e-8 (float) or 1e-20 (double), where log(1 - e^-v) = log v
  static constexpr T kTinyU = sizeof(T) == 8 ? T(1e6) : T(1e18);
  static constexpr T kFloor = T(-127);                         // floor of log(1 - q)
  static constexpr T kGradShift = T(56);                       // buffer holds g e^-56
  static constexpr T kExpGradShift = T(2.091659496012996e24);      // e^56
  static constexpr T kExpNegGradShift = T(4.780892883885469e-25);  // e^-56
  static constexpr T kExpGradMinusShift = T(0.01831563888873418);  // e^(56 - 60)
  static constexpr T kLn2 = T(0.6931471805599453);
};

// u = e^60 softplus(-s) = -e^60 log sigma(s); e^(60 - s) for s > 30. One exp.
template <typename T>
__device__ __forceinline__ T scaled_softplus_neg(T s) {
  using N = Num<T>;
  const T a = fabs(s);
  const bool big = a > N::kExtreme;
  const T e = exp_(big ? N::kShift - a : -a);
  if (s > N::kExtreme) return e;
  const T x = big ? e * N::kExpNegShift : e;  // e^-|s|
  return ((s < T(0) ? -s : T(0)) + log1p_(x)) * N::kExpShift;  // NaN stays NaN
}

// (1 - e^-v) / v for 0 <= v < ln 2 (Horner; exact where v underflows to 0).
template <typename T>
__device__ __forceinline__ T one_minus_exp_neg_over_v(T v) {
  T r = T(1) - v * T(1.0 / 12.0);
#pragma unroll
  for (int i = 11; i >= 2; --i) r = T(1) - v * (T(1) / T(i)) * r;
  return r;
}

// log(1 - e^-v) from U = e^60 v, v = -log(marginal) = sum_a softplus(-s_a); NaN stays NaN.
template <typename T>
__device__ __forceinline__ T log_one_minus_marginal(T u_sum) {
  using N = Num<T>;
  const T v = u_sum * N::kExpNegShift;
  T out;
  if (u_sum < N::kTinyU) {
    out = log_(u_sum) - N::kShift;  // 1 - q = v to float precision (maybe below normals)
  } else if (v < N::kLn2) {
    out = log_(-expm1_(-v));
  } else {
    out = log1p_(-exp_(-v));
  }
  return out < N::kFloor ? N::kFloor : out;
}

// (1 - sigma(s)) e^56 from u = e^60 softplus(-s), without overflow or underflow.
template <typename T>
__device__ __forceinline__ T scaled_one_minus_sigmoid(T u) {
  using N = Num<T>;
  const T v = u * N::kExpNegShift;  // softplus(-s); 1 - sigma(s) = 1 - e^-v
  if (v < N::kLn2) return u * one_minus_exp_neg_over_v(v) * N::kExpGradMinusShift;
  return -expm1_(-v) * N::kExpGradShift;
}

// acc += g with the rounding error of the atomic add (TwoSum on the value it returned)
// added to comp: acc + comp is the sum to about n eps^2, whatever the order of the adds.
template <typename T>
__device__ __forceinline__ void add_compensated(T* acc, T* comp, T g) {
  const T old = atomicAdd(acc, g);
  const T sum = old + g;  // what the atomic stored
  const T b = sum - old;
  const T err = (old - (sum - b)) + (g - b);
  if (err != T(0)) atomicAdd(comp, err);
}

template <typename T>
__device__ __forceinline__ T block_sum(T value, T* scratch) {
  for (int offset = 16; offset > 0; offset /= 2) value += __shfl_down_sync(0xffffffffu, value, offset);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) scratch[warp] = value;
  __syncthreads();
  T total = T(0);
  if (threadIdx.x == 0) {
    for (int w = 0; w < static_cast<int>(blockDim.x / 32); ++w) total += scratch[w];
  }
  __syncthreads();
  return total;  // valid in thread 0
}

// Where the row buffers of a block live: each offset is counted in acc_t elements, into the
// dynamic shared memory when shared is set, else into the block's slice of the workspace.
struct BufferPlacement {
  int64_t acc, comp, terms;  // acc[n], comp[n], terms: u_s[n] then u_t[n]
  bool acc_shared, comp_shared, terms_shared;
  int64_t work_per_block;  // workspace elements per block
};

template <typename scalar_t, typename acc_t, typename index_t>
__global__ void __launch_bounds__(kThreads) hdl_rows_kernel(
    const scalar_t* __restrict__ student, const scalar_t* __restrict__ teacher,
    const index_t* __restrict__ table, const acc_t* __restrict__ weights,
    const acc_t* __restrict__ grad_output, acc_t* __restrict__ loss_out,
    acc_t* __restrict__ row_loss_out, scalar_t* __restrict__ grad, acc_t* __restrict__ work,
    int64_t rows, int64_t n, int64_t k, acc_t inv_t, acc_t t_sq, acc_t grad_scale,
    bool compute_loss, bool compute_grad, BufferPlacement place) {
  using N = Num<acc_t>;
  using op_t = at::opmath_type<scalar_t>;
  extern __shared__ __align__(16) unsigned char shared_raw[];
  __shared__ acc_t scratch[32];
  acc_t* shared_base = reinterpret_cast<acc_t*>(shared_raw);
  acc_t* work_base = work == nullptr ? nullptr : work + blockIdx.x * place.work_per_block;
  acc_t* acc = (place.acc_shared ? shared_base : work_base) + place.acc;
  acc_t* comp = (place.comp_shared ? shared_base : work_base) + place.comp;
  acc_t* u_s = (place.terms_shared ? shared_base : work_base) + place.terms;
  acc_t* u_t = u_s + n;

  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const scalar_t* s_row = student + row * n;
    const scalar_t* t_row = teacher + row * n;
    // 0. the elementwise terms, once per element; clear the descendant sums
    for (int64_t a = threadIdx.x; a < n; a += blockDim.x) {
      u_s[a] = scaled_softplus_neg(static_cast<acc_t>(static_cast<op_t>(s_row[a])) * inv_t);
      u_t[a] = scaled_softplus_neg(static_cast<acc_t>(static_cast<op_t>(t_row[a])) * inv_t);
      if (compute_grad) {
        acc[a] = acc_t(0);
        comp[a] = acc_t(0);
      }
    }
    __syncthreads();
    // 1. per concept: gathers and adds, then the math once
    acc_t local_loss = acc_t(0);
    for (int64_t c = threadIdx.x; c < n; c += blockDim.x) {
      const index_t* entries = table + c * k;
      acc_t sum_s = 0, sum_t = 0;  // e^60 (-ls), e^60 (-lt)
      for (int64_t j = 0; j < k; ++j) {
        const int64_t a = static_cast<int64_t>(entries[j]);
        if (a < 0) continue;
        sum_s += u_s[a];
        sum_t += u_t[a];
      }
      const acc_t ls = -(sum_s * N::kExpNegShift), lt = -(sum_t * N::kExpNegShift);
      const acc_t log1m_q = log_one_minus_marginal(sum_s);
      const acc_t log1m_p = log_one_minus_marginal(sum_t);
      const acc_t p = exp_(lt);
      const acc_t scale = weights == nullptr ? t_sq : t_sq * weights[c];
      if (compute_loss) {
        const acc_t first = p == acc_t(0) ? acc_t(0) : p * (lt - ls);  // 0 log 0 = 0
        const acc_t loss = scale * (first + exp_(log1m_p) * (log1m_p - log1m_q));
        if (row_loss_out == nullptr) {
          loss_out[row * n + c] = loss;
        } else {
          local_loss += loss;
        }
      }
      if (compute_grad) {
        // g e^-56, g = (q - p) / (1 - q); for q > 1/2 as e^(log(1-p) - log(1-q)) - 1.
        acc_t ratio;
        if (ls > -N::kLn2) {
          const acc_t d = log1m_p - log1m_q;
          ratio = (d > N::kGradShift ? exp_(d - N::kGradShift) : exp_(d) * N::kExpNegGradShift) -
                  N::kExpNegGradShift;
        } else {
          ratio = (exp_(ls) - p) / (-expm1_(ls)) * N::kExpNegGradShift;
        }
        acc_t g = scale * ratio;
        if (grad_output != nullptr) g *= grad_output[row * n + c];
        for (int64_t j = 0; j < k; ++j) {
          const int64_t a = static_cast<int64_t>(entries[j]);
          if (a >= 0) add_compensated(acc + a, comp + a, g);
        }
      }
    }
    if (compute_loss && row_loss_out != nullptr) {
      const acc_t total = block_sum(local_loss, scratch);
      if (threadIdx.x == 0) row_loss_out[row] = total;
    }
    __syncthreads();  // acc is complete; u is no longer gathered
    // 2. the gradient, once per element
    if (compute_grad) {
      for (int64_t a = threadIdx.x; a < n; a += blockDim.x) {
        const acc_t dz = scaled_one_minus_sigmoid(u_s[a]) * (acc[a] + comp[a]) * grad_scale;
        grad[row * n + a] = static_cast<scalar_t>(static_cast<op_t>(dz));
      }
    }
    __syncthreads();  // the next row overwrites the buffers
  }
}

// Shared memory first for the buffers touched most: acc (atomics), comp, then the terms.
template <typename acc_t>
BufferPlacement place_buffers(int64_t n, bool compute_grad, size_t shared_limit,
                              size_t& shared_bytes) {
  BufferPlacement place{};
  int64_t shared_elems = 0, work_elems = 0;
  const size_t reserve = 1024;  // the static scratch and some slack
  auto put = [&](int64_t count, int64_t& offset, bool& shared) {
    shared = static_cast<size_t>(shared_elems + count) * sizeof(acc_t) + reserve <= shared_limit;
    offset = shared ? shared_elems : work_elems;
    (shared ? shared_elems : work_elems) += count;
  };
  if (compute_grad) {
    put(n, place.acc, place.acc_shared);
    put(n, place.comp, place.comp_shared);
  }
  put(2 * n, place.terms, place.terms_shared);
  place.work_per_block = work_elems;
  shared_bytes = static_cast<size_t>(shared_elems) * sizeof(acc_t);
  return place;
}

template <typename scalar_t, typename acc_t, typename index_t>
void launch(const at::Tensor& student, const at::Tensor& teacher,
            const at::Tensor& ancestors, const c10::optional<at::Tensor>& weights,
            double temperature, int64_t reduction, const c10::optional<at::Tensor>& grad_output,
            bool compute_loss, bool compute_grad, at::Tensor& loss, at::Tensor& row_loss,
            at::Tensor& grad) {
  const int64_t rows = student.size(0), n = student.size(1), k = ancestors.size(1);
  // (ATen/cuda/CUDAContext.h would pull in the cuSPARSE/cuBLAS headers: ask the runtime.)
  int device = 0, sms = 0, shared_optin = 0;
  C10_CUDA_CHECK(cudaGetDevice(&device));
  C10_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  C10_CUDA_CHECK(
      cudaDeviceGetAttribute(&shared_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  size_t shared_bytes = 0;
  const BufferPlacement place = place_buffers<acc_t>(n, compute_grad,
                                                     static_cast<size_t>(shared_optin),
                                                     shared_bytes);
  auto kernel = hdl_rows_kernel<scalar_t, acc_t, index_t>;
  C10_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      static_cast<int>(shared_bytes)));
  int per_sm = 0;
  C10_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kThreads,
                                                               shared_bytes));
  int64_t blocks =
      std::min<int64_t>(rows, static_cast<int64_t>(sms) * std::max(1, std::min(per_sm, 4)));
  if (place.work_per_block > 0) {  // keep the workspace within 256 MiB (floats) for large N
    blocks = std::min<int64_t>(
        blocks, std::max<int64_t>(sms, kWorkspaceElems / place.work_per_block));
  }
  at::Tensor work;
  if (place.work_per_block > 0) {
    work = at::empty({blocks, place.work_per_block},
                     student.options().dtype(c10::CppTypeToScalarType<acc_t>::value));
  }
  const acc_t inv_t = static_cast<acc_t>(1.0 / temperature);
  const acc_t t_sq = static_cast<acc_t>(temperature * temperature);
  const double row_scale = reduction == kBatchmean ? 1.0 / static_cast<double>(rows) : 1.0;
  const acc_t grad_scale = static_cast<acc_t>(row_scale / temperature);
  cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  kernel<<<blocks, kThreads, shared_bytes, stream>>>(
      student.data_ptr<scalar_t>(), teacher.data_ptr<scalar_t>(), ancestors.data_ptr<index_t>(),
      weights.has_value() ? weights->data_ptr<acc_t>() : nullptr,
      grad_output.has_value() ? grad_output->data_ptr<acc_t>() : nullptr,
      loss.defined() && reduction == kNone ? loss.data_ptr<acc_t>() : nullptr,
      row_loss.defined() ? row_loss.data_ptr<acc_t>() : nullptr,
      grad.defined() ? grad.data_ptr<scalar_t>() : nullptr,
      work.defined() ? work.data_ptr<acc_t>() : nullptr, rows, n, k, inv_t, t_sq, grad_scale,
      compute_loss, compute_grad, place);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace

std::tuple<at::Tensor, at::Tensor> hdl_fused_cuda(
    const at::Tensor& student, const at::Tensor& teacher, const at::Tensor& ancestors,
    const c10::optional<at::Tensor>& weights, double temperature, int64_t reduction,
    const c10::optional<at::Tensor>& grad_output, bool compute_loss, bool compute_grad) {
  const c10::cuda::CUDAGuard guard(student.device());
  const int64_t rows = student.size(0), n = student.size(1);
  const auto acc_dtype = student.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  const auto acc_options = student.options().dtype(acc_dtype);
  at::Tensor loss, row_loss, grad;
  if (compute_loss) {
    if (reduction == kNone) {
      loss = at::empty({rows, n}, acc_options);
    } else {
      row_loss = at::empty({rows}, acc_options);
    }
  }
  if (compute_grad) grad = at::empty_like(student);
  if (rows > 0 && n > 0 && (compute_loss || compute_grad)) {
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, student.scalar_type(), "hdl_fused_cuda", [&] {
      using acc_t = std::conditional_t<std::is_same_v<scalar_t, double>, double, float>;
      if (ancestors.scalar_type() == at::kInt) {
        launch<scalar_t, acc_t, int32_t>(student, teacher, ancestors, weights, temperature,
                                         reduction, grad_output, compute_loss, compute_grad,
                                         loss, row_loss, grad);
      } else {
        launch<scalar_t, acc_t, int64_t>(student, teacher, ancestors, weights, temperature,
                                         reduction, grad_output, compute_loss, compute_grad,
                                         loss, row_loss, grad);
      }
    });
  }
  if (compute_loss && reduction != kNone) {
    loss = row_loss.sum();  // over rows in a fixed order: deterministic
    if (reduction == kBatchmean) loss.div_(static_cast<double>(std::max<int64_t>(rows, 1)));
  }
  return {compute_loss ? loss : at::Tensor(), compute_grad ? grad : at::Tensor()};
}
