"""Helpers shared by the HDL tests of every backend (CPU here; Triton and CUDA reuse them).

``check_against_reference`` is the one comparison every backend test goes through: the
loss and the student's gradient of ``backend`` against the eager reference
(``backend="torch"``) on the same inputs, with per-dtype tolerances.
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from hacd_graph.distill import hierarchical_distillation_loss
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
    """Assert ``backend`` gives the reference's loss and gradient, in the reference's dtype."""
    loss, grad = loss_and_grad(backend, student, teacher, ancestors, weights, temperature,
                               reduction)
    ref_loss, ref_grad = loss_and_grad("torch", student, teacher, ancestors, weights,
                                       temperature, reduction)
    assert loss.dtype == ref_loss.dtype == student.dtype
    assert grad.dtype == ref_grad.dtype == student.dtype
    dtype = student.dtype
    assert_close_scaled(loss, ref_loss, LOSS_TOLERANCE[dtype], f"{backend} loss")
    assert_close_scaled(grad, ref_grad, GRAD_TOLERANCE[dtype], f"{backend} gradient")


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
# Per-entry checks against the float64 definition (extreme logits). Each entry's error is
# bounded by what evaluating the definition in float32 costs *that entry*: its condition
# scale (the sum of the magnitudes of the terms it is made of) times a relative tolerance,
# plus the rounding of the output to its dtype, plus a floor far below any value of
# interest (what the output dtype cannot hold to full precision). Nothing is relative to
# the largest entry, so small losses and gradients are checked as tightly as large ones.
EXTREME_ATOL = {torch.float32: 1e-24, torch.bfloat16: 1e-24, torch.float16: 6e-8}
"""Floor per dtype: far below float32 values of interest; fp16's subnormal step."""
OUTPUT_RTOL = {torch.float32: 0.0, torch.bfloat16: 2.0**-8, torch.float16: 2.0**-11}
"""Rounding of the result to the output dtype, relative to the entry itself."""
_EPS32 = 2.0**-24


def compute_rtol(max_abs_scaled_logit: float) -> float:
    """Relative error (of an entry's condition scale) of float32 evaluation: a few ulps,
    plus the rounding of log-domain quantities as large as ``|z/T|`` (``log(1 - q)`` is
    about ``-|z/T|`` when saturated: its ulp is ``|z/T| eps`` in absolute terms)."""
    return 2e-5 + 16 * _EPS32 * max_abs_scaled_logit


def float64_oracle(student: Tensor, teacher: Tensor, ancestors: Tensor, weights: Tensor | None,
                   temperature: float, direction: Tensor
                   ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The loss per element and the gradient of ``sum(direction * L)`` in float64 (the
    exact formulation of ``hdl_reference`` on the float64 values of the inputs), with each
    entry's condition scale: what rounding each quantity it is computed from to a relative
    ``eps`` changes it by, over ``eps``.

    Returns:
        ``(loss [B, N], loss_scale [B, N], grad [B, N], grad_scale [B, N])``: loss_scale =
        ``T^2 |w| (p (|lt| + |ls|) + (1 - p)(|mt| + |ms|))`` (the two differences of the
        KL); grad_scale = ``(1/T) sum_{c ∋ a} T^2 |w_c v_c| sigma(-x_a) ((1 - p_c) q_c /
        (1 - q_c) (1 + |ls_c| + |ms_c|) + p_c (1 + |lt_c|))``, accumulated in log space (no
        overflow at any magnitude).
    """
    from hacd_graph.distill.hdl_reference import hdl_reference
    from hacd_graph.teacher.marginals import (
        log_one_minus_marginals,
        log_sigmoid_terms,
        padded_index,
        sum_over_rows,
    )

    s64 = student.detach().double().cpu().requires_grad_(True)
    t64 = teacher.detach().double().cpu()
    table = ancestors.cpu()
    w64 = None if weights is None else weights.detach().double().cpu()
    v64 = direction.detach().double().cpu()
    loss = hdl_reference(s64, t64, table, w64, temperature, "none")
    (grad,) = torch.autograd.grad((loss * v64).sum(), s64)
    with torch.no_grad():
        s_pos, s_neg = log_sigmoid_terms(s64, temperature)
        t_pos, t_neg = log_sigmoid_terms(t64, temperature)
        ls, lt = sum_over_rows(s_pos, table), sum_over_rows(t_pos, table)
        ms = log_one_minus_marginals(ls, s_pos, s_neg, table)
        mt = log_one_minus_marginals(lt, t_pos, t_neg, table)
        w = torch.ones(s64.shape[1], dtype=torch.float64) if w64 is None else w64
        loss_scale = temperature**2 * w.abs() * (
            lt.exp() * (lt.abs() + ls.abs()) + mt.exp() * (mt.abs() + ms.abs()))
        k = temperature**2 * w.abs() * v64.abs()  # [B, N]
        # per concept c, the log of its two coefficients; then per table entry (c, a) add
        # log sigma(-x_a), and sum over the c of each a
        log_k = k.clamp(min=1e-300).log()
        # log(k (1 - p) q / (1 - q)) and log(k p), each times the condition of its exponent
        odds_term = log_k + mt + ls - ms + torch.log1p(ls.abs() + ms.abs())
        p_term = log_k + lt + torch.log1p(lt.abs())
        index = padded_index(table, s64.shape[1])  # [N, K], N = padding
        neg = torch.nn.functional.pad(s_neg, (0, 1), value=-float("inf"))[:, index]
        contributions = torch.logaddexp(odds_term.unsqueeze(2), p_term.unsqueeze(2)) + neg
        flat = contributions.exp().reshape(s64.shape[0], -1)  # [B, N * K]
        grad_scale = torch.zeros(s64.shape[0], s64.shape[1] + 1, dtype=torch.float64)
        grad_scale.scatter_add_(1, index.reshape(1, -1).expand(s64.shape[0], -1), flat)
        grad_scale = grad_scale[:, :-1] / temperature
    return loss.detach(), loss_scale, grad, grad_scale


def assert_per_entry(actual: Tensor, expected: Tensor, scale: Tensor, dtype: torch.dtype,
                     rtol: float, what: str, output_ulps: float = 1.0) -> float:
    """Every entry within ``atol + OUTPUT_RTOL |expected| + rtol scale``; returns the largest
    error relative to that bound (<= 1 passes). ``output_ulps = 2`` allows an output
    rounded toward zero instead of to nearest (Triton's interpreter converts so). NaN fails; inf fails except where the
    float64 value is beyond the dtype's range (float16 losses), where it must be that inf."""
    actual = actual.detach().double().cpu()
    overflow = expected.abs() > torch.finfo(dtype).max
    assert (actual[overflow] == expected[overflow].sign() * float("inf")).all(), \
        f"{what}: a value beyond {dtype}'s range is not the infinity of its sign"
    actual, expected, scale = actual[~overflow], expected[~overflow], scale[~overflow]
    assert torch.isfinite(actual).all(), f"{what}: {int((~torch.isfinite(actual)).sum())} " \
                                         "non-finite entries"
    if not actual.numel():
        return 0.0
    bound = (EXTREME_ATOL[dtype] + output_ulps * OUTPUT_RTOL[dtype] * expected.abs()
             + rtol * scale)
    ratio = ((actual - expected).abs() / bound)
    worst = int(ratio.argmax())
    assert float(ratio.max()) <= 1.0, (
        f"{what}: entry {worst} is {actual.flatten()[worst].item():.6g}, float64 gives "
        f"{expected.flatten()[worst].item():.6g} (scale {scale.flatten()[worst].item():.3g}, "
        f"error {float(ratio.max()):.3g} x the bound)")
    return float(ratio.max())
