r"""Plain PyTorch formulations of the hierarchical distillation loss (HDL).

Two readable implementations of the same function, used as the ``"torch"`` and ``"sparse"``
backends of :func:`hacd_graph.distill.hierarchical_distillation_loss`, by the tests as the
ground truth for the fused kernels, and by the benchmark as the baselines.

Logits are *conditional*: :math:`\sigma(z_c / T)` is the probability of concept :math:`c`
given that its parents are present. With :math:`A[c]` the row of the ancestor table
(:math:`c` itself and all its ancestors, padded with ``-1``), :math:`T` the temperature and
:math:`w` the node weights:

.. math::

    \ell^s_{b,c} = \sum_{a \in A[c]} \log\sigma(z^s_{b,a} / T), \qquad q = e^{\ell^s}

    \ell^t_{b,c} = \sum_{a \in A[c]} \log\sigma(z^t_{b,a} / T), \qquad p = e^{\ell^t}

    L_{b,c} = T^2 w_c \big( p (\ell^t - \ell^s) + (1 - p)(\log(1-p) - \log(1-q)) \big)

the binary KL divergence between the teacher's and the student's marginal probability that
concept :math:`c` is present. :math:`\log(1 - q)` and :math:`\log(1 - p)` come from
:func:`hacd_graph.teacher.marginals.log_one_minus_marginals` (the package's one
implementation of the log-marginals): exact where :math:`\ell` rounds to 0 in float32
(:math:`|z/T| \gtrsim 87`), as a log-sum-exp over the row
:math:`\log(1-\prod_i\sigma(x_i)) = \operatorname{logsumexp}_i[\log\sigma(-x_i) +
\sum_{j<i}\log\sigma(x_j)]` there. The loss and its autograd gradient are then finite and
exact for logits of any magnitude (float64 inputs are the ground truth in the tests).

These functions do not validate their inputs; call them through
:func:`hacd_graph.distill.hierarchical_distillation_loss`, which does. They import
:mod:`hacd_graph.teacher.marginals` when first called, not when this module is imported:
the ``hacd_graph.teacher`` package brings the teacher's models (and PyTorch Geometric) with
it, and importing :mod:`hacd_graph.distill` stays cheap.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

from hacd_graph.distill.ancestor_plan import AncestorPlan

REDUCTIONS = ("batchmean", "sum", "none")


def binary_kl_of_marginals(
    student_log_marginal: Tensor,
    teacher_log_marginal: Tensor,
    student_log_complement: Tensor,
    teacher_log_complement: Tensor,
) -> Tensor:
    r"""Binary KL divergence :math:`\mathrm{KL}(p \,\|\, q)` from log-marginals.

    Args:
        student_log_marginal: :math:`\ell^s = \log q`, any shape, values :math:`\le 0`.
        teacher_log_marginal: :math:`\ell^t = \log p`, same shape.
        student_log_complement: :math:`\log(1 - q)`, same shape.
        teacher_log_complement: :math:`\log(1 - p)`, same shape.

    Returns:
        :math:`p(\ell^t - \ell^s) + (1-p)(\log(1-p) - \log(1-q))` elementwise, with the second
        term taken as 0 where :math:`1 - p = 0` (only for an infinite teacher logit).
    """
    ls, lt = student_log_marginal, teacher_log_marginal
    ms, mt = student_log_complement, teacher_log_complement
    one_minus_p = mt.exp()
    saturated = one_minus_p <= 0
    second = one_minus_p * (torch.where(saturated, torch.zeros_like(mt), mt) - ms)
    return lt.exp() * (lt - ls) + torch.where(saturated, torch.zeros_like(second), second)


def _table(ancestors: Tensor | AncestorPlan) -> Tensor:
    return ancestors.table if isinstance(ancestors, AncestorPlan) else ancestors


def _reduce(elements: Tensor, reduction: str, batch_size: int) -> Tensor:
    if reduction == "none":
        return elements
    total = elements.sum()
    if reduction == "sum":
        return total
    return total / max(batch_size, 1)  # batchmean; an empty batch gives 0, not 0/0


def hdl_reference(
    student_logits: Tensor,
    teacher_logits: Tensor,
    ancestors: Tensor | AncestorPlan,
    weights: Tensor | None = None,
    temperature: float = 1.0,
    reduction: str = "batchmean",
) -> Tensor:
    r"""The eager gather formulation of the HDL: the definition, written to be read.

    Gathers the per-concept log-sigmoids along each row of the ancestor table into a
    ``[B, N, K]`` tensor and sums over ``K``; autograd provides the gradient. Memory is
    :math:`O(BNK)`, which is what the fused kernels avoid.

    Args:
        student_logits: conditional logits of the student, ``[B, N]``.
        teacher_logits: conditional logits of the teacher, ``[B, N]`` (treated as a constant:
            no gradient flows to it).
        ancestors: ``[N, K]`` int32/int64; row ``c`` holds ``c`` and its ancestors, padded
            with ``-1``.
        weights: optional node weights ``[N]`` (default all ones).
        temperature: :math:`T > 0`.
        reduction: ``"batchmean"`` (sum / B), ``"sum"`` or ``"none"``.

    Returns:
        The loss in the student's dtype: a scalar, or ``[B, N]`` for ``"none"``.

    Shapes:
        student_logits, teacher_logits: ``[B, N]``; ancestors: ``[N, K]``; weights: ``[N]``.
    """
    from hacd_graph.teacher.marginals import (
        log_one_minus_marginals,
        log_sigmoid_terms,
        sum_over_rows,
    )

    out_dtype = student_logits.dtype
    table = _table(ancestors)
    s_pos, s_neg = log_sigmoid_terms(student_logits, temperature)
    ls = sum_over_rows(s_pos, table)  # [B, N, K] gather, summed over K
    ms = log_one_minus_marginals(ls, s_pos, s_neg, table)
    with torch.no_grad():
        t_pos, t_neg = log_sigmoid_terms(teacher_logits, temperature)
        lt = sum_over_rows(t_pos, table)
        mt = log_one_minus_marginals(lt, t_pos, t_neg, table)
    elements = binary_kl_of_marginals(ls, lt, ms, mt) * (temperature**2)
    if weights is not None:
        elements = elements * weights.to(elements.dtype)
    return _reduce(elements, reduction, student_logits.shape[0]).to(out_dtype)


def ancestor_matrix(ancestors: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
    """The ancestor table as a sparse ``[N, N]`` CSR matrix ``M[c, a] = 1`` for ``a`` in ``A[c]``.

    Args:
        ancestors: ``[N, K]`` int32/int64 table padded with ``-1``.
        dtype: value dtype of the matrix.

    Returns:
        A ``torch.sparse_csr`` tensor with one stored 1 per valid table entry (the pairs of
        :func:`hacd_graph.ach.labels.ancestor_pairs`).
    """
    from hacd_graph.ach.labels import ancestor_pairs  # the one implementation, imported late

    num_concepts = ancestors.shape[0]
    rows, cols = ancestor_pairs(ancestors)
    coo = torch.sparse_coo_tensor(
        torch.stack([rows, cols]),
        torch.ones(rows.numel(), dtype=dtype, device=ancestors.device),
        (num_concepts, num_concepts),
        check_invariants=False,
    ).coalesce()
    with warnings.catch_warnings():  # "sparse CSR support is in beta": known, not actionable
        warnings.simplefilter("ignore", UserWarning)
        return coo.to_sparse_csr()


def hdl_sparse(
    student_logits: Tensor,
    teacher_logits: Tensor,
    ancestors: Tensor | AncestorPlan,
    weights: Tensor | None = None,
    temperature: float = 1.0,
    reduction: str = "batchmean",
) -> Tensor:
    r"""The HDL with the ancestor sums as one sparse matrix product.

    :math:`\ell = \log\sigma(z/T)\, M^\top` with :math:`M` the ``[N, N]`` ancestor matrix
    (:func:`ancestor_matrix`); the backward of the product is the sum over descendants.
    Memory is :math:`O(BN + NK)`. Same arguments, result and shapes as
    :func:`hdl_reference`.
    """
    from hacd_graph.teacher.marginals import (
        compute_dtype,
        log_one_minus_marginals,
        log_sigmoid_terms,
    )

    out_dtype = student_logits.dtype
    table = _table(ancestors)
    matrix = ancestor_matrix(table, compute_dtype(student_logits))

    def log_marginal(log_sigmoid: Tensor) -> Tensor:
        return torch.sparse.mm(matrix, log_sigmoid.t()).t()  # (M @ s^T)^T = s M^T

    s_pos, s_neg = log_sigmoid_terms(student_logits, temperature)
    ls = log_marginal(s_pos)
    ms = log_one_minus_marginals(ls, s_pos, s_neg, table)
    with torch.no_grad():
        t_pos, t_neg = log_sigmoid_terms(teacher_logits, temperature)
        lt = log_marginal(t_pos)
        mt = log_one_minus_marginals(lt, t_pos, t_neg, table)
    elements = binary_kl_of_marginals(ls, lt, ms, mt) * (temperature**2)
    if weights is not None:
        elements = elements * weights.to(elements.dtype)
    return _reduce(elements, reduction, student_logits.shape[0]).to(out_dtype)
