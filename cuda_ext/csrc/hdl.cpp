// hdl_fused: the fused hierarchical distillation loss, dispatched by device.
//
// Checks the arguments once (shapes, dtypes, devices, contiguity) and calls the CPU kernel
// (cpu/hdl_cpu.cpp) or, in a build with -DWITH_CUDA, the CUDA kernel (cuda/hdl_cuda.cu).
// Value checks on the ancestor table (range, self-membership) are done in Python
// (hacd_graph/distill/hdl.py) before this is called. Exposed to Python with pybind11; the
// Python wrappers are hacd_graph/distill/hdl_cpu.py and hdl_cuda.py.
#include <torch/csrc/utils/pybind.h>

#include "cpu/hdl_cpu.h"
#ifdef WITH_CUDA
#include "cuda/hdl_cuda.h"
#endif

namespace {

void check_args(const at::Tensor& student, const at::Tensor& teacher,
                const at::Tensor& ancestors, const c10::optional<at::Tensor>& weights,
                double temperature, int64_t reduction,
                const c10::optional<at::Tensor>& grad_output, bool compute_grad) {
  TORCH_CHECK(student.dim() == 2, "hdl_fused: student must be [B, N], got ", student.sizes());
  TORCH_CHECK(teacher.sizes() == student.sizes(), "hdl_fused: teacher ", teacher.sizes(),
              " does not match student ", student.sizes());
  TORCH_CHECK(teacher.scalar_type() == student.scalar_type(),
              "hdl_fused: teacher and student must have one dtype");
  const auto dtype = student.scalar_type();
  TORCH_CHECK(dtype == at::kFloat || dtype == at::kHalf || dtype == at::kBFloat16 ||
                  dtype == at::kDouble,
              "hdl_fused: logits must be float32, float16, bfloat16 or float64, got ", dtype);
  const int64_t n = student.size(1);
  TORCH_CHECK(ancestors.dim() == 2 && ancestors.size(0) == n && ancestors.size(1) >= 1,
              "hdl_fused: ancestors must be [N, K] with N = ", n, ", got ", ancestors.sizes());
  TORCH_CHECK(ancestors.scalar_type() == at::kInt || ancestors.scalar_type() == at::kLong,
              "hdl_fused: ancestors must be int32 or int64");
  TORCH_CHECK(student.is_contiguous() && teacher.is_contiguous() && ancestors.is_contiguous(),
              "hdl_fused: inputs must be contiguous");
  TORCH_CHECK(teacher.device() == student.device() && ancestors.device() == student.device(),
              "hdl_fused: all tensors must be on one device");
  const auto acc_dtype = dtype == at::kDouble ? at::kDouble : at::kFloat;
  if (weights.has_value()) {
    TORCH_CHECK(weights->dim() == 1 && weights->size(0) == n && weights->is_contiguous() &&
                    weights->scalar_type() == acc_dtype &&
                    weights->device() == student.device(),
                "hdl_fused: weights must be a contiguous [N] tensor of the accumulation dtype");
  }
  TORCH_CHECK(temperature > 0, "hdl_fused: temperature must be > 0, got ", temperature);
  TORCH_CHECK(reduction >= kReductionNone && reduction <= kReductionBatchmean,
              "hdl_fused: reduction must be 0 (none), 1 (sum) or 2 (batchmean)");
  if (grad_output.has_value()) {
    TORCH_CHECK(reduction == kReductionNone, "hdl_fused: grad_output is for reduction none");
    TORCH_CHECK(grad_output->sizes() == student.sizes() && grad_output->is_contiguous() &&
                    grad_output->scalar_type() == acc_dtype &&
                    grad_output->device() == student.device(),
                "hdl_fused: grad_output must be a contiguous [B, N] tensor of the "
                "accumulation dtype");
  } else {
    TORCH_CHECK(!(compute_grad && reduction == kReductionNone),
                "hdl_fused: the gradient of reduction none needs grad_output");
  }
}

}  // namespace

std::tuple<at::Tensor, at::Tensor> hdl_fused(
    const at::Tensor& student, const at::Tensor& teacher, const at::Tensor& ancestors,
    const c10::optional<at::Tensor>& weights, double temperature, int64_t reduction,
    const c10::optional<at::Tensor>& grad_output, bool compute_loss, bool compute_grad,
    const std::vector<at::Tensor>& chains) {
  check_args(student, teacher, ancestors, weights, temperature, reduction, grad_output,
             compute_grad);
  if (student.is_cuda()) {
#ifdef WITH_CUDA
    return hdl_fused_cuda(student, teacher, ancestors, weights, temperature, reduction,
                          grad_output, compute_loss, compute_grad);
#else
    TORCH_CHECK(false, "hdl_fused: this build of the extension has no CUDA kernel");
#endif
  }
  TORCH_CHECK(student.device().is_cpu(), "hdl_fused: unsupported device ", student.device());
  return hdl_fused_cpu(student, teacher, ancestors, weights, temperature, reduction,
                       grad_output, compute_loss, compute_grad, chains);
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "Fused hierarchical distillation loss (hacd_graph)";
  m.def("hdl_fused", &hdl_fused, "Fused HDL: returns (loss, grad); see cpu/hdl_cpu.h",
        pybind11::arg("student"), pybind11::arg("teacher"), pybind11::arg("ancestors"),
        pybind11::arg("weights"), pybind11::arg("temperature"), pybind11::arg("reduction"),
        pybind11::arg("grad_output"), pybind11::arg("compute_loss"),
        pybind11::arg("compute_grad"), pybind11::arg("chains") = std::vector<at::Tensor>());
  m.def(
      "hdl_fused_cpu_scalar",
      [](const at::Tensor& student, const at::Tensor& teacher, const at::Tensor& ancestors,
         const c10::optional<at::Tensor>& weights, double temperature, int64_t reduction,
         const c10::optional<at::Tensor>& grad_output, bool compute_loss, bool compute_grad) {
        check_args(student, teacher, ancestors, weights, temperature, reduction, grad_output,
                   compute_grad);
        TORCH_CHECK(student.device().is_cpu(), "hdl_fused_cpu_scalar: CPU tensors only");
        return hdl_fused_cpu_scalar(student, teacher, ancestors, weights, temperature,
                                    reduction, grad_output, compute_loss, compute_grad);
      },
      "hdl_fused on CPU restricted to the portable scalar kernel (for tests)");
  m.def("cpu_isa", &hdl_cpu_isa, "Instruction set the CPU kernel uses here");
  m.attr("REDUCTION_NONE") = kReductionNone;
  m.attr("REDUCTION_SUM") = kReductionSum;
  m.attr("REDUCTION_BATCHMEAN") = kReductionBatchmean;
#ifdef WITH_CUDA
  m.attr("WITH_CUDA") = true;
#else
  m.attr("WITH_CUDA") = false;
#endif
}
