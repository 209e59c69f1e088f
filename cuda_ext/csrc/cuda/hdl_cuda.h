// CUDA entry point of the fused hierarchical distillation loss (HDL).
//
// Implemented in cuda/hdl_cuda.cu; called by hdl.cpp (built with -DWITH_CUDA) for CUDA
// tensors. It follows exactly the contract of hdl_fused_cpu (cpu/hdl_cpu.h): same arguments,
// same checks already done by the caller, same results.
#pragma once

#include <torch/extension.h>

#include <tuple>

std::tuple<torch::Tensor, torch::Tensor> hdl_fused_cuda(
    const torch::Tensor& student, const torch::Tensor& teacher, const torch::Tensor& ancestors,
    const c10::optional<torch::Tensor>& weights, double temperature, int64_t reduction,
    const c10::optional<torch::Tensor>& grad_output, bool compute_loss, bool compute_grad);
