"""The teacher's losses and how each turns logits into concept probabilities.

Three kinds, chosen by ``teacher.loss``:

- ``marginal_bce`` (graph-conditioned teacher): logits are conditional; BCE on the
  marginals over ancestor paths (:func:`~hacd_graph.teacher.marginals.marginal_bce`).
- ``chmcnn``: logits are marginal; the C-HMCNN max-constraint module and loss
  (Giunchiglia & Lukasiewicz, NeurIPS 2020, https://arxiv.org/abs/2010.10151): a concept's
  score is the max of its own and its descendants' scores, so scores respect the hierarchy.
- ``bce`` (flat baseline): logits are marginal; plain independent BCE.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from hacd_graph.ach.labels import descendant_max
from hacd_graph.teacher.marginals import log_marginals, marginal_bce

LOSSES = ("marginal_bce", "chmcnn", "bce")


def max_constraint(scores: Tensor, ancestors: Tensor) -> Tensor:
    """C-HMCNN's max-constraint module: ``MCM(h)_c = max_{d ∈ {c} ∪ desc(c)} h_d``.

    :func:`hacd_graph.ach.labels.descendant_max` (the package's one implementation of the
    max over descendants): memory ``O(B N K)``, no ``[N, N]`` matrix.

    Args:
        scores: ``[B, N]`` (probabilities, or any scores).
        ancestors: ``[N, K]`` ancestor table padded with ``-1``.

    Returns:
        ``[B, N]``, with ``out[:, parent] >= out[:, child]`` for every edge.
    """
    return descendant_max(scores, ancestors)


def chmcnn_loss(marginal_logits: Tensor, targets: Tensor, ancestors: Tensor) -> Tensor:
    """C-HMCNN's MCLoss on marginal logits.

    Positives are scored by the max over their *positive* descendants (``MCM(y h)``),
    negatives by ``MCM(h)``; then binary cross-entropy.

    Shapes:
        marginal_logits, targets: ``[B, N]``; ancestors: ``[N, K]`` -> scalar.
    """
    h = torch.sigmoid(marginal_logits.float())
    y = targets.float()
    positive = max_constraint(y * h, ancestors)
    negative = max_constraint(h, ancestors)
    out = (1 - y) * negative + y * positive
    return F.binary_cross_entropy(out.clamp(1e-7, 1 - 1e-7), y)


def teacher_loss(kind: str, logits: Tensor, targets: Tensor, ancestors: Tensor) -> Tensor:
    """The loss ``kind`` (one of :data:`LOSSES`) of ``logits`` against ``targets``.

    Shapes:
        logits, targets: ``[B, N]``; ancestors: ``[N, K]`` -> scalar.
    """
    if kind == "marginal_bce":
        return marginal_bce(logits, targets, ancestors)
    if kind == "chmcnn":
        return chmcnn_loss(logits, targets, ancestors)
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(logits.float(), targets.float())
    raise ValueError(f"teacher.loss must be one of {LOSSES}, got {kind!r}")


def concept_probabilities(kind: str, logits: Tensor, ancestors: Tensor) -> Tensor:
    """Marginal concept probabilities ``[B, N]`` as the loss ``kind`` reads the logits."""
    if kind == "marginal_bce":
        return log_marginals(logits, ancestors).exp()
    if kind == "chmcnn":
        return max_constraint(torch.sigmoid(logits.float()), ancestors)
    if kind == "bce":
        return torch.sigmoid(logits.float())
    raise ValueError(f"teacher.loss must be one of {LOSSES}, got {kind!r}")
