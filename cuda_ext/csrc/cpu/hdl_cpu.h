// CPU entry point of the fused hierarchical distillation loss (HDL).
//
// The contract every device kernel of hdl_fused follows (see hdl.cpp for the checks the
// dispatcher has done before calling it):
//
//   student, teacher  [B, N] contiguous, one dtype: float32, float16, bfloat16 or float64.
//   ancestors         [N, K] contiguous int32/int64; row c = c and its ancestors, padded
//                     with -1; entries in [-1, N) (checked in Python).
//   weights           optional [N] contiguous float32 (float64 for float64 logits).
//   temperature       T > 0.
//   reduction         kReductionNone (0), kReductionSum (1) or kReductionBatchmean (2).
//   grad_output       optional [B, N] contiguous float32 (float64 for float64 logits):
//                     the incoming gradient of a reduction-"none" loss; only with
//                     reduction == 0 and compute_grad.
//   compute_loss      return the loss.
//   compute_grad      return the gradient with respect to the student logits.
//   chains            the CPU kernel's walk over the table: the tensors of its
//                     hacd_graph.distill.chain_plan.ChainPlan (order, base, residual_t,
//                     residual_count, slot; int32), built once per hierarchy and carried
//                     by its AncestorPlan. The vectorised CPU kernel walks it; without it (an empty
//                     list) CPU rows go through the portable scalar kernel. Ignored on CUDA.
//
// Returns (loss, grad), each an empty tensor when not requested:
//   loss  reduction 0: [B, N]; 1, 2: a 0-dim tensor; float32 (float64 for float64 logits).
//   grad  [B, N] in the student's dtype:
//           reduction 1, 2: d loss / d student (batchmean includes the 1/B), so that the
//                           autograd backward is one scale by the incoming scalar;
//           reduction 0:    sum_c grad_output[b, c] * d L[b, c] / d student[b, a]
//                           (grad_output is required).
//
// Every (row, concept) pair is computed with float32 accumulation (float64 for float64
// inputs): per row, the log-marginals gather over the ancestor rows and the gradient's sum
// over descendants is accumulated in a row buffer, in one pass.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

#include <string>
#include <tuple>
#include <vector>

constexpr int64_t kReductionNone = 0;
constexpr int64_t kReductionSum = 1;
constexpr int64_t kReductionBatchmean = 2;

std::tuple<at::Tensor, at::Tensor> hdl_fused_cpu(
    const at::Tensor& student, const at::Tensor& teacher, const at::Tensor& ancestors,
    const c10::optional<at::Tensor>& weights, double temperature, int64_t reduction,
    const c10::optional<at::Tensor>& grad_output, bool compute_loss, bool compute_grad,
    const std::vector<at::Tensor>& chains);

// hdl_fused_cpu restricted to the portable scalar kernel (what CPUs without AVX2 run), so
// that tests can check it on any machine.
std::tuple<at::Tensor, at::Tensor> hdl_fused_cpu_scalar(
    const at::Tensor& student, const at::Tensor& teacher, const at::Tensor& ancestors,
    const c10::optional<at::Tensor>& weights, double temperature, int64_t reduction,
    const c10::optional<at::Tensor>& grad_output, bool compute_loss, bool compute_grad);

// The instruction set the CPU kernel uses on this machine ("avx2" or "scalar").
std::string hdl_cpu_isa();
