// CUDA entry point of the fused hierarchical distillation loss (HDL).
//
// Implemented in cuda/hdl_cuda.cu; called by hdl.cpp (built with -DWITH_CUDA) for CUDA
// tensors. It follows exactly the contract of hdl_fused_cpu (cpu/hdl_cpu.h): same arguments,
// same checks already done by the caller, same results.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

#include <string>
#include <tuple>

std::tuple<at::Tensor, at::Tensor> hdl_fused_cuda(
    const at::Tensor& student, const at::Tensor& teacher, const at::Tensor& ancestors,
    const c10::optional<at::Tensor>& weights, double temperature, int64_t reduction,
    const c10::optional<at::Tensor>& grad_output, bool compute_loss, bool compute_grad);
