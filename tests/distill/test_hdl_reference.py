"""The plain PyTorch formulations: the definition checked by hand, and sparse == eager."""

from __future__ import annotations

import math

import pytest
import torch

from hacd_graph.distill.hdl_reference import (
    ancestor_matrix,
    binary_kl_of_marginals,
    hdl_reference,
    hdl_sparse,
)
from tests.distill.conftest import GRAD_TOLERANCE, LOSS_TOLERANCE, assert_close_scaled, make_logits


def _by_hand(student, teacher, ancestors, weights, temperature):
    """The loss elements from the formula, one concept and row at a time, in float64."""
    batch, num_concepts = student.shape
    out = torch.zeros(batch, num_concepts, dtype=torch.float64)
    for b in range(batch):
        for c in range(num_concepts):
            row = [int(a) for a in ancestors[c] if a >= 0]
            q = math.prod(1 / (1 + math.exp(-float(student[b, a]) / temperature)) for a in row)
            p = math.prod(1 / (1 + math.exp(-float(teacher[b, a]) / temperature)) for a in row)
            kl = p * math.log(p / q) + (1 - p) * math.log((1 - p) / (1 - q))
            out[b, c] = temperature**2 * float(weights[c]) * kl
    return out


def test_reference_matches_the_formula_by_hand():
    ancestors = torch.tensor([[0, -1, -1], [1, 0, -1], [2, 0, -1], [3, 1, 2], [0, 4, -1]])
    # concept 3 has two parents (1 and 2); concept 4's row lists itself second
    ancestors[3] = torch.tensor([3, 1, 2])
    ancestors = torch.tensor([[0, -1, -1, -1], [1, 0, -1, -1], [2, 0, -1, -1], [3, 1, 2, 0],
                              [0, 4, -1, -1]])
    student, teacher = make_logits(3, 5, torch.float64, scale=2.0)
    weights = torch.tensor([1.0, 0.5, 2.0, 1.5, 0.25], dtype=torch.float64)
    expected = _by_hand(student, teacher, ancestors, weights, 1.7)
    got = hdl_reference(student, teacher, ancestors, weights, 1.7, "none")
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(hdl_reference(student, teacher, ancestors, weights, 1.7, "sum"),
                               expected.sum())
    torch.testing.assert_close(
        hdl_reference(student, teacher, ancestors, weights, 1.7, "batchmean"), expected.sum() / 3
    )


def test_binary_kl_is_zero_for_equal_marginals_and_for_a_saturated_pair():
    ls = torch.tensor([-0.3, -5.0, 0.0])
    ms = torch.log(-torch.expm1(ls))  # log(1 - q); -inf at q = 1
    assert torch.all(binary_kl_of_marginals(ls, ls, ms, ms) == 0)
    # teacher certain (1 - p == 0) and the student not: finite, = -log q
    student, teacher = torch.tensor([-2.0]), torch.tensor([0.0])
    got = binary_kl_of_marginals(student, teacher, torch.log(-torch.expm1(student)),
                                 torch.tensor([-math.inf]))
    torch.testing.assert_close(got, torch.tensor([2.0]))


def test_ancestor_matrix_has_one_entry_per_valid_table_entry():
    ancestors = torch.tensor([[0, -1], [1, 0], [2, 1]])
    dense = ancestor_matrix(ancestors).to_dense()
    expected = torch.tensor([[1.0, 0, 0], [1, 1, 0], [0, 1, 1]])
    torch.testing.assert_close(dense, expected)


@pytest.mark.parametrize("num_concepts", [1, 7, 1000])
@pytest.mark.parametrize("reduction", ["batchmean", "sum", "none"])
def test_sparse_matches_eager(dag_table, num_concepts, reduction):
    ancestors = dag_table(num_concepts, 8)
    student, teacher = make_logits(5, num_concepts, torch.float64)
    weights = torch.rand(num_concepts, dtype=torch.float64)
    results = []
    for function in (hdl_reference, hdl_sparse):
        leaf = student.clone().requires_grad_(True)
        loss = function(leaf, teacher, ancestors, weights, 2.0, reduction)
        loss.backward(torch.ones_like(loss) if reduction != "none" else teacher.cos())
        results.append((loss.detach(), leaf.grad))
    assert_close_scaled(results[1][0], results[0][0], LOSS_TOLERANCE[torch.float64], "loss")
    assert_close_scaled(results[1][1], results[0][1], GRAD_TOLERANCE[torch.float64], "grad")


def test_reference_gradcheck_float64(dag_table):
    ancestors = dag_table(9, 4)
    student, teacher = make_logits(3, 9, torch.float64)
    weights = torch.rand(9, dtype=torch.float64) + 0.5
    for reduction in ("batchmean", "none"):
        assert torch.autograd.gradcheck(
            lambda z, r=reduction: hdl_reference(z, teacher, ancestors, weights, 1.5, r),
            (student.requires_grad_(True),),
        )


def test_reference_teacher_gets_no_gradient(dag_table):
    ancestors = dag_table(7, 4)
    student, teacher = make_logits(2, 7)
    teacher.requires_grad_(True)
    hdl_reference(student.requires_grad_(True), teacher, ancestors).backward()
    assert teacher.grad is None


@pytest.mark.parametrize("function", [hdl_reference, hdl_sparse])
def test_float32_at_100_matches_float64_per_entry(dag_table, function):
    """float32 losses and autograd gradients at |z| = 100 (every factor saturated, the
    log-marginals round to 0): the float64 values, entry by entry."""
    from hacd_graph.distill.hdl_check import float32_rtol, float64_reference, worst_error

    ancestors = dag_table(50, 6)
    signs = torch.randint(0, 2, (4, 50), generator=torch.Generator().manual_seed(0)) * 2 - 1
    student = (100.0 * signs.float()).requires_grad_(True)
    teacher = -100.0 * signs.float()
    loss = function(student, teacher, ancestors, reduction="none")
    (grad,) = torch.autograd.grad(loss.sum(), student)
    exact = float64_reference(student, teacher, ancestors, None, 1.0, torch.ones(4, 50))
    rtol = float32_rtol(100.0)
    assert worst_error(loss, exact.loss, exact.loss_scale, torch.float32, rtol)[0] <= 1
    assert worst_error(grad, exact.grad, exact.grad_scale, torch.float32, rtol)[0] <= 1
