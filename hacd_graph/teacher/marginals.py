r"""Marginal probabilities from conditional logits over the ancestor paths of a DAG.

The ACH factorisation (DESIGN.md): :math:`\sigma(z_c)` is the probability of concept
:math:`c` given that its parents are present, and a concept's marginal probability is the
product over the row :math:`A[c]` of the ancestor table (``c`` and all its ancestors):

.. math::

    \log P(c) = \sum_{a \in A[c]} \log\sigma(z_a / T)

This is the same quantity the hierarchical distillation loss computes for student and
teacher (``hacd_graph.distill``, which sits downstream and may call these functions); the
teacher's loss is the BCE of these marginals against labels closed under ancestors.
Because ``P(child) <= P(parent)`` by construction, predictions never violate the hierarchy.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def log_marginals(conditional_logits: Tensor, ancestors: Tensor,
                  temperature: float = 1.0) -> Tensor:
    """Log marginal probabilities ``log P(c)`` from conditional logits.

    Args:
        conditional_logits: ``[B, N]``.
        ancestors: ``[N, K]`` int32/int64 ancestor table padded with ``-1``
            (``ConceptHierarchy.ancestor_table()``).
        temperature: divides the logits.

    Returns:
        ``[B, N]`` values ``<= 0``, float32 (float64 stays float64).
    """
    dtype = torch.float64 if conditional_logits.dtype == torch.float64 else torch.float32
    n = conditional_logits.shape[-1]
    if ancestors.shape[0] != n:
        raise ValueError(f"ancestor table has {ancestors.shape[0]} rows but logits have "
                         f"{n} concepts")
    index = ancestors.long().to(conditional_logits.device)
    index = torch.where(index < 0, torch.full_like(index, n), index)
    log_sigmoid = F.pad(F.logsigmoid(conditional_logits.to(dtype) / temperature), (0, 1))
    return log_sigmoid[:, index].sum(dim=-1)  # [B, N, K] -> [B, N]; padding adds log 1 = 0


def log1mexp(log_p: Tensor) -> Tensor:
    """``log(1 - exp(log_p))`` computed stably (``log(-expm1(x))``), for ``log_p <= 0``.

    ``log_p`` is clamped just below 0 so a probability of exactly 1 gives a large negative
    finite value rather than ``-inf``.
    """
    return torch.log(-torch.expm1(log_p.clamp(max=-1e-7)))


def marginal_bce(conditional_logits: Tensor, targets: Tensor, ancestors: Tensor,
                 weights: Tensor | None = None) -> Tensor:
    """Binary cross-entropy of the marginals against ancestor-closed labels.

    ``L = -mean_{b,c} w_c [y log P(c) + (1 - y) log(1 - P(c))]``.

    Args:
        conditional_logits: ``[B, N]``.
        targets: ``[B, N]`` in {0, 1} (closed under ancestors).
        ancestors: ``[N, K]``.
        weights: optional per-concept weights ``[N]``.

    Returns:
        A scalar (mean over batch and concepts).
    """
    lp = log_marginals(conditional_logits, ancestors)
    y = targets.to(lp.dtype)
    elements = -(y * lp + (1 - y) * log1mexp(lp))
    if weights is not None:
        elements = elements * weights.to(lp.dtype)
    return elements.mean()
