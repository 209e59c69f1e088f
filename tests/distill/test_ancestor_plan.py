"""AncestorPlan: the table checked once, its chain plan built once and carried explicitly."""

from __future__ import annotations

import pytest
import torch

from hacd_graph.distill import AncestorPlan, hierarchical_distillation_loss
from hacd_graph.distill import ancestor_plan as ancestor_plan_module
from hacd_graph.distill import chain_plan as chain_plan_module
from tests.distill.conftest import make_logits


def test_the_chain_plan_is_built_once_per_plan_and_never_cached_elsewhere(dag_table,
                                                                          monkeypatch):
    built = []
    real = chain_plan_module.build_chain_plan
    monkeypatch.setattr(ancestor_plan_module, "build_chain_plan",
                        lambda table: built.append(table) or real(table))
    table = dag_table(40, 5, seed=3)
    plan = AncestorPlan.from_table(table)
    student, teacher = make_logits(3, 40)
    first = hierarchical_distillation_loss(student, teacher, plan, backend="cpu")
    second = hierarchical_distillation_loss(student, teacher, plan, backend="cpu")
    assert len(built) == 1 and plan.chains is plan.chains
    torch.testing.assert_close(first, second)
    # a plain table gets a fresh plan for its call only: nothing is remembered by id()
    hierarchical_distillation_loss(student, teacher, table, backend="cpu")
    hierarchical_distillation_loss(student, teacher, table, backend="cpu")
    assert len(built) == 3
    assert not [name for name, value in vars(chain_plan_module).items()
                if isinstance(value, dict) and not name.startswith("__")]


def test_a_plan_is_checked_once_and_a_bad_table_is_refused(dag_table):
    table = dag_table(7, 4).clone()
    table[3, 0] = 9
    with pytest.raises(ValueError, match=r"ancestors\[3, 0\] = 9 is out of range"):
        AncestorPlan.from_table(table)


def test_plan_to_moves_table_and_built_chains(dag_table):
    plan = AncestorPlan.from_table(dag_table(20, 4))
    assert plan.to("cpu") is plan
    assert "not built" in repr(plan)
    _ = plan.chains
    assert "chains built" in repr(plan)
    meta = plan.to("meta")
    assert meta.table.device.type == "meta" and meta.chains.order.device.type == "meta"


def test_a_plan_on_another_device_is_named():
    plan = AncestorPlan(torch.arange(3).unsqueeze(1).to("meta"))
    student, teacher = make_logits(2, 3)
    with pytest.raises(ValueError, match=r"AncestorPlan.to\(device\)"):
        hierarchical_distillation_loss(student, teacher, plan, backend="torch")


def test_from_hierarchy_uses_the_ancestor_table(tiny_ach):
    plan = AncestorPlan.from_hierarchy(tiny_ach)
    assert torch.equal(plan.table, tiny_ach.ancestor_table())
    student, teacher = make_logits(2, len(tiny_ach))
    torch.testing.assert_close(
        hierarchical_distillation_loss(student, teacher, plan, backend="torch"),
        hierarchical_distillation_loss(student, teacher, tiny_ach.ancestor_table(),
                                       backend="torch"))
