"""Cases of the Triton backend against the reference, run by Triton's interpreter.

Not collected by itself (the name does not start with ``test_``):
``tests/distill/test_hdl_triton.py`` runs this file in a subprocess with
``TRITON_INTERPRET=1``, because ``triton.jit`` (Triton's own library functions included)
reads that variable when a module is imported, so it must be set before anything imports
Triton. To run it directly: ``TRITON_INTERPRET=1 python -m pytest
tests/distill/hdl_triton_cases.py``. The interpreter executes each program in NumPy,
slowly: batches are small, and the larger size is marked slow. On a GPU the same checks run
in ``benchmarks/gpu_check.py``.
"""

from __future__ import annotations

import pytest
import torch

from hacd_graph.distill import hierarchical_distillation_loss
from hacd_graph.distill.chain_plan import build_chain_plan
from hacd_graph.distill.hdl_reference import hdl_reference
from tests.distill.conftest import (
    DTYPES,
    GRAD_TOLERANCE,
    LOSS_TOLERANCE,
    assert_close_scaled,
    check_against_reference,
    make_logits,
)
from tests.distill.test_hdl_extreme import CASES, SCALES, check_backends

# The interpreter evaluates both sides of every tl.where in NumPy, which warns about the
# overflow in the side that is not taken.
pytestmark = [pytest.mark.triton, pytest.mark.filterwarnings("ignore::RuntimeWarning")]


@pytest.fixture(scope="module")
def hdl_triton():
    """``hacd_graph.distill.hdl_triton``, whose kernel must be running in the interpreter."""
    from hacd_graph.distill import hdl_triton as module

    reason = module.unavailable_reason(torch.device("cpu"))
    if reason is not None:
        pytest.fail(f"{reason}; run these cases through tests/distill/test_hdl_triton.py")
    return module


@pytest.mark.parametrize("num_concepts,width", [(1, 1), (7, 3), (1000, 8)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_triton_matches_reference_sizes_and_dtypes(hdl_triton, dag_table, num_concepts, width,
                                                   dtype):
    ancestors = dag_table(num_concepts, width)
    student, teacher = make_logits(2, num_concepts, dtype)
    check_against_reference("triton", student, teacher, ancestors, reduction="sum")


@pytest.mark.parametrize("reduction,index_dtype", [("batchmean", torch.int32),
                                                   ("sum", torch.int64),
                                                   ("none", torch.int32)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_triton_matches_reference_reductions_weights_temperature(hdl_triton, dag_table,
                                                                 reduction, index_dtype, dtype):
    ancestors = dag_table(97, 10, max_parents=4, seed=1, dtype=index_dtype)
    student, teacher = make_logits(3, 97, dtype, seed=2)
    weights = torch.rand(97, generator=torch.Generator().manual_seed(3)) * 2
    check_against_reference("triton", student, teacher, ancestors, weights, 2.5, reduction)


def test_triton_tree_and_flat_tables(hdl_triton, dag_table):
    tree = dag_table(200, 9, max_parents=1, seed=4)
    student, teacher = make_logits(2, 200, seed=5)
    check_against_reference("triton", student, teacher, tree, torch.rand(200), 0.7, "none")
    student, teacher = make_logits(5, 7, seed=6)
    check_against_reference("triton", student, teacher, torch.arange(7).unsqueeze(1))


def _extreme_matrix() -> list:
    """float32: every case at |z| <= 100, 1e3, 1e4 on a tree and a DAG; 16-bit: every case at
    100 and 1e4 on a DAG. The interpreter is slow: the default run keeps the saturated and
    mixed float32 cases at 1e4 (T = 0.5) on the DAG, the rest is marked slow."""
    params = [(torch.float32, case, m, t, h) for case in CASES for m, t in SCALES[::2]
              for h in ("tree", "dag")]
    params += [(dtype, case, m, t, "dag") for dtype in (torch.bfloat16, torch.float16)
               for case in CASES for m, t in SCALES[::4]]
    return [pytest.param(*p, marks=() if p[0] == torch.float32 and p[2] == 1e4
                         and p[4] == "dag" and p[1] in ("mixed", "saturated")
                         else pytest.mark.slow) for p in params]


@pytest.mark.parametrize(("dtype", "case", "magnitude", "temperature", "hierarchy"),
                         _extreme_matrix())
def test_triton_extreme_logits_match_float64_per_entry(hdl_triton, dtype, case, magnitude,
                                                       temperature, hierarchy):
    """The matrix of ``test_hdl_extreme.py`` (|z| up to 1e4, T 0.5 to 4, saturated and
    mixed-sign, trees and many-parent DAGs), per entry against float64."""
    check_backends(("triton",), dtype, case, magnitude, temperature, hierarchy)


def test_triton_nan_logits_propagate(hdl_triton):
    ancestors = torch.tensor([[0, -1], [1, 0], [2, 0]])
    student, teacher = make_logits(2, 3)
    student[0, 1] = float("nan")
    loss = hierarchical_distillation_loss(student, teacher, ancestors, reduction="none",
                                          backend="triton")
    assert torch.isnan(loss[0, 1]) and torch.isfinite(loss[0, [0, 2]]).all()
    assert torch.isfinite(loss[1]).all()


def test_triton_scaled_loss_backward(hdl_triton, dag_table):
    """backward scales the fused gradient by the incoming one (loss * 3)."""
    ancestors = dag_table(50, 5, seed=11)
    student, teacher = make_logits(4, 50, seed=12)
    grads = []
    for backend in ("triton", "torch"):
        leaf = student.clone().requires_grad_(True)
        (hierarchical_distillation_loss(leaf, teacher, ancestors, backend=backend) * 3).backward()
        grads.append(leaf.grad)
    assert_close_scaled(grads[0], grads[1], GRAD_TOLERANCE[torch.float32], "gradient of 3 L")


@pytest.mark.parametrize("rows", [1, 2, 4])
def test_triton_no_grad_and_chunked_rows(hdl_triton, dag_table, rows):
    """A small launch config forces several chunks per row and per descendant list; 3 rows
    in blocks of 1, 2 (one partial block) and 4 (one block, a row past B) per program."""
    ancestors = dag_table(150, 7, seed=13)
    student, teacher = make_logits(3, 150, seed=14)
    plan = build_chain_plan(ancestors)
    config = hdl_triton.TritonLaunchConfig(rows=rows, block_c=32, block_e=16, num_warps=1)
    loss, grad = hdl_triton.hdl_rows(student, teacher, plan, None, 1.3, hdl_triton.LOSS_PER_ROW,
                                     1.0, config=config)
    leaf = student.clone().requires_grad_(True)
    expected = hdl_reference(leaf, teacher, ancestors, temperature=1.3, reduction="sum")
    expected.backward()
    assert_close_scaled(loss.sum(), expected, LOSS_TOLERANCE[torch.float32], "chunked loss")
    assert_close_scaled(grad, leaf.grad, GRAD_TOLERANCE[torch.float32], "chunked gradient")
    with torch.no_grad():
        value = hierarchical_distillation_loss(student, teacher, ancestors, temperature=1.3,
                                               backend="triton")
    assert_close_scaled(value, expected / 3, LOSS_TOLERANCE[torch.float32], "no-grad loss")


@pytest.mark.slow
@pytest.mark.parametrize("dtype", DTYPES)
def test_triton_matches_reference_large(hdl_triton, dag_table, dtype):
    ancestors = dag_table(4099, 16, max_parents=4, seed=15)
    student, teacher = make_logits(2, 4099, dtype, seed=16)
    check_against_reference("triton", student, teacher, ancestors, torch.rand(4099), 1.5,
                            "batchmean")


def test_triton_second_backward_through_a_retained_graph(hdl_triton, dag_table):
    """The first backward scales the forward's gradient in place; a second one recomputes."""
    ancestors = dag_table(60, 6, seed=21)
    student, teacher = make_logits(3, 60, seed=22)
    leaf = student.clone().requires_grad_(True)
    loss = hierarchical_distillation_loss(leaf, teacher, ancestors, backend="triton")
    (3 * loss).backward(retain_graph=True)
    first, leaf.grad = leaf.grad, None
    loss.backward()
    exact = student.clone().requires_grad_(True)
    hdl_reference(exact, teacher, ancestors).backward()
    tolerance = GRAD_TOLERANCE[torch.float32]
    assert_close_scaled(first, 3 * exact.grad, tolerance, "gradient of 3 L")
    assert_close_scaled(leaf.grad, exact.grad, tolerance, "gradient of L, second backward")
