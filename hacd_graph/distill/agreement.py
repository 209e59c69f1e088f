"""How closely a student's concept probabilities follow its teacher's, level by level.

For marginal probabilities ``p`` (teacher) and ``q`` (student), both ``[B, N]``:

- ``level{L}/kl``: the binary KL ``p log(p/q) + (1-p) log((1-p)/(1-q))`` averaged over the
  clips and the concepts of level ``L`` (nats; 0 when the student matches);
- ``level{L}/top{k}``: per clip, the share of the teacher's ``k`` most probable level-``L``
  concepts that are also among the student's ``k`` most probable, averaged over clips
  (1 when the rankings agree at the top; ``k`` is cut to the level's size).

``kl`` and ``top{k}`` without a level are the same over all concepts except the root.
"""

from __future__ import annotations

import torch


def binary_kl(p: torch.Tensor, q: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Element-wise binary KL(p || q) in nats, with both clamped to ``[eps, 1 - eps]``."""
    p = p.double().clamp(eps, 1 - eps)
    q = q.double().clamp(eps, 1 - eps)
    return p * (p / q).log() + (1 - p) * ((1 - p) / (1 - q)).log()


def top_k_overlap(p: torch.Tensor, q: torch.Tensor, k: int) -> float:
    """Mean share of each row's top-``k`` columns of ``p`` found in the top-``k`` of ``q``."""
    k = min(k, p.shape[1])
    top_p = p.topk(k, dim=1).indices
    top_q = q.topk(k, dim=1).indices
    hits = (top_p.unsqueeze(2) == top_q.unsqueeze(1)).any(dim=2).float().sum(dim=1)
    return float((hits / k).mean())


def teacher_agreement(teacher_probs: torch.Tensor, student_probs: torch.Tensor,
                      levels: torch.Tensor, k: int = 3) -> dict[str, float]:
    """Agreement metrics (module docstring) as a flat ``name -> value`` dict.

    Args:
        teacher_probs, student_probs: ``[B, N]`` marginal probabilities.
        levels: ``[N]`` level of each concept (root = 0, left out).
        k: how many top concepts are compared.
    """
    if teacher_probs.shape != student_probs.shape:
        raise ValueError(f"teacher {list(teacher_probs.shape)} and student "
                         f"{list(student_probs.shape)} probabilities differ in shape")
    kl = binary_kl(teacher_probs, student_probs)
    out: dict[str, float] = {}
    below_root = levels > 0
    out["kl"] = float(kl[:, below_root].mean())
    out[f"top{k}"] = top_k_overlap(teacher_probs[:, below_root], student_probs[:, below_root], k)
    for level in range(1, int(levels.max()) + 1):
        cols = levels == level
        if cols.any():
            out[f"level{level}/kl"] = float(kl[:, cols].mean())
            out[f"level{level}/top{k}"] = top_k_overlap(teacher_probs[:, cols],
                                                        student_probs[:, cols], k)
    return out
