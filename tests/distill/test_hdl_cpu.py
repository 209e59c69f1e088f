"""The C++ CPU backend against the reference: values and gradients, every dtype and size."""

from __future__ import annotations

import pytest
import torch

from hacd_graph.distill import AncestorPlan, hierarchical_distillation_loss
from hacd_graph.distill.chain_plan import build_chain_plan
from hacd_graph.distill.hdl_cpu import HDLFunction, extension_name, load_extension
from hacd_graph.distill.hdl_reference import hdl_reference
from tests.distill.conftest import (
    AWKWARD_SIZES,
    DTYPES,
    GRAD_TOLERANCE,
    LOSS_TOLERANCE,
    assert_close_scaled,
    check_against_reference,
    loss_and_grad,
    make_logits,
)


@pytest.fixture(scope="module")
def extension():
    module, reason = load_extension()
    if module is None:
        pytest.fail(reason)  # a compiler is part of the set-up: not building is a failure
    return module


@pytest.mark.parametrize("num_concepts", AWKWARD_SIZES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_cpu_matches_reference_sizes_and_dtypes(extension, dag_table, num_concepts, dtype):
    ancestors = dag_table(num_concepts, 12)
    student, teacher = make_logits(11, num_concepts, dtype)  # 11 rows: a partial 8-row block
    check_against_reference("cpu", student, teacher, ancestors, reduction="sum")


@pytest.mark.parametrize("reduction", ["batchmean", "sum", "none"])
@pytest.mark.parametrize("index_dtype", [torch.int32, torch.int64])
@pytest.mark.parametrize("dtype", DTYPES)
def test_cpu_matches_reference_reductions_weights_temperature(extension, dag_table, reduction,
                                                              index_dtype, dtype):
    ancestors = dag_table(1000, 16, max_parents=4, seed=1, dtype=index_dtype)
    student, teacher = make_logits(17, 1000, dtype, seed=2)
    weights = torch.rand(1000, generator=torch.Generator().manual_seed(3)) * 2
    check_against_reference("cpu", student, teacher, ancestors, weights, 2.5, reduction)


@pytest.mark.parametrize("reduction", ["batchmean", "none"])
def test_cpu_chains_on_a_tree_match_reference(extension, dag_table, reduction):
    tree = dag_table(1000, 10, max_parents=1, seed=4)
    plan = build_chain_plan(tree)  # what the kernel walks: one gather per concept but the root
    assert (int((plan.base >= 0).sum()), plan.num_rdesc) == (999, 0)
    student, teacher = make_logits(9, 1000, seed=5)
    check_against_reference("cpu", student, teacher, tree, torch.rand(1000), 0.7, reduction)


@pytest.mark.parametrize("table", [
    [[0, -1, -1], [1, 0, -1], [2, 1, 1]],  # a repeated entry
    [[0, 1, -1], [1, 0, -1], [2, 1, 0]],  # a cycle 0 <-> 1
    [[0, -1, -1], [1, 0, -1], [2, 1, -1]],  # not closed: 2's row lacks 0
    [[0, -1], [1, -1], [2, 2]],  # no ancestors, one concept repeated
])
def test_cpu_tables_that_are_not_hierarchies(extension, table):
    """Repeats, cycles and rows not closed under ancestors get fewer chains, same loss."""
    student, teacher = make_logits(9, 3, seed=6)
    check_against_reference("cpu", student, teacher, torch.tensor(table), reduction="none")


@pytest.mark.parametrize("batch", [1, 8, 13])
def test_cpu_batch_sizes_and_flat_table(extension, batch):
    student, teacher = make_logits(batch, 7)
    check_against_reference("cpu", student, teacher, torch.arange(7).unsqueeze(1))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("reduction", ["batchmean", "sum", "none"])
def test_scalar_kernel_matches_reference(extension, dag_table, dtype, reduction):
    """The portable kernel CPUs without AVX2 run, checked here whatever this CPU has."""
    ancestors = dag_table(1000, 12)
    student, teacher = make_logits(5, 1000, dtype)
    weights = torch.rand(1000, dtype=dtype)
    ref = hierarchical_distillation_loss(student, teacher, ancestors, weights, 1.3, reduction,
                                         backend="torch")
    loss, grad = extension.hdl_fused_cpu_scalar(student, teacher, ancestors, weights, 1.3,
                                                {"none": 0, "sum": 1, "batchmean": 2}[reduction],
                                                None, True, reduction != "none")
    assert_close_scaled(loss, ref, GRAD_TOLERANCE[dtype], "scalar loss")
    if reduction != "none":
        leaf = student.clone().requires_grad_(True)
        hierarchical_distillation_loss(leaf, teacher, ancestors, weights, 1.3, reduction,
                                       backend="torch").backward()
        assert_close_scaled(grad, leaf.grad, GRAD_TOLERANCE[dtype], "scalar gradient")


@pytest.mark.parametrize("reduction", ["batchmean", "sum", "none"])
def test_cpu_gradcheck_float64(extension, dag_table, reduction):
    ancestors = dag_table(9, 4)
    student, teacher = make_logits(3, 9, torch.float64)
    weights = torch.rand(9, dtype=torch.float64) + 0.5
    assert torch.autograd.gradcheck(
        lambda z: hierarchical_distillation_loss(z, teacher, ancestors, weights, 1.5, reduction,
                                                 backend="cpu"),
        (student.requires_grad_(True),),
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_cpu_logits_up_to_100_stay_finite_and_right(extension, dag_table, dtype):
    """At |z| = 100 float32 needs subnormals and a scaled gradient; compare with float64."""
    ancestors = dag_table(60, 6)
    signs = torch.randint(0, 2, (9, 60), generator=torch.Generator().manual_seed(0)) * 2 - 1
    mixed = torch.randn(9, 60, generator=torch.Generator().manual_seed(1)) * 100
    for student64, teacher64 in ((100.0 * signs, -100.0 * signs), (mixed, mixed.flip(0))):
        student64, teacher64 = student64.double(), teacher64.double().clamp(-100, 100)
        student64 = student64.clamp(-100, 100)
        expected = hierarchical_distillation_loss(student64.requires_grad_(True), teacher64,
                                                  ancestors, reduction="sum", backend="torch")
        expected.backward()
        student = student64.detach().to(dtype).requires_grad_(True)
        loss = hierarchical_distillation_loss(student, teacher64.to(dtype), ancestors,
                                              reduction="sum", backend="cpu")
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(student.grad).all()
        assert_close_scaled(loss, expected, 1e-4 if dtype == torch.float32 else 2e-2, "loss")
        assert_close_scaled(student.grad, student64.grad,
                            1e-4 if dtype == torch.float32 else 2e-2, "grad")


def test_cpu_nan_logits_propagate(extension, dag_table):
    ancestors = dag_table(7, 4, shuffle_rows=False)
    student, teacher = make_logits(9, 7)
    teacher[4, 0] = float("nan")
    elements = hierarchical_distillation_loss(student, teacher, ancestors, reduction="none",
                                              backend="cpu")
    assert torch.isnan(elements[4]).all()
    assert torch.isfinite(elements[torch.arange(9) != 4]).all()
    assert torch.isnan(hierarchical_distillation_loss(student, teacher, ancestors,
                                                      backend="cpu"))


def test_cpu_backward_scales_and_survives_retained_graphs(extension, dag_table):
    ancestors = dag_table(100, 6)
    student, teacher = make_logits(10, 100)
    leaf = student.clone().requires_grad_(True)
    loss = hierarchical_distillation_loss(leaf, teacher, ancestors, backend="cpu")
    (3 * loss).backward(retain_graph=True)
    first = leaf.grad.clone()
    loss.backward()  # second pass through the retained graph recomputes the gradient
    torch.testing.assert_close(leaf.grad, first * 4 / 3)
    ref = student.clone().requires_grad_(True)
    hierarchical_distillation_loss(ref, teacher, ancestors, backend="torch").backward()
    assert_close_scaled(first, 3 * ref.grad, 2e-5, "scaled gradient")


def test_cpu_without_grad_skips_the_gradient(extension, dag_table):
    ancestors = dag_table(100, 6)
    student, teacher = make_logits(4, 100)
    calls = []

    class Recording:  # the extension, with each call's compute_grad recorded
        def hdl_fused(self, *args):
            calls.append(args[8])
            return extension.hdl_fused(*args)

    with torch.no_grad():
        loss = HDLFunction.apply(Recording(), student, teacher, AncestorPlan.from_table(ancestors),
                                 None, 1.0, "batchmean")
        public = hierarchical_distillation_loss(student, teacher, ancestors, backend="cpu")
    assert calls == [False]  # one call, and it did not compute the gradient
    assert loss.grad_fn is None and public.grad_fn is None
    expected = hdl_reference(student.double(), teacher.double(), ancestors)
    assert_close_scaled(loss, expected, LOSS_TOLERANCE[torch.float32], "loss without grad")
    torch.testing.assert_close(public, loss)


def test_extension_name_hashes_the_sources():
    name = extension_name()
    assert name.startswith("hacd_hdl_cpu_") and name == extension_name()


def test_extension_reports_its_isa(extension):
    with open("/proc/cpuinfo") as info:
        flags = next((line.split(":", 1)[1].split() for line in info
                      if line.startswith("flags")), [])
    expected = "avx2" if {"avx2", "fma", "f16c"} <= set(flags) else "scalar"
    assert extension.cpu_isa() == expected
    assert extension.WITH_CUDA is False


def test_extension_rejects_bad_arguments(extension, dag_table):
    ancestors = dag_table(7, 4)
    student, teacher = make_logits(2, 7)
    with pytest.raises(RuntimeError, match="needs grad_output"):
        extension.hdl_fused(student, teacher, ancestors, None, 1.0, 0, None, True, True)
    with pytest.raises(RuntimeError, match="one dtype"):
        extension.hdl_fused(student, teacher.double(), ancestors, None, 1.0, 1, None, True, True)
    with pytest.raises(RuntimeError, match="contiguous"):
        extension.hdl_fused(student.t().contiguous().t(), teacher, ancestors, None, 1.0, 1, None,
                            True, True)


@pytest.mark.slow
@pytest.mark.parametrize("num_concepts", [32768, 100_000])
def test_cpu_matches_reference_large_n(extension, dag_table, num_concepts):
    """Against the float64 reference: at N = 100,000 the root's gradient sums 100,000 terms,
    and the float32 reference's own error there (2.5e-4 of 5.5) exceeds the tolerance."""
    ancestors = dag_table(num_concepts, 16)
    student, teacher = make_logits(9, num_concepts)
    loss, grad = loss_and_grad("cpu", student, teacher, ancestors, None, 1.0, "batchmean")
    exact_loss, exact_grad = loss_and_grad("torch", student.double(), teacher.double(),
                                           ancestors, None, 1.0, "batchmean")
    assert_close_scaled(loss, exact_loss, LOSS_TOLERANCE[torch.float32], "cpu loss")
    assert_close_scaled(grad, exact_grad, GRAD_TOLERANCE[torch.float32], "cpu gradient")
