r"""Marginal probabilities from conditional logits over the ancestor paths of a DAG.

The ACH factorisation (DESIGN.md): :math:`\sigma(z_c)` is the probability of concept
:math:`c` given that its parents are present, and a concept's marginal probability is the
product over the row :math:`A[c]` of the ancestor table (``c`` and all its ancestors):

.. math::

    \ell_c = \log P(c) = \sum_{a \in A[c]} \log\sigma(z_a / T)

    \log(1 - P(c)) = \log\Big(1 - \prod_{a \in A[c]} \sigma(z_a/T)\Big)
        = \operatorname{logsumexp}_i \Big[\log\sigma(-z_{a_i}/T)
          + \sum_{j<i} \log\sigma(z_{a_j}/T)\Big]

(the second line telescopes :math:`1 - \prod_i x_i = \sum_i (1 - x_i) \prod_{j<i} x_j`, for
any order of the row). These are the one implementation of the log-marginals in the
package: the teacher's loss (the BCE of the marginals against labels closed under
ancestors) and the hierarchical distillation loss's reference (``hacd_graph.distill``,
downstream) both call them. Because ``P(child) <= P(parent)`` by construction,
predictions never violate the hierarchy.

Why the second line: :math:`\log(1 - e^{\ell})` is exact from :math:`\ell` alone only while
:math:`\ell` is itself exact, and in float32 :math:`\ell` rounds to 0 (or to a subnormal)
once every factor saturates (:math:`z/T \gtrsim 87`). :func:`log_one_minus_marginals` uses
:func:`log1mexp` where :math:`\ell < -\sqrt{\text{tiny}}` (there it is exact) and the
log-sum-exp over the row elsewhere (there every partial product exceeds 1/2, so the sum has
no cancellation).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

_LN2 = math.log(2.0)


def compute_dtype(logits: Tensor) -> torch.dtype:
    """float64 stays float64 (for gradcheck); every other dtype accumulates in float32."""
    return torch.float64 if logits.dtype == torch.float64 else torch.float32


def padded_index(ancestors: Tensor, num_concepts: int) -> Tensor:
    """The ancestor table as int64 with ``-1`` replaced by ``N`` (an extra column that the
    callers pad with the neutral element)."""
    index = ancestors.long()
    return torch.where(index < 0, torch.full_like(index, num_concepts), index)


def log_sigmoid_terms(conditional_logits: Tensor, temperature: float = 1.0
                      ) -> tuple[Tensor, Tensor]:
    """Per-concept ``(log σ(z/T), log σ(-z/T))``, both exact at any magnitude.

    Args:
        conditional_logits: ``[B, N]``.
        temperature: divides the logits.

    Returns:
        Two ``[B, N]`` tensors in the compute dtype (float32, float64 for float64 input).
    """
    x = conditional_logits.to(compute_dtype(conditional_logits)) / temperature
    return F.logsigmoid(x), F.logsigmoid(-x)


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
    _check_table(conditional_logits, ancestors)
    log_sigmoid, _ = log_sigmoid_terms(conditional_logits, temperature)
    return sum_over_rows(log_sigmoid, ancestors)


def sum_over_rows(terms: Tensor, ancestors: Tensor) -> Tensor:
    """``out[b, c] = Σ_{a ∈ A[c]} terms[b, a]`` by a ``[B, N, K]`` gather (padding adds 0)."""
    index = padded_index(ancestors.to(terms.device), terms.shape[-1])
    return F.pad(terms, (0, 1))[:, index].sum(dim=-1)


def log1mexp(log_p: Tensor) -> Tensor:
    """``log(1 - exp(log_p))`` for ``log_p <= 0``, to the precision of ``log_p``.

    ``log(-expm1(x))`` above ``-ln 2`` and ``log1p(-exp(x))`` below (Mächler 2012,
    https://cran.r-project.org/package=Rmpfr/vignettes/log1mexp-note.pdf). ``log_p = 0``
    gives ``-inf``: when ``log_p`` was rounded to 0, use :func:`log_one_minus_marginals`.
    Each branch is evaluated on inputs that keep the other's gradient finite.
    """
    high = log_p > -_LN2
    x_high = torch.where(high, log_p, torch.full_like(log_p, -1.0))
    x_low = torch.where(high, torch.full_like(log_p, -1.0), log_p)
    return torch.where(high, torch.log(-torch.expm1(x_high)), torch.log1p(-torch.exp(x_low)))


def near_one_threshold(dtype: torch.dtype) -> float:
    """``sqrt(tiny)`` of ``dtype``: log-marginals above ``-threshold`` take the row sum."""
    return math.sqrt(torch.finfo(dtype).tiny)


def log_one_minus_marginals(log_marginal: Tensor, log_sigmoid: Tensor,
                            log_sigmoid_neg: Tensor, ancestors: Tensor) -> Tensor:
    r"""``log(1 - P(c))`` exact even where ``log P(c)`` rounds to 0.

    :func:`log1mexp` of the log-marginal where it is below ``-sqrt(tiny)``; elsewhere (every
    factor of the row close to 1) the log-sum-exp over the row of
    :math:`\log\sigma(-x_{a_i}) + \sum_{j<i}\log\sigma(x_{a_j})`, evaluated only for those
    entries. Differentiable with finite gradients everywhere.

    Args:
        log_marginal: ``[B, N]``, :func:`sum_over_rows` of ``log_sigmoid``.
        log_sigmoid, log_sigmoid_neg: ``[B, N]`` from :func:`log_sigmoid_terms`.
        ancestors: ``[N, K]`` table padded with ``-1``.

    Returns:
        ``[B, N]`` values ``<= 0`` in the dtype of ``log_marginal``.
    """
    near = log_marginal > -near_one_threshold(log_marginal.dtype)
    direct = log1mexp(torch.where(near, torch.full_like(log_marginal, -1.0), log_marginal))
    if not bool(near.any()):
        return direct
    rows, concepts = near.nonzero(as_tuple=True)
    index = padded_index(ancestors.to(log_marginal.device), log_marginal.shape[-1])[concepts]
    terms = F.pad(log_sigmoid, (0, 1))[rows.unsqueeze(1), index]  # [E, K], padding log 1
    terms_neg = F.pad(log_sigmoid_neg, (0, 1), value=-math.inf)[rows.unsqueeze(1), index]
    before = F.pad(terms.cumsum(dim=1)[:, :-1], (1, 0))  # Σ_{j<i}: the exclusive prefix
    row_sum = torch.logsumexp(terms_neg + before, dim=1)
    return direct.index_put((rows, concepts), row_sum)


def _check_table(conditional_logits: Tensor, ancestors: Tensor) -> None:
    n = conditional_logits.shape[-1]
    if ancestors.shape[0] != n:
        raise ValueError(f"ancestor table has {ancestors.shape[0]} rows but logits have "
                         f"{n} concepts")


def marginal_bce(conditional_logits: Tensor, targets: Tensor, ancestors: Tensor,
                 weights: Tensor | None = None) -> Tensor:
    """Binary cross-entropy of the marginals against ancestor-closed labels.

    ``L = -mean_{b,c} w_c [y log P(c) + (1 - y) log(1 - P(c))]``, with both logarithms
    exact at any logit magnitude.

    Args:
        conditional_logits: ``[B, N]``.
        targets: ``[B, N]`` in {0, 1} (closed under ancestors).
        ancestors: ``[N, K]``.
        weights: optional per-concept weights ``[N]``.

    Returns:
        A scalar (mean over batch and concepts).
    """
    _check_table(conditional_logits, ancestors)
    log_sigmoid, log_sigmoid_neg = log_sigmoid_terms(conditional_logits)
    lp = sum_over_rows(log_sigmoid, ancestors)
    log_not = log_one_minus_marginals(lp, log_sigmoid, log_sigmoid_neg, ancestors)
    y = targets.to(lp.dtype)
    elements = -(y * lp + (1 - y) * log_not)
    if weights is not None:
        elements = elements * weights.to(lp.dtype)
    return elements.mean()
