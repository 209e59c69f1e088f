"""The public HDL function: input checks, edge cases, and the backend registry."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from hacd_graph.distill import hdl as hdl_module
from hacd_graph.distill import hierarchical_distillation_loss
from hacd_graph.distill.hdl import AUTO_ORDER, BACKENDS, resolve_backend
from tests.distill.conftest import check_against_reference, make_logits

PURE_BACKENDS = ("torch", "sparse")


def _with_entry(table, row, col, value):
    table = table.clone()
    table[row, col] = value
    return table


@pytest.fixture
def inputs(dag_table):
    ancestors = dag_table(7, 4)
    student, teacher = make_logits(3, 7)
    return student, teacher, ancestors


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (lambda s, t, a: (s[0], t, a), ValueError, r"student_logits must be \[B, N\]"),
        (lambda s, t, a: (s, t[:, :6], a), ValueError, "teacher_logits has shape"),
        (lambda s, t, a: (s.long(), t, a), TypeError, "student_logits must be float16"),
        (lambda s, t, a: (s, t.int(), a), TypeError, "teacher_logits must be float16"),
        (lambda s, t, a: (s, t, a[:6]), ValueError, r"ancestors must be \[N, K\] with N = 7"),
        (lambda s, t, a: (s, t, a[:, :0]), ValueError, "K >= 1"),
        (lambda s, t, a: (s, t, a.float()), TypeError, "ancestors must be int32 or int64"),
        (lambda s, t, a: (s, t, _with_entry(a, 2, 3, 7)), ValueError,
         r"ancestors\[2, 3\] = 7 is out of range"),
        (lambda s, t, a: (s, t, _with_entry(a, 1, 0, -2)), ValueError,
         r"ancestors\[1, 0\] = -2 is out of range"),
        (lambda s, t, a: (s, t, a.where(a != 3, -1)), ValueError,
         "row 3 of the ancestor table does not contain concept 3"),
        (lambda s, t, a: (s, t, [[0]]), TypeError, "ancestors must be a torch.Tensor"),
    ],
)
def test_bad_inputs_get_clear_errors(inputs, change, error, match):
    student, teacher, ancestors = change(*inputs)
    with pytest.raises(error, match=match):
        hierarchical_distillation_loss(student, teacher, ancestors, backend="torch")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"temperature": 0.0}, ValueError, "temperature must be finite and > 0"),
        ({"temperature": -1.0}, ValueError, "temperature must be finite and > 0"),
        ({"temperature": float("nan")}, ValueError, "temperature must be finite"),
        ({"temperature": "1"}, TypeError, "temperature must be a float"),
        ({"reduction": "mean"}, ValueError, "reduction must be one of"),
        ({"weights": torch.ones(6)}, ValueError, r"weights must be a \[N\] = \[7\] tensor"),
        ({"weights": torch.ones(7, dtype=torch.long)}, TypeError, "weights must be a floating"),
        ({"weights": [1.0] * 7}, ValueError, r"weights must be a \[N\] = \[7\] tensor"),
        ({"backend": "fortran"}, ValueError, "unknown HDL backend 'fortran'"),
    ],
)
def test_bad_arguments_get_clear_errors(inputs, kwargs, error, match):
    with pytest.raises(error, match=match):
        hierarchical_distillation_loss(*inputs, **kwargs)


def test_gpu_backends_on_cpu_tensors_say_why(inputs):
    with pytest.raises(RuntimeError, match="'cuda'"):
        hierarchical_distillation_loss(*inputs, backend="cuda")


@pytest.mark.parametrize("backend", PURE_BACKENDS)
@pytest.mark.parametrize("reduction", ["batchmean", "sum", "none"])
def test_empty_batch(dag_table, backend, reduction):
    ancestors = dag_table(7, 4)
    student = torch.zeros(0, 7, requires_grad=True)
    loss = hierarchical_distillation_loss(student, torch.zeros(0, 7), ancestors,
                                          reduction=reduction, backend=backend)
    assert loss.shape == ((0, 7) if reduction == "none" else ())
    if reduction != "none":
        assert loss.item() == 0.0
        loss.backward()
        assert student.grad.shape == (0, 7)


@pytest.mark.parametrize("backend", PURE_BACKENDS)
def test_flat_hierarchy_k1_is_a_sum_of_binary_kls(backend):
    student, teacher = make_logits(4, 6, torch.float64)
    ancestors = torch.arange(6).unsqueeze(1)
    loss = hierarchical_distillation_loss(student, teacher, ancestors, reduction="sum",
                                          backend=backend)
    p, q = torch.sigmoid(teacher), torch.sigmoid(student)
    expected = (p * (p / q).log() + (1 - p) * ((1 - p) / (1 - q)).log()).sum()
    torch.testing.assert_close(loss, expected)


def test_mixed_dtypes_compute_in_the_promoted_dtype(dag_table):
    ancestors = dag_table(7, 4)
    student, teacher = make_logits(3, 7)
    loss = hierarchical_distillation_loss(student.bfloat16(), teacher.half(), ancestors,
                                          backend="torch")
    expected = hierarchical_distillation_loss(student.bfloat16().float(),
                                              teacher.half().float(), ancestors, backend="torch")
    assert loss.dtype == torch.bfloat16
    torch.testing.assert_close(loss.float(), expected, rtol=1e-2, atol=0)


@pytest.mark.parametrize("backend", PURE_BACKENDS)
def test_teacher_is_a_constant(inputs, backend):
    student, teacher, ancestors = inputs
    student.requires_grad_(True)
    teacher.requires_grad_(True)
    hierarchical_distillation_loss(student, teacher, ancestors, backend=backend).backward()
    assert teacher.grad is None and student.grad is not None


@pytest.mark.parametrize("backend", PURE_BACKENDS)
def test_nan_logits_propagate(inputs, backend):
    student, teacher, ancestors = inputs
    student[1, 0] = float("nan")  # concept 0 is the root: every concept of row 1 sees it
    assert torch.isnan(hierarchical_distillation_loss(student, teacher, ancestors,
                                                      backend=backend))
    elements = hierarchical_distillation_loss(student, teacher, ancestors, reduction="none",
                                              backend=backend)
    assert torch.isnan(elements[1]).all() and torch.isfinite(elements[[0, 2]]).all()


@pytest.mark.parametrize("index_dtype", [torch.int32, torch.int64])
def test_sparse_backend_matches_reference(dag_table, index_dtype):
    ancestors = dag_table(1000, 8, dtype=index_dtype)
    student, teacher = make_logits(6, 1000)
    check_against_reference("sparse", student, teacher, ancestors, torch.rand(1000), 1.5, "sum")


def test_registry_names_every_backend():
    assert set(BACKENDS) == {"torch", "sparse", "cpu", "triton", "cuda"}
    for order in AUTO_ORDER.values():
        assert set(order) <= set(BACKENDS) and order[-1] == "torch"


def test_auto_picks_the_first_available_and_falls_back_to_the_reference(monkeypatch):
    runs = hdl_module.HDLBackend("runs", "hacd_graph.distill.hdl_reference", "hdl_sparse",
                                 ("cpu",))
    monkeypatch.setitem(BACKENDS, "runs", runs)
    monkeypatch.setitem(AUTO_ORDER, "cpu", ("runs", "torch"))
    assert resolve_backend("auto", torch.device("cpu")).name == "runs"
    missing = hdl_module.HDLBackend("missing", "hacd_graph.distill.not_a_module", "f", ("cpu",))
    monkeypatch.setitem(BACKENDS, "missing", missing)
    monkeypatch.setitem(AUTO_ORDER, "cpu", ("missing", "torch"))
    assert resolve_backend("auto", torch.device("cpu")).name == "torch"
    with pytest.raises(RuntimeError, match="could not be imported"):
        resolve_backend("missing", torch.device("cpu"))


def test_cpu_backend_without_a_compiler_warns_and_uses_the_reference(monkeypatch, inputs):
    from hacd_graph.distill import hdl_cpu

    monkeypatch.setattr(hdl_cpu, "unavailable_reason", lambda device: "no C++ compiler")
    with pytest.warns(UserWarning, match="no C.. compiler; using the PyTorch reference"):
        backend = resolve_backend("cpu", torch.device("cpu"))
    assert backend.name == "torch"
    assert resolve_backend("auto", torch.device("cpu")).name == "torch"


def test_importing_distill_loads_no_backend():
    code = ("import sys, hacd_graph.distill; "
            "print(any(m.startswith(('hacd_graph.distill.hdl_cpu', 'hacd_graph.distill.hdl_tri',"
            " 'hacd_graph.distill.hdl_cuda', 'triton')) for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
