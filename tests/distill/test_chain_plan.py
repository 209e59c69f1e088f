"""The chain plan: concepts' marginals as base + residual chains, against the table sums."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from hacd_graph.distill.chain_plan import ChainPlan, build_chain_plan


def table_sums(ancestors: Tensor, terms: Tensor) -> Tensor:
    """``[B, N]``: the sum of ``terms`` over each table row (the quantity the chains compute)."""
    valid = ancestors >= 0
    gathered = terms[:, ancestors.clamp(min=0)] * valid
    return gathered.sum(dim=2)


def descendant_sums(ancestors: Tensor, grads: Tensor) -> Tensor:
    """``[B, N]``: for every a, the sum of ``grads[c]`` over the rows c holding a."""
    out = torch.zeros_like(grads)
    valid = ancestors >= 0
    rows, cols = valid.nonzero(as_tuple=True)
    out.index_add_(1, ancestors[rows, cols], grads[:, rows])
    return out


def chain_sums(plan: ChainPlan, terms: Tensor) -> Tensor:
    """The forward chains, level by level, as a kernel runs them (positions, then concepts)."""
    slotted = torch.zeros(terms.shape[0], max(plan.num_slots, 1), dtype=terms.dtype)
    has_slot = plan.slot >= 0
    slotted[:, plan.slot[has_slot].long()] = terms[:, has_slot]
    terms = terms[:, plan.order.long()]  # everything else by position from here
    cumulative = torch.zeros_like(terms)
    starts = plan.level_start.tolist()
    for lo, hi in zip(starts[:-1], starts[1:], strict=True):
        positions = torch.arange(lo, hi)
        total = terms[:, positions]
        base = plan.base[positions].long()
        total = total + torch.where(base >= 0, cumulative[:, base.clamp(min=0)], 0.0)
        for k in range(plan.residual_t.shape[0]):
            entry = plan.residual_t[k, positions].long()
            total = total + torch.where(entry >= 0, slotted[:, entry.clamp(min=0)], 0.0)
        cumulative[:, positions] = total
    return cumulative[:, plan.position.long()]


def chain_gradients(plan: ChainPlan, grads: Tensor) -> Tensor:
    """The backward chains: T down the bases (deepest level first), then the residuals."""
    totals = grads[:, plan.order.long()].clone()  # by position
    starts = plan.level_start.tolist()
    for lo, hi in reversed(list(zip(starts[:-1], starts[1:], strict=True))[1:]):
        positions = torch.arange(lo, hi)
        totals.index_add_(1, plan.base[positions].long(), totals[:, positions])
    out = totals.clone()
    entries = plan.num_rdesc
    out.index_add_(1, plan.rdesc_a[:entries].long(), totals[:, plan.rdesc_c[:entries].long()])
    has = torch.zeros(plan.num_concepts, dtype=torch.int8)
    has[plan.order[plan.rdesc_a[:entries].long()].long()] = 1
    assert torch.equal(has, plan.has_rdesc)
    return out[:, plan.position.long()]


def check_plan(ancestors: Tensor) -> ChainPlan:
    plan = build_chain_plan(ancestors)
    num_concepts = ancestors.shape[0]
    generator = torch.Generator().manual_seed(0)
    terms = torch.rand(3, num_concepts, generator=generator, dtype=torch.float64)
    torch.testing.assert_close(chain_sums(plan, terms), table_sums(ancestors, terms))
    torch.testing.assert_close(chain_gradients(plan, terms), descendant_sums(ancestors, terms))
    # structure: levels contiguous, bases in earlier levels, segments by base
    assert torch.equal(plan.order[plan.position.long()].long(), torch.arange(num_concepts))
    starts = plan.level_start.tolist()
    for depth, (lo, hi) in enumerate(zip(starts[:-1], starts[1:], strict=True)):
        base = plan.base[lo:hi]
        if depth == 0:
            assert (base == -1).all()
        else:
            assert ((base >= starts[depth - 1]) & (base < lo)).all()
            assert (base[1:] >= base[:-1]).all()
    assert (plan.residual_count == (plan.residual_t >= 0).sum(dim=0)).all()
    assert torch.equal(plan.slot >= 0, plan.has_rdesc.bool())
    return plan


@pytest.mark.parametrize("max_parents", [1, 3, 6])
@pytest.mark.parametrize("shuffle_rows", [False, True])
def test_chains_reproduce_table_sums_on_random_dags(dag_table, max_parents, shuffle_rows):
    ancestors = dag_table(300, 12, max_parents=max_parents, seed=max_parents,
                          shuffle_rows=shuffle_rows)
    plan = check_plan(ancestors)
    assert plan.gathers_per_concept() < 3.0  # against 10+ table entries per row
    if max_parents == 1:  # a tree: every concept but the root chains on its parent
        assert plan.num_rdesc == 0 and plan.num_levels == int((ancestors >= 0).sum(1).max())


def test_chains_on_a_real_hierarchy():
    from hacd_graph.ach import build_ach

    ach = build_ach()
    plan = check_plan(ach.ancestor_table())
    assert plan.num_levels == ach.depth  # one level per level of the hierarchy
    assert plan.gathers_per_concept() < 1.2


@pytest.mark.parametrize("table", [
    [[0, -1, -1], [1, 0, -1], [2, 1, 1]],  # a repeated entry
    [[0, 1, -1], [1, 0, -1], [2, 1, 0]],  # a cycle 0 <-> 1
    [[0, -1, -1], [1, 0, -1], [2, 1, -1]],  # not closed: 2's row lacks 0
    [[0, -1], [1, -1], [2, 2]],  # no ancestors, one concept repeated
    [[0]],
])
def test_chains_are_exact_on_tables_that_are_not_hierarchies(table):
    check_plan(torch.tensor(table))


def test_empty_table():
    plan = build_chain_plan(torch.empty(0, 3, dtype=torch.int64))
    assert plan.num_concepts == 0 and plan.num_levels == 0
