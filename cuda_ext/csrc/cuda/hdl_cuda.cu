// The fused hierarchical distillation loss (HDL) on CUDA (contract in cpu/hdl_cpu.h).
//
// The maths are those of the exact CPU kernel, from the same header (../hdl_math.h): one
// thread block owns one row at a time (a grid of as many blocks as fit on the SMs walks the
// rows) and does, per row,
//
//   0. for each element a (threads stride over a), once: s_a = log sigma(z_a / T),
//      n_a = log sigma(-z_a / T) and likewise for the teacher, kept in row buffers (shared
//      memory when they fit, else the block's global workspace);
//   1. for each concept c, gathering over the row A[c] of the table:
//        ls = sum s, lt = sum t; ms = log(1 - q), mt = log(1 - p): log1mexp of the
//        log-marginal, or, where it is within sqrt(tiny) of 0, the log-sum-exp along the row
//        (hdl_math::extend_complement); then L_c and the gradient coefficients
//        (hdl_math::concept_terms): the linear one summed over descendants into acc[a]
//        with compensated atomics (TwoSum on the value each atomic returns, the rounding
//        errors summed into comp[a]); for a concept whose 1 - q is below e^-40, the direct
//        one times e^(n_a - ms) into direct[a];
//   2. dz_a = (e^(n_a) (acc[a] + comp[a]) + direct[a]) / T * (1/B for batchmean), written
//      once.
//
// So the transcendental functions run O(N) times per row, not O(N K), except for the
// row sums of saturated concepts. The gradient is ready after the forward; for reductions
// "sum"/"batchmean" the autograd backward is one scale. Per-row losses are reduced in a
// fixed order (block reduction, then a sum over rows on the host side).
#include "hdl_cuda.h"

#include "hdl_math.h"

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

// log(1 - q) of a concept from its log-marginal and its table row (see hdl_math.h).
template <typename acc_t, typename index_t>
__device__ __forceinline__ acc_t row_complement(acc_t log_marginal, const acc_t* pos,
                                                const acc_t* neg, const index_t* entries,
                                                int64_t k) {
  if (log_marginal < -hdl_math::near_one<acc_t>()) return hdl_math::log1mexp(log_marginal);
  acc_t prefix = 0, complement = -INFINITY;
  for (int64_t j = 0; j < k; ++j) {
    const int64_t a = static_cast<int64_t>(entries[j]);
    if (a >= 0) hdl_math::extend_complement(pos[a], neg[a], &prefix, &complement);
  }
  return complement;
}

// Where the row buffers of a block live: each offset is counted in acc_t elements, into the
// dynamic shared memory when shared is set, else into the block's slice of the workspace.
struct BufferPlacement {
  int64_t acc, comp, direct, terms;  // acc[n], comp[n], direct[n], terms: s, n, t, tn [n]
  bool acc_shared, comp_shared, direct_shared, terms_shared;
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
  using op_t = at::opmath_type<scalar_t>;
  extern __shared__ __align__(16) unsigned char shared_raw[];
  __shared__ acc_t scratch[32];
  acc_t* shared_base = reinterpret_cast<acc_t*>(shared_raw);
  acc_t* work_base = work == nullptr ? nullptr : work + blockIdx.x * place.work_per_block;
  acc_t* acc = (place.acc_shared ? shared_base : work_base) + place.acc;
  acc_t* comp = (place.comp_shared ? shared_base : work_base) + place.comp;
  acc_t* direct = (place.direct_shared ? shared_base : work_base) + place.direct;
  acc_t* s_pos = (place.terms_shared ? shared_base : work_base) + place.terms;
  acc_t* s_neg = s_pos + n;
  acc_t* t_pos = s_neg + n;
  acc_t* t_neg = t_pos + n;

  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const scalar_t* s_row = student + row * n;
    const scalar_t* t_row = teacher + row * n;
    // 0. the elementwise terms, once per element; clear the descendant sums
    for (int64_t a = threadIdx.x; a < n; a += blockDim.x) {
      hdl_math::log_sigmoid_pair(static_cast<acc_t>(static_cast<op_t>(s_row[a])) * inv_t,
                                 s_pos + a, s_neg + a);
      hdl_math::log_sigmoid_pair(static_cast<acc_t>(static_cast<op_t>(t_row[a])) * inv_t,
                                 t_pos + a, t_neg + a);
      if (compute_grad) {
        acc[a] = acc_t(0);
        comp[a] = acc_t(0);
        direct[a] = acc_t(0);
      }
    }
    __syncthreads();
    // 1. per concept: gathers and adds, then the math once
    acc_t local_loss = acc_t(0);
    for (int64_t c = threadIdx.x; c < n; c += blockDim.x) {
      const index_t* entries = table + c * k;
      acc_t ls = 0, lt = 0;
      for (int64_t j = 0; j < k; ++j) {
        const int64_t a = static_cast<int64_t>(entries[j]);
        if (a < 0) continue;
        ls += s_pos[a];
        lt += t_pos[a];
      }
      const acc_t ms = row_complement(ls, s_pos, s_neg, entries, k);
      const acc_t mt = row_complement(lt, t_pos, t_neg, entries, k);
      const acc_t scale = weights == nullptr ? t_sq : t_sq * weights[c];
      const acc_t factor = grad_output == nullptr ? acc_t(1) : grad_output[row * n + c];
      const hdl_math::ConceptTerms<acc_t> terms =
          hdl_math::concept_terms(ls, lt, ms, mt, scale, factor);
      if (compute_loss) {
        if (row_loss_out == nullptr) {
          loss_out[row * n + c] = terms.loss;
        } else {
          local_loss += terms.loss;
        }
      }
      if (compute_grad) {
        for (int64_t j = 0; j < k; ++j) {
          const int64_t a = static_cast<int64_t>(entries[j]);
          if (a < 0) continue;
          add_compensated(acc + a, comp + a, terms.linear);
          if (terms.is_direct) atomicAdd(direct + a, terms.direct * hdl_math::exp_(s_neg[a] - ms));
        }
      }
    }
    if (compute_loss && row_loss_out != nullptr) {
      const acc_t total = block_sum(local_loss, scratch);
      if (threadIdx.x == 0) row_loss_out[row] = total;
    }
    __syncthreads();  // acc is complete; the terms are no longer gathered
    // 2. the gradient, once per element
    if (compute_grad) {
      for (int64_t a = threadIdx.x; a < n; a += blockDim.x) {
        const acc_t dz =
            (hdl_math::exp_(s_neg[a]) * (acc[a] + comp[a]) + direct[a]) * grad_scale;
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
    put(n, place.direct, place.direct_shared);
  }
  put(4 * n, place.terms, place.terms_shared);
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
