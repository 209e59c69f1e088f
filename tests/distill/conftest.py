"""Helpers shared by the HDL tests of every backend (CPU here; Triton and CUDA reuse them).

``check_against_reference`` is the one comparison every backend test goes through: the
loss and the student's gradient of ``backend`` against the float64 definition on the same
inputs, entry by entry (``hacd_graph.distill.hdl_check``; the eager reference is checked
the same way, never against itself). ``assert_close_scaled`` (tolerance relative to the
largest entry) remains for comparisons that are not against the definition.
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from hacd_graph.distill import hierarchical_distillation_loss
from hacd_graph.distill.hdl_check import float32_rtol, float64_reference, worst_error
from hacd_graph.distill.synthetic_hierarchy import random_ancestor_table

AWKWARD_SIZES = (1, 7, 1000, 4099)
"""Concept counts every backend is tested at (DESIGN: N = 1, 7, 1000, 4099)."""

DTYPES = (torch.float32, torch.float16, torch.bfloat16)

# Tolerances relative to the largest magnitude of the reference result. Both sides compute
# in float32 from the same low-precision inputs; differences come from summation order, the
# kernels' math functions (~1e-7 relative) and, for float16/bfloat16, from rounding the
# result (and the gradient) to the output dtype.
LOSS_TOLERANCE = {
    torch.float32: 2e-5,
    torch.float64: 1e-10,
    torch.float16: 2e-3,
    torch.bfloat16: 1.6e-2,
}
GRAD_TOLERANCE = {
    torch.float32: 2e-5,
    torch.float64: 1e-10,
    torch.float16: 2e-3,
    torch.bfloat16: 1.6e-2,
}


def make_logits(batch: int, num_concepts: int, dtype: torch.dtype = torch.float32,
                scale: float = 4.0, seed: int = 0, device: str | torch.device = "cpu"
                ) -> tuple[Tensor, Tensor]:
    """Student and teacher logits ``[B, N]``, normal with standard deviation ``scale``."""
    generator = torch.Generator().manual_seed(seed)
    student = torch.randn(batch, num_concepts, generator=generator) * scale
    teacher = torch.randn(batch, num_concepts, generator=generator) * scale
    return student.to(device=device, dtype=dtype), teacher.to(device=device, dtype=dtype)


def assert_close_scaled(actual: Tensor, expected: Tensor, tolerance: float, what: str) -> None:
    """``|actual - expected| <= tolerance * (max |expected| + tiny)`` elementwise, NaN = NaN."""
    actual, expected = actual.detach().double().cpu(), expected.detach().double().cpu()
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    scale = expected.abs().max().item() if expected.numel() else 0.0
    torch.testing.assert_close(actual, expected, rtol=tolerance,
                               atol=tolerance * max(scale, 1e-12), equal_nan=True,
                               msg=lambda m: f"{what}: {m}")


def loss_and_grad(backend: str, student: Tensor, teacher: Tensor, ancestors: Tensor,
                  weights: Tensor | None, temperature: float, reduction: str
                  ) -> tuple[Tensor, Tensor]:
    """The loss and d(loss . v)/d student for a fixed random ``v`` (1 for a scalar loss)."""
    leaf = student.detach().clone().requires_grad_(True)
    loss = hierarchical_distillation_loss(leaf, teacher, ancestors, weights, temperature,
                                          reduction, backend=backend)
    if reduction == "none":
        generator = torch.Generator().manual_seed(123)
        direction = torch.randn(loss.shape, generator=generator).to(loss)
    else:
        direction = torch.ones_like(loss)
    (grad,) = torch.autograd.grad(loss, leaf, direction)
    return loss.detach(), grad


def check_against_reference(backend: str, student: Tensor, teacher: Tensor, ancestors: Tensor,
                            weights: Tensor | None = None, temperature: float = 1.0,
                            reduction: str = "batchmean") -> None:
    """Assert ``backend`` gives the float64 definition's loss and gradient, entry by entry
    (:mod:`hacd_graph.distill.hdl_check`: each entry within what float32 evaluation costs
    it, plus the rounding to the output dtype), in the student's dtype."""
    loss, grad = loss_and_grad(backend, student, teacher, ancestors, weights, temperature,
                               reduction)
    dtype = student.dtype
    assert loss.dtype == grad.dtype == dtype
    batch = student.shape[0]
    if reduction == "none":
        generator = torch.Generator().manual_seed(123)  # the direction loss_and_grad used
        direction = torch.randn(loss.shape, generator=generator).to(loss).double()
        per_row = 1.0
    else:
        per_row = 1.0 / batch if reduction == "batchmean" else 1.0
        direction = torch.full(student.shape, per_row, dtype=torch.float64)
    exact = float64_reference(student, teacher, ancestors, weights, temperature, direction)
    largest = max(float(student.abs().max()), float(teacher.abs().max())) if batch else 0.0
    rtol = float32_rtol(largest / temperature)
    ulps = 2.0 if backend == "triton" and student.device.type == "cpu" else 1.0  # interpreter
    if reduction == "none":
        assert_per_entry(loss, exact.loss, exact.loss_scale, dtype, rtol, f"{backend} loss",
                         ulps)
    else:
        assert_per_entry(loss.reshape(1), (exact.loss.sum() * per_row).reshape(1),
                         (exact.loss_scale.sum() * per_row).reshape(1), dtype, rtol,
                         f"{backend} loss", ulps)
    assert_per_entry(grad, exact.grad, exact.grad_scale, dtype, rtol, f"{backend} gradient",
                     ulps)


@pytest.fixture(scope="session")
def dag_table():
    """``dag_table(N, K, ...)``: a random many-parent DAG ancestor table (cached per args)."""
    cache: dict[tuple, Tensor] = {}

    def make(num_concepts: int, width: int = 8, max_parents: int = 3, seed: int = 0,
             dtype: torch.dtype = torch.int64, shuffle_rows: bool = True) -> Tensor:
        key = (num_concepts, width, max_parents, seed, dtype, shuffle_rows)
        if key not in cache:
            cache[key] = random_ancestor_table(num_concepts, width, max_parents, seed, dtype,
                                               shuffle_rows)
        return cache[key]

    return make


# ----------------------------------------------------------------------------- per entry
def assert_per_entry(actual: Tensor, expected: Tensor, scale: Tensor, dtype: torch.dtype,
                     rtol: float, what: str, output_ulps: float = 1.0) -> float:
    """Assert every entry is within its bound (:func:`hacd_graph.distill.hdl_check.worst_error`);
    returns the worst error as a fraction of its bound."""
    ratio, worst = worst_error(actual, expected, scale, dtype, rtol, output_ulps)
    assert ratio <= 1.0, (
        f"{what}: entry {worst} is {actual.flatten()[worst].item():.6g}, float64 gives "
        f"{expected.flatten()[worst].item():.6g} (scale {scale.flatten()[worst].item():.3g}, "
        f"error {ratio:.3g} x the bound)")
    return ratio
