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
concept :math:`c` is present. :math:`\log(1 - q)` is computed as
:math:`\log(-\mathrm{expm1}(\ell^s))`, and :math:`(1-p)\log(\cdot)` is taken as 0 where
:math:`1 - p = 0` (the limit :math:`x \log x \to 0`), so a saturated teacher gives 0, not NaN.

In float32 the autograd gradient of these formulations overflows once some :math:`|z/T|`
exceeds about 88: the intermediate :math:`\partial L / \partial \ell^s = (q - p) / (1 - q)`
leaves the float32 range while the gradient itself (that times :math:`\sigma(-z/T)`) is
small. The fused kernels scale the intermediate and stay finite up to about 100; float64
inputs are the ground truth there.

These functions do not validate their inputs; call them through
:func:`hacd_graph.distill.hierarchical_distillation_loss`, which does.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import Tensor

REDUCTIONS = ("batchmean", "sum", "none")


def _compute_dtype(student_logits: Tensor) -> torch.dtype:
    """float64 stays float64 (for gradcheck); every other dtype accumulates in float32."""
    return torch.float64 if student_logits.dtype == torch.float64 else torch.float32


def _padded_index(ancestors: Tensor, num_concepts: int) -> Tensor:
    """The ancestor table as int64 with ``-1`` replaced by ``N`` (a column that adds 0)."""
    index = ancestors.long()
    return torch.where(index < 0, torch.full_like(index, num_concepts), index)


def binary_kl_of_marginals(
    student_log_marginal: Tensor, teacher_log_marginal: Tensor
) -> Tensor:
    r"""Binary KL divergence :math:`\mathrm{KL}(p \,\|\, q)` from log-marginals.

    Args:
        student_log_marginal: :math:`\ell^s = \log q`, any shape, values :math:`\le 0`.
        teacher_log_marginal: :math:`\ell^t = \log p`, same shape.

    Returns:
        :math:`p(\ell^t - \ell^s) + (1-p)(\log(1-p) - \log(1-q))` elementwise, with the second
        term taken as 0 where :math:`1 - p = 0`.
    """
    ls, lt = student_log_marginal, teacher_log_marginal
    p = lt.exp()
    one_minus_p = -torch.expm1(lt)
    # Where 1 - p == 0 the second term is 0; feed log() a harmless 1 there so that neither
    # the value nor its gradient picks up 0 * inf.
    saturated = one_minus_p <= 0
    safe_one_minus_p = torch.where(saturated, torch.ones_like(one_minus_p), one_minus_p)
    log_one_minus_q = torch.log(-torch.expm1(ls))
    second = one_minus_p * (torch.log(safe_one_minus_p) - log_one_minus_q)
    return p * (lt - ls) + torch.where(saturated, torch.zeros_like(second), second)


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
    ancestors: Tensor,
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
    out_dtype = student_logits.dtype
    dtype = _compute_dtype(student_logits)
    batch_size, num_concepts = student_logits.shape
    index = _padded_index(ancestors, num_concepts)

    def log_marginal(logits: Tensor) -> Tensor:
        log_sigmoid = F.logsigmoid(logits.to(dtype) / temperature)  # [B, N]
        padded = F.pad(log_sigmoid, (0, 1))  # column N holds log 1 = 0 for the -1 padding
        return padded[:, index].sum(dim=-1)  # [B, N, K] -> [B, N]

    ls = log_marginal(student_logits)
    lt = log_marginal(teacher_logits.detach())
    elements = binary_kl_of_marginals(ls, lt) * (temperature**2)
    if weights is not None:
        elements = elements * weights.to(dtype)
    return _reduce(elements, reduction, batch_size).to(out_dtype)


def ancestor_matrix(ancestors: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
    """The ancestor table as a sparse ``[N, N]`` CSR matrix ``M[c, a] = 1`` for ``a`` in ``A[c]``.

    Args:
        ancestors: ``[N, K]`` int32/int64 table padded with ``-1``.
        dtype: value dtype of the matrix.

    Returns:
        A ``torch.sparse_csr`` tensor with one stored 1 per valid table entry.
    """
    num_concepts = ancestors.shape[0]
    index = ancestors.long()
    valid = index >= 0
    rows = torch.arange(num_concepts, device=index.device).unsqueeze(1).expand_as(index)
    coo = torch.sparse_coo_tensor(
        torch.stack([rows[valid], index[valid]]),
        torch.ones(int(valid.sum()), dtype=dtype, device=index.device),
        (num_concepts, num_concepts),
        check_invariants=False,
    ).coalesce()
    with warnings.catch_warnings():  # "sparse CSR support is in beta": known, not actionable
        warnings.simplefilter("ignore", UserWarning)
        return coo.to_sparse_csr()


def hdl_sparse(
    student_logits: Tensor,
    teacher_logits: Tensor,
    ancestors: Tensor,
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
    out_dtype = student_logits.dtype
    dtype = _compute_dtype(student_logits)
    batch_size = student_logits.shape[0]
    matrix = ancestor_matrix(ancestors, dtype)

    def log_marginal(logits: Tensor) -> Tensor:
        log_sigmoid = F.logsigmoid(logits.to(dtype) / temperature)  # [B, N]
        return torch.sparse.mm(matrix, log_sigmoid.t()).t()  # (M @ s^T)^T = s M^T

    ls = log_marginal(student_logits)
    with torch.no_grad():
        lt = log_marginal(teacher_logits)
    elements = binary_kl_of_marginals(ls, lt) * (temperature**2)
    if weights is not None:
        elements = elements * weights.to(dtype)
    return _reduce(elements, reduction, batch_size).to(out_dtype)
