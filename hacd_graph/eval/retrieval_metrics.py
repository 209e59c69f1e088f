"""Cross-modal retrieval metrics with LAION-CLAP's conventions (Clotho/AudioCaps style).

A similarity matrix ``S`` of shape ``[A, C]`` scores A audio clips against C captions;
caption j belongs to clip ``caption_owner[j]`` (typically 5 captions per clip).

- **text -> audio** (``retrieval/t2a/...``): each caption queries the A clips; its rank is
  the 1-based position of its own clip. ``R@k`` = share of captions ranked ≤ k;
  ``mAP@10`` = mean of ``1/rank`` where rank ≤ 10, else 0 (one relevant item per query).
- **audio -> text** (``retrieval/a2t/...``): each clip queries the C captions. ``R@k`` uses
  the best (smallest) rank among the clip's own captions; ``mAP@10`` sums, over the clip's
  captions ranked ≤ 10, the precision at that rank (own captions at or above it / rank),
  divides by the clip's number of captions (5 for Clotho: a clip with all 5 in the top 10
  can reach 1), then averages over clips.
- ``median_rank``: median of those ranks (t2a: per caption; a2t: best rank per clip).

**Ties rank pessimistically**: an item scored equal to the true one counts as ranked above
it (among a clip's own captions, ties between them do not change any figure). A constant
similarity matrix therefore scores like the worst case, never like a perfect one.

Keys: ``retrieval/{a2t,t2a}/{R@1,R@5,R@10,mAP@10,median_rank}``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from hacd_graph.errors import UserError

RECALL_AT = (1, 5, 10)
MAP_AT = 10


def _validate(similarity: np.ndarray | torch.Tensor, caption_owner: Sequence[int]
              ) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(similarity, torch.Tensor):
        similarity = similarity.detach().cpu().double().numpy()
    sim = np.asarray(similarity, dtype=np.float64)
    owner = np.asarray(caption_owner)
    if sim.ndim != 2 or 0 in sim.shape:
        raise UserError(f"retrieval metrics: similarity must be [audio, caption], "
                        f"got shape {tuple(sim.shape)}")
    if owner.shape != (sim.shape[1],):
        raise UserError(f"retrieval metrics: {sim.shape[1]} captions in the similarity matrix "
                        f"but {owner.size} caption owners")
    if not np.issubdtype(owner.dtype, np.integer):
        raise UserError("retrieval metrics: caption_owner must hold integer clip indices")
    if owner.min() < 0 or owner.max() >= sim.shape[0]:
        raise UserError(f"retrieval metrics: caption_owner must lie in [0, {sim.shape[0]}), "
                        f"got {owner.min()}..{owner.max()}")
    missing = np.setdiff1d(np.arange(sim.shape[0]), owner)
    if missing.size:
        raise UserError(f"retrieval metrics: clip {int(missing[0])} has no caption "
                        f"({missing.size} clips without captions)")
    if not np.isfinite(sim).all():
        raise UserError("retrieval metrics: the similarity matrix holds NaN or inf")
    return sim, owner


def text_to_audio_ranks(sim: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """1-based rank of each caption's own clip among all clips, ties pessimistic.

    Shapes: ``sim [A, C]``, ``owner [C]`` -> ``[C]``.
    """
    true = sim[owner, np.arange(sim.shape[1])]
    return (sim >= true[None, :]).sum(axis=0)


def audio_to_text_hits(sim: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Bool ``[A, C]``: row a, position p (0-based) is True when the caption ranked p-th for
    clip a is one of its own; at equal similarity other clips' captions rank first."""
    own = owner[None, :] == np.arange(sim.shape[0])[:, None]  # [A, C]
    order = np.lexsort((own, -sim), axis=-1)  # by -sim, then own captions last
    return np.take_along_axis(own, order, axis=1)


def _summaries(prefix: str, best_rank: np.ndarray, ap: np.ndarray) -> dict[str, float]:
    out = {f"{prefix}/R@{k}": float((best_rank <= k).mean()) for k in RECALL_AT}
    out[f"{prefix}/mAP@{MAP_AT}"] = float(ap.mean())
    out[f"{prefix}/median_rank"] = float(np.median(best_rank))
    return out


def retrieval_scores(similarity: np.ndarray | torch.Tensor, caption_owner: Sequence[int]
                     ) -> dict[str, float]:
    """Recall@{1,5,10}, mAP@10 and median rank, audio->text and text->audio.

    Args:
        similarity: ``[A, C]`` scores, higher = more similar (e.g. cosine similarity).
        caption_owner: ``[C]`` the clip index (0..A-1) each caption belongs to; every clip
            needs at least one caption.

    Returns:
        ``retrieval/{a2t,t2a}/{R@1,R@5,R@10,mAP@10,median_rank}`` (see the module docstring).

    Raises:
        UserError: wrong shapes, owners out of range, a clip without captions, NaN/inf.
    """
    sim, owner = _validate(similarity, caption_owner)
    t2a = text_to_audio_ranks(sim, owner)
    out = _summaries("retrieval/t2a", t2a, np.where(t2a <= MAP_AT, 1.0 / t2a, 0.0))

    hits = audio_to_text_hits(sim, owner)  # [A, C]
    best = hits.argmax(axis=1) + 1
    top = hits[:, :MAP_AT]
    precision = np.cumsum(top, axis=1) / np.arange(1, top.shape[1] + 1)  # own seen / rank
    ap = (precision * top).sum(axis=1) / hits.sum(axis=1)
    out |= _summaries("retrieval/a2t", best, ap)
    return dict(sorted(out.items()))
