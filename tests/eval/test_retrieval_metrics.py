"""Retrieval metrics: perfect and hand-computed cases for every key, pessimistic ties, the
mAP@10 cut-off, chance level on random scores, input checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hacd_graph.errors import UserError
from hacd_graph.eval.retrieval_metrics import retrieval_scores

KEYS = {f"retrieval/{d}/{m}" for d in ("a2t", "t2a")
        for m in ("R@1", "R@5", "R@10", "mAP@10", "median_rank")}


def test_perfect_similarity_scores_one_everywhere():
    owner = np.repeat(np.arange(7), 5)
    sim = (owner[None, :] == np.arange(7)[:, None]).astype(float)
    out = retrieval_scores(sim, owner)
    assert set(out) == KEYS
    for key, value in out.items():
        assert value == 1.0, key


# 3 clips x 2 captions; caption j belongs to clip OWNER[j].
OWNER = [0, 0, 1, 1, 2, 2]
SIM = np.array([
    [0.9, 0.1, 0.5, 0.2, 0.3, 0.4],
    [0.2, 0.8, 0.7, 0.3, 0.1, 0.0],
    [0.1, 0.7, 0.6, 0.1, 0.2, 0.9],
])


def test_hand_computed_small_case():
    out = retrieval_scores(SIM, OWNER)
    # t2a ranks of the own clip per caption: [1, 3, 1, 1, 2, 1]
    assert out["retrieval/t2a/R@1"] == pytest.approx(4 / 6)
    assert out["retrieval/t2a/R@5"] == 1.0 and out["retrieval/t2a/R@10"] == 1.0
    assert out["retrieval/t2a/mAP@10"] == pytest.approx((1 + 1 / 3 + 1 + 1 + 1 / 2 + 1) / 6)
    assert out["retrieval/t2a/median_rank"] == 1.0
    # a2t own-caption positions: clip 0 at 1 and 6, clip 1 at 2 and 3, clip 2 at 1 and 4
    assert out["retrieval/a2t/R@1"] == pytest.approx(2 / 3)
    assert out["retrieval/a2t/R@5"] == 1.0 and out["retrieval/a2t/R@10"] == 1.0
    ap = [(1 + 2 / 6) / 2, (1 / 2 + 2 / 3) / 2, (1 + 2 / 4) / 2]
    assert out["retrieval/a2t/mAP@10"] == pytest.approx(np.mean(ap))
    assert out["retrieval/a2t/median_rank"] == 1.0


def test_torch_input_and_shuffled_captions_give_the_same_scores():
    perm = np.array([3, 0, 5, 1, 4, 2])
    base = retrieval_scores(SIM, OWNER)
    shuffled = retrieval_scores(torch.tensor(SIM[:, perm], dtype=torch.float32),
                                [OWNER[p] for p in perm])
    for key in KEYS:
        assert shuffled[key] == pytest.approx(base[key]), key


def test_ties_rank_pessimistically():
    owner = np.repeat(np.arange(4), 2)
    out = retrieval_scores(np.zeros((4, 8)), owner)
    assert out["retrieval/t2a/median_rank"] == 4  # every clip ties: the own one ranks last
    assert out["retrieval/a2t/median_rank"] == 7  # own captions after the 6 others
    assert out["retrieval/t2a/R@1"] == 0.0 and out["retrieval/a2t/R@1"] == 0.0
    # a2t mAP: own captions at 7 and 8 -> (1/7 + 2/8) / 2
    assert out["retrieval/a2t/mAP@10"] == pytest.approx((1 / 7 + 2 / 8) / 2)
    assert out["retrieval/t2a/mAP@10"] == pytest.approx(1 / 4)


def test_map_at_10_ignores_ranks_beyond_10():
    a, per = 12, 2
    owner = np.repeat(np.arange(a), per)
    sim = np.zeros((a, a * per))
    # clip 0: own captions rank 1 and last (10 others at 0.5 in between); others perfect
    sim[owner[None, :] == np.arange(a)[:, None]] = 1.0
    sim[0, 1] = -1.0
    sim[0, 2:12] = 0.5
    out = retrieval_scores(sim, owner)
    ap0 = (1 + 0) / 2  # the second own caption is outside the top 10
    assert out["retrieval/a2t/mAP@10"] == pytest.approx((ap0 + (a - 1)) / a)
    assert out["retrieval/a2t/R@1"] == 1.0  # best rank counts for recall


def test_random_similarity_is_near_chance():
    rng = np.random.default_rng(0)
    a, per = 300, 5
    owner = np.repeat(np.arange(a), per)
    out = retrieval_scores(rng.standard_normal((a, a * per)), owner)
    for k in (1, 5, 10):  # within 3 standard errors of chance
        p = k / a
        assert out[f"retrieval/t2a/R@{k}"] == pytest.approx(p, abs=3 * np.sqrt(p / (a * per)))
        p = 1 - np.prod([(a * per - per - i) / (a * per - i) for i in range(k)])
        assert out[f"retrieval/a2t/R@{k}"] == pytest.approx(p, abs=3 * np.sqrt(p / a))
    assert out["retrieval/t2a/median_rank"] == pytest.approx(a / 2, rel=0.15)
    assert out["retrieval/t2a/mAP@10"] < 0.03 and out["retrieval/a2t/mAP@10"] < 0.03


@pytest.mark.parametrize(
    ("sim", "owner", "match"),
    [
        (np.zeros(6), OWNER, "must be \\[audio, caption\\]"),
        (SIM, OWNER[:5], "6 captions .* but 5 caption owners"),
        (SIM, [0, 0, 1, 1, 2, 3], "must lie in \\[0, 3\\)"),
        (SIM, [0, 0, 1, 1, 1, 1], "clip 2 has no caption"),
        (SIM, [0.0, 0, 1, 1, 2, 2], "integer"),
        (np.where(SIM > 0.8, np.nan, SIM), OWNER, "NaN"),
    ],
)
def test_bad_inputs_raise_user_error(sim, owner, match):
    with pytest.raises(UserError, match=match):
        retrieval_scores(sim, owner)


def test_matches_a_per_query_loop_on_random_scores():
    rng = np.random.default_rng(1)
    a, per = 23, 3
    owner = np.repeat(np.arange(a), per)
    sim = rng.standard_normal((a, a * per)) + 1.5 * (owner[None, :] == np.arange(a)[:, None])
    t2a = [1 + int(np.flatnonzero(np.argsort(-sim[:, j]) == owner[j])[0])
           for j in range(a * per)]
    best, ap = [], []
    for i in range(a):
        own = np.isin(np.argsort(-sim[i]), np.flatnonzero(owner == i))
        ranks = 1 + np.flatnonzero(own)  # ascending positions of the own captions
        best.append(ranks[0])
        ap.append(sum((n + 1) / r for n, r in enumerate(ranks) if r <= 10) / per)
    out = retrieval_scores(sim, owner)
    for k in (1, 5, 10):
        assert out[f"retrieval/t2a/R@{k}"] == pytest.approx(np.mean(np.array(t2a) <= k))
        assert out[f"retrieval/a2t/R@{k}"] == pytest.approx(np.mean(np.array(best) <= k))
    assert out["retrieval/t2a/mAP@10"] == pytest.approx(np.mean([1 / r if r <= 10 else 0
                                                                   for r in t2a]))
    assert out["retrieval/a2t/mAP@10"] == pytest.approx(np.mean(ap))
    assert out["retrieval/t2a/median_rank"] == np.median(t2a)
    assert out["retrieval/a2t/median_rank"] == np.median(best)
