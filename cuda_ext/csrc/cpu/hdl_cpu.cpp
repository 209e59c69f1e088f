// The fused hierarchical distillation loss on CPU (contract in hdl_cpu.h).
//
// Rows are split over threads (at::parallel_for, OpenMP). float32/float16/bfloat16 rows go
// eight at a time through the AVX2 block kernel (hdl_cpu_block_avx2.cpp), which walks the
// table's chain plan, when the CPU has AVX2+FMA+F16C and the plan is given, as long as every
// |z/T| of the block is at most 40 (hdl_cpu_block.h); float64 rows, blocks beyond that
// range, and every row otherwise, go one at a time through the portable scalar kernel below:
// the exact formulation of ../hdl_math.h (shared with the CUDA kernel), which is also the
// readable statement of the algorithm.
#include "hdl_cpu.h"

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/scalar_tensor.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <cmath>
#include <cstdint>
#include <vector>

#include "hdl_cpu_block.h"
#include "hdl_math.h"

namespace {

// The ancestor table in CSR form with the -1 padding dropped: the entries of row c are
// col[row_ptr[c] .. row_ptr[c + 1]).
struct AncestorCsr {
  at::Tensor row_ptr;  // [N + 1] int32
  at::Tensor col;      // [nnz] int32
};

template <typename index_t>
AncestorCsr build_csr_typed(const at::Tensor& ancestors) {
  const int64_t n = ancestors.size(0), k = ancestors.size(1);
  const index_t* table = ancestors.data_ptr<index_t>();
  auto row_ptr = at::empty({n + 1}, at::kInt);
  int32_t* rp = row_ptr.data_ptr<int32_t>();
  int64_t nnz = 0;
  rp[0] = 0;
  for (int64_t c = 0; c < n; ++c) {
    for (int64_t j = 0; j < k; ++j) nnz += table[c * k + j] >= 0;
    TORCH_CHECK(nnz < INT32_MAX, "hdl_fused: ancestor table too large for int32 offsets");
    rp[c + 1] = static_cast<int32_t>(nnz);
  }
  auto col = at::empty({nnz}, at::kInt);
  int32_t* cp = col.data_ptr<int32_t>();
  for (int64_t i = 0; i < n * k; ++i)
    if (table[i] >= 0) *cp++ = static_cast<int32_t>(table[i]);
  return {row_ptr, col};
}

AncestorCsr build_csr(const at::Tensor& ancestors) {
  return ancestors.scalar_type() == at::kInt ? build_csr_typed<int32_t>(ancestors)
                                             : build_csr_typed<int64_t>(ancestors);
}

// log(1 - q) of concept c from its log-marginal and its row (see hdl_math.h).
template <typename acc_t>
acc_t row_complement(acc_t log_marginal, const acc_t* pos, const acc_t* neg,
                     const int32_t* col, int32_t begin, int32_t end) {
  if (log_marginal < -hdl_math::near_one<acc_t>()) return hdl_math::log1mexp(log_marginal);
  acc_t prefix = 0, complement = -INFINITY;
  for (int32_t i = begin; i < end; ++i)
    hdl_math::extend_complement(pos[col[i]], neg[col[i]], &prefix, &complement);
  return complement;
}

// The exact kernel for one row (the maths of hdl_math.h, gathering each concept's CSR row);
// acc_t is float (float32/16/bf16 logits) or double. Returns the row's loss sum (0 when
// loss_elements is set). work holds kScalarWorkPerConcept * n acc_t.
constexpr int64_t kScalarWorkPerConcept = 6;

template <typename scalar_t, typename acc_t>
double hdl_row_scalar(const scalar_t* student, const scalar_t* teacher, scalar_t* grad,
                      acc_t* loss_elements, const acc_t* grad_output, int64_t n,
                      const int32_t* row_ptr, const int32_t* col, const acc_t* weights,
                      acc_t inv_t, acc_t t2, acc_t grad_scale, acc_t* work) {
  acc_t* s = work;          // log sigma(z / T)
  acc_t* s_neg = s + n;     // log sigma(-z / T)
  acc_t* t = s_neg + n;     // log sigma(y / T)
  acc_t* t_neg = t + n;     // log sigma(-y / T)
  acc_t* acc = t_neg + n;   // linear gradient terms summed over descendants
  acc_t* direct = acc + n;  // direct gradient terms
  for (int64_t a = 0; a < n; ++a) {
    hdl_math::log_sigmoid_pair(static_cast<acc_t>(student[a]) * inv_t, s + a, s_neg + a);
    hdl_math::log_sigmoid_pair(static_cast<acc_t>(teacher[a]) * inv_t, t + a, t_neg + a);
    acc[a] = 0;
    direct[a] = 0;
  }
  double total = 0;
  for (int64_t c = 0; c < n; ++c) {
    const int32_t begin = row_ptr[c], end = row_ptr[c + 1];
    acc_t ls = 0, lt = 0;
    for (int32_t i = begin; i < end; ++i) {
      ls += s[col[i]];
      lt += t[col[i]];
    }
    const acc_t ms = row_complement(ls, s, s_neg, col, begin, end);
    const acc_t mt = row_complement(lt, t, t_neg, col, begin, end);
    const acc_t scale = weights == nullptr ? t2 : t2 * weights[c];
    const acc_t factor = grad_output == nullptr ? grad_scale : grad_scale * grad_output[c];
    const hdl_math::ConceptTerms<acc_t> terms =
        hdl_math::concept_terms(ls, lt, ms, mt, scale, factor);
    if (loss_elements != nullptr) {
      loss_elements[c] = terms.loss;
    } else {
      total += terms.loss;
    }
    if (grad == nullptr) continue;
    for (int32_t i = begin; i < end; ++i) acc[col[i]] += terms.linear;
    if (terms.is_direct)
      for (int32_t i = begin; i < end; ++i)
        direct[col[i]] += terms.direct * hdl_math::exp_(s_neg[col[i]] - ms);
  }
  if (grad != nullptr)
    for (int64_t a = 0; a < n; ++a)
      grad[a] = static_cast<scalar_t>((acc[a] * hdl_math::exp_(s_neg[a]) + direct[a]) * inv_t);
  return total;
}

// Runs body(task, worker) for every task in [0, num_tasks) on `workers` threads that take
// tasks one at a time from a shared counter. With a static split, a thread the OS preempts
// (other jobs on a shared machine) holds back its whole share while the others wait at the
// barrier; here it only delays the task it holds. `worker` indexes per-thread scratch.
template <typename Body>
void for_each_task(int64_t num_tasks, int64_t workers, const Body& body) {
  std::atomic<int64_t> next{0};
  at::parallel_for(0, workers, 1, [&](int64_t begin, int64_t end) {
    for (int64_t worker = begin; worker < end; ++worker)
      for (int64_t task = next++; task < num_tasks; task = next++) body(task, worker);
  });
}

// The chain plan of the table (hacd_graph/distill/chain_plan.py, ChainPlan): order, base,
// residual_t, residual_count (by position) and slot (by concept), int32 CPU tensors.
void check_chains(const std::vector<at::Tensor>& chains, int64_t n) {
  TORCH_CHECK(chains.size() == 5,
              "hdl_fused: chains must be the table's chain plan (order, base, residual_t, "
              "residual_count, slot), got ", chains.size(), " tensors");
  for (const at::Tensor& t : chains)
    TORCH_CHECK(t.device().is_cpu() && t.scalar_type() == at::kInt && t.is_contiguous(),
                "hdl_fused: chain plan tensors must be contiguous int32 CPU tensors");
  TORCH_CHECK(chains[0].numel() == n && chains[1].numel() == n && chains[3].numel() == n &&
                  chains[4].numel() == n && chains[2].dim() == 2 && chains[2].size(1) == n,
              "hdl_fused: the chain plan does not match N = ", n);
}

int block_dtype(at::ScalarType dtype) {
  if (dtype == at::kHalf) return kHdlFloat16;
  if (dtype == at::kBFloat16) return kHdlBFloat16;
  return kHdlFloat32;
}

}  // namespace

namespace {
std::tuple<at::Tensor, at::Tensor> hdl_fused_cpu_impl(
    const at::Tensor& student, const at::Tensor& teacher, const at::Tensor& ancestors,
    const c10::optional<at::Tensor>& weights, double temperature, int64_t reduction,
    const c10::optional<at::Tensor>& grad_output, bool compute_loss, bool compute_grad,
    const std::vector<at::Tensor>& chains, bool allow_vectorised);
}  // namespace

std::string hdl_cpu_isa() { return hdl_block_avx2_supported() ? "avx2" : "scalar"; }

namespace {
std::tuple<at::Tensor, at::Tensor> hdl_fused_cpu_impl(
    const at::Tensor& student, const at::Tensor& teacher, const at::Tensor& ancestors,
    const c10::optional<at::Tensor>& weights, double temperature, int64_t reduction,
    const c10::optional<at::Tensor>& grad_output, bool compute_loss, bool compute_grad,
    const std::vector<at::Tensor>& chains, bool allow_vectorised) {
  const int64_t batch = student.size(0), n = student.size(1);
  const auto dtype = student.scalar_type();
  const auto acc_dtype = dtype == at::kDouble ? at::kDouble : at::kFloat;
  const bool elementwise = reduction == kReductionNone;
  at::Tensor loss_elements = compute_loss && elementwise
                                    ? at::empty({batch, n}, student.options().dtype(acc_dtype))
                                    : at::Tensor();
  at::Tensor grad = compute_grad ? at::empty({batch, n}, student.options()) : at::Tensor();
  at::Tensor loss;
  if (!compute_loss && !compute_grad) return {loss, grad};
  const double grad_scale =
      reduction == kReductionBatchmean ? 1.0 / static_cast<double>(std::max<int64_t>(batch, 1)) : 1.0;
  const bool vectorised = allow_vectorised && !chains.empty() && dtype != at::kDouble &&
                          hdl_block_avx2_supported();
  const int64_t rows_per_task = vectorised ? kBlockRows : 1;
  const int64_t num_tasks = (batch + rows_per_task - 1) / rows_per_task;
  std::vector<double> partial(static_cast<size_t>(num_tasks), 0.0);
  const int64_t threads = at::get_num_threads();

  // The exact scalar kernel, for every row without the vectorised kernel and for the row
  // blocks the vectorised kernel hands back (a logit beyond its range): CSR built once.
  std::once_flag csr_built;
  AncestorCsr csr;
  auto scalar_rows = [&](int64_t row_begin, int64_t row_end, void* scratch) {
    std::call_once(csr_built, [&] { csr = build_csr(ancestors); });
    const int32_t* row_ptr = csr.row_ptr.data_ptr<int32_t>();
    const int32_t* col = csr.col.data_ptr<int32_t>();
    double total = 0;
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dtype, "hdl_fused_cpu", [&] {
      using acc_t = at::opmath_type<scalar_t>;
      for (int64_t row = row_begin; row < row_end; ++row) {
        const int64_t offset = row * n;
        total += hdl_row_scalar<scalar_t, acc_t>(
            student.data_ptr<scalar_t>() + offset, teacher.data_ptr<scalar_t>() + offset,
            compute_grad ? grad.data_ptr<scalar_t>() + offset : nullptr,
            loss_elements.defined() ? loss_elements.data_ptr<acc_t>() + offset : nullptr,
            grad_output.has_value() ? grad_output->data_ptr<acc_t>() + offset : nullptr, n,
            row_ptr, col, weights.has_value() ? weights->data_ptr<acc_t>() : nullptr,
            static_cast<acc_t>(1.0 / temperature),
            static_cast<acc_t>(temperature * temperature), static_cast<acc_t>(grad_scale),
            static_cast<acc_t*>(scratch));
      }
    });
    return total;
  };
  const int64_t workers = std::min(threads, num_tasks);
  auto scalar_work = at::empty({workers, kScalarWorkPerConcept * n},
                               student.options().dtype(acc_dtype));
  auto scalar_scratch = [&](int64_t worker) {
    return static_cast<char*>(scalar_work.data_ptr()) +
           worker * kScalarWorkPerConcept * n * scalar_work.element_size();
  };

  if (vectorised) {
    check_chains(chains, n);
    const at::Tensor& order = chains[0];
    const at::Tensor& base = chains[1];
    const at::Tensor& residual = chains[2];
    const at::Tensor& residual_count = chains[3];
    const at::Tensor& slot = chains[4];
    const int32_t* slots = slot.data_ptr<int32_t>();
    const int64_t num_slots = std::count_if(slots, slots + n, [](int32_t k) { return k >= 0; });
    const int64_t stride =  // + 8: room to align to 32 bytes
        hdl_block_work_floats(n, num_slots, loss_elements.defined(),
                              grad_output.has_value()) + 8;
    const int elem = static_cast<int>(student.element_size());
    auto work = at::empty({workers, stride}, at::kFloat);
    for_each_task(num_tasks, workers, [&](int64_t task, int64_t worker) {
      float* mine = work.data_ptr<float>() + worker * stride;
      mine = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(mine) + 31) & ~uintptr_t(31));
      const int64_t row0 = task * kBlockRows;
      const int64_t offset = row0 * n;
      HdlBlockArgs args{};
      args.student = static_cast<const char*>(student.data_ptr()) + offset * elem;
      args.teacher = static_cast<const char*>(teacher.data_ptr()) + offset * elem;
      args.grad = compute_grad ? static_cast<char*>(grad.data_ptr()) + offset * elem : nullptr;
      args.loss_elements = loss_elements.defined() ? loss_elements.data_ptr<float>() + offset : nullptr;
      args.grad_output = grad_output.has_value() ? grad_output->data_ptr<float>() + offset : nullptr;
      args.dtype = block_dtype(dtype);
      args.rows = static_cast<int>(std::min<int64_t>(kBlockRows, batch - row0));
      args.n = n;
      args.order = order.data_ptr<int32_t>();
      args.base = base.data_ptr<int32_t>();
      args.residual = residual.data_ptr<int32_t>();
      args.residual_count = residual_count.data_ptr<int32_t>();
      args.slot = slots;
      args.num_slots = num_slots;
      args.weights = weights.has_value() ? weights->data_ptr<float>() : nullptr;
      args.inv_temperature = static_cast<float>(1.0 / temperature);
      args.loss_scale = static_cast<float>(temperature * temperature);
      args.grad_scale = static_cast<float>(grad_scale);
      args.work = mine;
      bool in_range = true;
      partial[task] = hdl_block_avx2(args, &in_range);
      if (!in_range)
        partial[task] = scalar_rows(row0, row0 + args.rows, scalar_scratch(worker));
    });
  } else {
    for_each_task(num_tasks, workers, [&](int64_t row, int64_t worker) {
      partial[row] = scalar_rows(row, row + 1, scalar_scratch(worker));
    });
  }
  if (compute_loss) {
    if (elementwise) {
      loss = loss_elements;
    } else {
      double total = 0;
      for (double value : partial) total += value;  // fixed order: deterministic
      if (reduction == kReductionBatchmean) total /= static_cast<double>(std::max<int64_t>(batch, 1));
      loss = at::scalar_tensor(total, student.options().dtype(acc_dtype));
    }
  }
  return {loss, grad};
}
}  // namespace

std::tuple<at::Tensor, at::Tensor> hdl_fused_cpu(
    const at::Tensor& student, const at::Tensor& teacher, const at::Tensor& ancestors,
    const c10::optional<at::Tensor>& weights, double temperature, int64_t reduction,
    const c10::optional<at::Tensor>& grad_output, bool compute_loss, bool compute_grad,
    const std::vector<at::Tensor>& chains) {
  return hdl_fused_cpu_impl(student, teacher, ancestors, weights, temperature, reduction,
                            grad_output, compute_loss, compute_grad, chains, true);
}

std::tuple<at::Tensor, at::Tensor> hdl_fused_cpu_scalar(
    const at::Tensor& student, const at::Tensor& teacher, const at::Tensor& ancestors,
    const c10::optional<at::Tensor>& weights, double temperature, int64_t reduction,
    const c10::optional<at::Tensor>& grad_output, bool compute_loss, bool compute_grad) {
  return hdl_fused_cpu_impl(student, teacher, ancestors, weights, temperature, reduction,
                            grad_output, compute_loss, compute_grad, {}, false);
}
