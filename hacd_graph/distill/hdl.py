r"""The hierarchical distillation loss (HDL): the public function, its checks and its backends.

:func:`hierarchical_distillation_loss` validates its inputs once, here, and hands them to
one backend picked by name from :data:`BACKENDS`. Backends live in their own modules and
are imported only when first used, so importing :mod:`hacd_graph.distill` needs no
compiler, no extension and no GPU.

A backend module provides

- the function named in its :class:`HDLBackend` entry, with the signature of
  :func:`hacd_graph.distill.hdl_reference.hdl_reference`; it receives checked, contiguous
  inputs: logits of one dtype, an
  :class:`~hacd_graph.distill.ancestor_plan.AncestorPlan` on the same device, weights ``None``
  or a contiguous ``[N]`` tensor in float32 (float64 when the logits are float64), a
  float temperature ``> 0`` and ``B, N >= 1``;
- optionally ``unavailable_reason(device: torch.device) -> str | None``: ``None`` when the
  backend can run on ``device`` now, otherwise a sentence saying why not (no compiler, no
  GPU, Triton missing, ...).
"""

from __future__ import annotations

import importlib
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from hacd_graph.distill.ancestor_plan import AncestorPlan, as_plan
from hacd_graph.distill.hdl_reference import REDUCTIONS

_FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


@dataclass(frozen=True)
class HDLBackend:
    """One implementation of the HDL, imported on first use.

    Attributes:
        name: the ``backend=`` value that selects it.
        module: dotted path of the module that holds it.
        function: name of the loss function in that module.
        device_types: device types (``"cpu"``, ``"cuda"``) it accepts tensors on.
    """

    name: str
    module: str
    function: str
    device_types: tuple[str, ...]

    def load(self) -> Callable[..., Tensor]:
        """Import the module and return the loss function."""
        return getattr(importlib.import_module(self.module), self.function)

    def unavailable_reason(self, device: torch.device) -> str | None:
        """``None`` when this backend can run on ``device``, otherwise why it cannot."""
        if device.type not in self.device_types:
            return (
                f"backend {self.name!r} runs on {'/'.join(self.device_types)} tensors, "
                f"not {device.type}"
            )
        try:
            module = importlib.import_module(self.module)
        except ImportError as error:
            return f"backend {self.name!r} could not be imported ({self.module}: {error})"
        check = getattr(module, "unavailable_reason", None)
        return None if check is None else check(device)


BACKENDS: dict[str, HDLBackend] = {
    "torch": HDLBackend("torch", "hacd_graph.distill.hdl_reference", "hdl_reference",
                        ("cpu", "cuda")),
    "sparse": HDLBackend("sparse", "hacd_graph.distill.hdl_reference", "hdl_sparse",
                         ("cpu", "cuda")),
    "cpu": HDLBackend("cpu", "hacd_graph.distill.hdl_cpu", "hdl_cpu", ("cpu",)),
    "triton": HDLBackend("triton", "hacd_graph.distill.hdl_triton", "hdl_triton",
                         ("cuda", "cpu")),
    "cuda": HDLBackend("cuda", "hacd_graph.distill.hdl_cuda", "hdl_cuda", ("cuda",)),
}
"""Every backend by name. ``"torch"`` is the reference the others are tested against."""

AUTO_ORDER: dict[str, tuple[str, ...]] = {
    "cuda": ("triton", "cuda", "torch"),
    "cpu": ("cpu", "torch"),
}
"""What ``backend="auto"`` tries, fastest first, per device type; the first available wins."""


def resolve_backend(backend: str, device: torch.device) -> HDLBackend:
    """The backend that ``backend=`` names for tensors on ``device``.

    ``"auto"`` picks the first available entry of :data:`AUTO_ORDER` (the reference when
    nothing faster runs here). An explicitly named fused backend that cannot run here
    raises, except ``"cpu"``, which warns and falls back to the reference when the
    extension cannot be built (no compiler).

    Raises:
        ValueError: an unknown backend name.
        RuntimeError: a named backend that cannot run on ``device``.
    """
    if backend == "auto":
        for name in AUTO_ORDER.get(device.type, ("torch",)):
            if BACKENDS[name].unavailable_reason(device) is None:
                return BACKENDS[name]
        return BACKENDS["torch"]
    if backend not in BACKENDS:
        known = ", ".join(sorted([*BACKENDS, "auto"]))
        raise ValueError(f"unknown HDL backend {backend!r}; choose one of: {known}")
    chosen = BACKENDS[backend]
    reason = chosen.unavailable_reason(device)
    if reason is None:
        return chosen
    if backend == "cpu" and device.type == "cpu":
        warnings.warn(f"{reason}; using the PyTorch reference instead", stacklevel=3)
        return BACKENDS["torch"]
    raise RuntimeError(reason)


def _check_inputs(
    student_logits: Tensor,
    teacher_logits: Tensor,
    ancestors: AncestorPlan,
    weights: Tensor | None,
    temperature: float,
    reduction: str,
) -> None:
    """Raise ``ValueError``/``TypeError`` naming the first problem with the inputs."""
    for name, value in (("student_logits", student_logits), ("teacher_logits", teacher_logits)):
        if not isinstance(value, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if student_logits.dim() != 2:
        raise ValueError(
            f"student_logits must be [B, N], got shape {tuple(student_logits.shape)} "
            "(flatten leading dimensions with .reshape(-1, N) first)"
        )
    if teacher_logits.shape != student_logits.shape:
        raise ValueError(
            f"teacher_logits has shape {tuple(teacher_logits.shape)} but student_logits has "
            f"{tuple(student_logits.shape)}; they must match"
        )
    for name, value in (("student_logits", student_logits), ("teacher_logits", teacher_logits)):
        if value.dtype not in _FLOAT_DTYPES:
            raise TypeError(f"{name} must be float16, bfloat16, float32 or float64, "
                            f"got {value.dtype}")
    num_concepts = student_logits.shape[1]
    if ancestors.num_concepts != num_concepts:
        raise ValueError(
            f"ancestors must be [N, K] with N = {num_concepts} (the logits' last dimension), "
            f"got shape {tuple(ancestors.table.shape)}"
        )
    device = student_logits.device
    if ancestors.device != device:
        raise ValueError(f"ancestors is on {ancestors.device} but student_logits is on "
                         f"{device} (move the plan once with AncestorPlan.to(device))")
    for name, value in (("teacher_logits", teacher_logits), ("weights", weights)):
        if isinstance(value, Tensor) and value.device != device:
            raise ValueError(f"{name} is on {value.device} but student_logits is on {device}")
    if weights is not None:
        if not isinstance(weights, Tensor) or weights.shape != (num_concepts,):
            shape = tuple(weights.shape) if isinstance(weights, Tensor) else type(weights)
            raise ValueError(f"weights must be a [N] = [{num_concepts}] tensor, got {shape}")
        if weights.dtype not in _FLOAT_DTYPES:
            raise TypeError(f"weights must be a floating tensor, got {weights.dtype}")
    if isinstance(temperature, bool) or not isinstance(temperature, int | float):
        raise TypeError(f"temperature must be a float, got {type(temperature).__name__}")
    if not math.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be finite and > 0, got {temperature}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def hierarchical_distillation_loss(
    student_logits: Tensor,
    teacher_logits: Tensor,
    ancestors: Tensor | AncestorPlan,
    weights: Tensor | None = None,
    temperature: float = 1.0,
    reduction: str = "batchmean",
    backend: str = "auto",
) -> Tensor:
    r"""Hierarchical distillation loss: binary KL of the teacher's and the student's marginals.

    Logits are conditional (:math:`\sigma(z_c/T)` is the probability of concept :math:`c`
    given its parents); the marginal of :math:`c` multiplies the conditionals along the row
    :math:`A[c]` of the ancestor table:

    .. math::

        \ell_{b,c} = \sum_{a\in A[c]} \log\sigma(z_{b,a}/T), \quad q = e^{\ell^s},\ p = e^{\ell^t}

        L_{b,c} = T^2 w_c\,\big(p(\ell^t-\ell^s) + (1-p)(\log(1-p) - \log(1-q))\big)

    Gradient flows to the student only. See :mod:`hacd_graph.distill.hdl_reference` for
    the readable formulation every backend is tested against.

    Edge cases:
        - an empty batch (``B = 0``) gives 0 for ``"sum"``/``"batchmean"`` and a ``[0, N]``
          tensor for ``"none"``;
        - ``K = 1`` is a flat hierarchy (each row holds only its own concept);
        - ``-1`` entries are padding and add nothing;
        - NaN in either logits tensor is not checked for (that would cost a pass over the
          inputs): it propagates, making the loss (and the student's gradient) NaN for the
          concepts at and below the NaN, and so the reduced loss NaN, on every backend;
        - logits of any finite magnitude give the loss and gradient of the float64
          definition to float32 rounding on every backend: :math:`\log(1-q)` never comes
          from a log-marginal rounded to 0 (see :mod:`hacd_graph.teacher.marginals`) and
          the gradient never forms :math:`q/(1-q)` where it would overflow.

    Args:
        student_logits: ``[B, N]`` float16/bfloat16/float32/float64 (float64 is computed in
            float64, the rest accumulate in float32).
        teacher_logits: ``[B, N]``, a constant; when its dtype differs from the student's,
            both are computed in the promoted dtype.
        ancestors: an :class:`~hacd_graph.distill.ancestor_plan.AncestorPlan` built once
            per hierarchy (``AncestorPlan.from_hierarchy(ach).to(device)``: checked once,
            its chain plan kept), or the ``[N, K]`` int32/int64 table itself (row ``c`` is
            ``c`` and its ancestors, padded with ``-1``; ``ConceptHierarchy.ancestor_table()``),
            which is then checked and, for the fused CPU and Triton backends, planned for
            this call only (about 0.1-0.3 s at N = 4096 on a CPU, several times the kernel:
            a training loop should pass a plan).
        weights: optional ``[N]`` node weights (default all ones).
        temperature: distillation temperature :math:`T > 0`.
        reduction: ``"batchmean"`` (sum / B), ``"sum"`` or ``"none"``.
        backend: ``"torch"`` (eager reference), ``"sparse"`` (sparse matmul), ``"cpu"``
            (C++ extension), ``"triton"``, ``"cuda"``, or ``"auto"`` (the fastest available
            for the tensors' device, see :data:`AUTO_ORDER`).

    Returns:
        The loss in the student's dtype: a scalar, or ``[B, N]`` for ``"none"``.

    Raises:
        TypeError, ValueError: bad shapes, dtypes, devices, table entries out of range, a
            table row without its own concept, ``temperature <= 0``, unknown reduction.
        RuntimeError: a named GPU backend that cannot run here.

    Shapes:
        student_logits, teacher_logits: ``[B, N]``; ancestors: ``[N, K]``; weights: ``[N]``;
        output: ``[]`` or ``[B, N]``.
    """
    if isinstance(temperature, Tensor):
        temperature = float(temperature)
    plan = as_plan(ancestors)
    _check_inputs(student_logits, teacher_logits, plan, weights, temperature, reduction)
    chosen = resolve_backend(backend, student_logits.device)
    out_dtype = student_logits.dtype
    dtype = torch.promote_types(student_logits.dtype, teacher_logits.dtype)
    if dtype in (torch.float16, torch.bfloat16) and student_logits.dtype != teacher_logits.dtype:
        dtype = torch.float32
    batch_size, num_concepts = student_logits.shape
    if batch_size == 0 or num_concepts == 0:
        zero = student_logits * 0
        return zero if reduction == "none" else zero.sum()
    student = student_logits.to(dtype).contiguous()
    teacher = teacher_logits.detach().to(dtype).contiguous()
    if weights is not None:
        weight_dtype = torch.float64 if dtype == torch.float64 else torch.float32
        weights = weights.detach().to(weight_dtype).contiguous()
    loss = chosen.load()(student, teacher, plan, weights, float(temperature), reduction)
    return loss.to(out_dtype)
