"""The descendant plan: the ancestor table inverted into sorted descendant segments."""

from __future__ import annotations

import torch

from hacd_graph.distill.descendant_plan import build_descendant_plan, descendant_plan


def test_descendant_plan_inverts_the_table(dag_table):
    ancestors = dag_table(60, 6, max_parents=3, seed=7, dtype=torch.int32)
    plan = build_descendant_plan(ancestors)
    assert plan.table_t.shape == (6, 60) and plan.table_t.dtype == torch.int32
    assert torch.equal(plan.table_t.t(), ancestors)
    expected = sorted((int(a), c) for c in range(60) for a in ancestors[c] if a >= 0)
    got = list(zip(plan.desc_a.tolist(), plan.desc_c.tolist(), strict=True))
    assert got == expected
    starts = [i for i, (a, _) in enumerate(expected) if i == 0 or expected[i - 1][0] != a]
    assert plan.desc_start.nonzero().flatten().tolist() == starts
    assert len(starts) == 60  # every concept has a segment (itself at least)


def test_descendant_plan_is_cached_per_table_and_version(dag_table):
    ancestors = dag_table(30, 5, seed=8).clone()
    before = descendant_plan(ancestors)
    assert descendant_plan(ancestors) is before
    ancestors[29] = -1  # an in-place edit must not reuse the old plan
    ancestors[29, 0] = 29
    after = descendant_plan(ancestors)
    assert after is not before and after.num_entries < before.num_entries
