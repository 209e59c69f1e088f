r"""Checking an HDL result against the float64 definition, entry by entry.

Tests and benchmarks share this: a backend's loss and gradient are compared with the
float64 evaluation of the definition (:func:`hacd_graph.distill.hdl_reference.hdl_reference`
on the float64 values of the same inputs), never with another float32 backend and never
with themselves.

Each entry's allowed error is what evaluating the definition in float32 may cost *that
entry*: its condition scale (what rounding each quantity it is computed from to a relative
``eps`` changes it by, over ``eps``) times a relative tolerance, plus the rounding of the
output to its dtype, plus a floor far below any value of interest. Nothing is relative to
the largest entry, so small losses and gradients are checked as tightly as large ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from hacd_graph.distill.ancestor_plan import AncestorPlan
from hacd_graph.distill.hdl_reference import hdl_reference
from hacd_graph.teacher.marginals import (
    log_one_minus_marginals,
    log_sigmoid_terms,
    padded_index,
    sum_over_rows,
)

ABSOLUTE_FLOOR = {torch.float32: 1e-24, torch.bfloat16: 1e-24, torch.float16: 6e-8,
                  torch.float64: 1e-300}
"""Per output dtype: far below float32 values of interest; float16's subnormal step."""
OUTPUT_RTOL = {torch.float32: 0.0, torch.bfloat16: 2.0**-8, torch.float16: 2.0**-11,
               torch.float64: 0.0}
"""Rounding of the result to the output dtype, relative to the entry itself."""
_EPS32 = 2.0**-24


def float32_rtol(max_abs_scaled_logit: float) -> float:
    """Relative error (of an entry's condition scale) of float32 evaluation: a few ulps,
    plus the rounding of log-domain quantities as large as ``|z/T|`` (``log(1 - q)`` is
    about ``-|z/T|`` when saturated: its ulp is ``|z/T| eps`` in absolute terms)."""
    return 2e-5 + 16 * _EPS32 * max_abs_scaled_logit


@dataclass(frozen=True)
class Float64Result:
    """The float64 definition on some inputs, with each entry's condition scale.

    Attributes:
        loss: ``[B, N]`` loss per element.
        loss_scale: ``T^2 |w| (p (|lt| + |ls|) + (1 - p)(|mt| + |ms|))``.
        grad: ``[B, N]`` gradient of ``sum(direction * loss)``.
        grad_scale: ``(1/T) sum_{c ∋ a} T^2 |w_c v_c| sigma(-x_a) ((1 - p_c) q_c / (1 - q_c)
            (1 + |ls_c| + |ms_c|) + p_c (1 + |lt_c|))``.
    """

    loss: Tensor
    loss_scale: Tensor
    grad: Tensor
    grad_scale: Tensor


def float64_reference(student: Tensor, teacher: Tensor, ancestors: Tensor | AncestorPlan,
                      weights: Tensor | None, temperature: float, direction: Tensor
                      ) -> Float64Result:
    """The loss and the gradient of ``sum(direction * L)`` in float64, on the CPU, with the
    condition scales accumulated in log space (no overflow at any magnitude).

    Memory is that of the eager reference: ``O(B N K)`` float64 (use a few rows).
    """
    table = (ancestors.table if isinstance(ancestors, AncestorPlan) else ancestors).cpu()
    s64 = student.detach().double().cpu().requires_grad_(True)
    t64 = teacher.detach().double().cpu()
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
        log_k = (temperature**2 * w.abs() * v64.abs()).clamp(min=1e-300).log()  # [B, N]
        # per concept c the log of its two coefficients, times the condition of each
        # exponent; then per table entry (c, a) add log sigma(-x_a) and sum over c
        odds_term = log_k + mt + ls - ms + torch.log1p(ls.abs() + ms.abs())
        p_term = log_k + lt + torch.log1p(lt.abs())
        index = padded_index(table, s64.shape[1])  # [N, K], N = padding
        neg = F.pad(s_neg, (0, 1), value=-math.inf)[:, index]
        terms = torch.logaddexp(odds_term.unsqueeze(2), p_term.unsqueeze(2)) + neg
        flat = terms.exp().reshape(s64.shape[0], -1)  # [B, N * K]
        grad_scale = torch.zeros(s64.shape[0], s64.shape[1] + 1, dtype=torch.float64)
        grad_scale.scatter_add_(1, index.reshape(1, -1).expand(s64.shape[0], -1), flat)
        grad_scale = grad_scale[:, :-1] / temperature
    return Float64Result(loss.detach(), loss_scale, grad, grad_scale)


def worst_error(actual: Tensor, expected: Tensor, scale: Tensor, dtype: torch.dtype,
                rtol: float, output_ulps: float = 1.0) -> tuple[float, int]:
    """The largest error as a fraction of its entry's bound (``<= 1`` passes), and where.

    Bound: ``floor + output_ulps * OUTPUT_RTOL |expected| + rtol * scale``. NaN anywhere
    gives ``inf``; so does an infinity, except where the float64 value is beyond the
    dtype's range (float16 losses) and it is that infinity. ``output_ulps = 2`` allows
    an output rounded toward zero (Triton's interpreter converts so).
    """
    actual = actual.detach().double().cpu().flatten()
    expected, scale = expected.double().flatten(), scale.double().flatten()
    beyond = expected.abs() > torch.finfo(dtype).max
    wrong_inf = beyond & (actual != expected.sign() * math.inf)
    if bool(wrong_inf.any()):
        return math.inf, int(wrong_inf.nonzero()[0])
    keep = ~beyond
    if not bool(torch.isfinite(actual[keep]).all()):
        return math.inf, int((keep & ~torch.isfinite(actual)).nonzero()[0])
    bound = (ABSOLUTE_FLOOR[dtype] + output_ulps * OUTPUT_RTOL[dtype] * expected.abs()
             + rtol * scale)
    ratio = torch.where(keep, (actual - expected).abs() / bound, torch.zeros_like(bound))
    if not ratio.numel():
        return 0.0, 0
    worst = int(ratio.argmax())
    return float(ratio[worst]), worst
