"""The ``"cpu"`` backend of the HDL: the fused C++ kernel in ``cuda_ext/``, built on first use.

The extension is compiled with ``torch.utils.cpp_extension.load`` (JIT) into a persistent
cache, ``~/.cache/hacd_graph/torch_extensions/<name>`` (``$XDG_CACHE_HOME`` respected), where
``<name>`` hashes the C++ sources, the build flags, the torch version and the Python version,
so an edited source or another torch triggers a rebuild and nothing stale is ever loaded.
The binary targets baseline x86-64; the AVX2 kernel is selected at run time from the CPU's
flags, so one cache can be shared by machines with different CPUs. Without a C++ compiler
(or ninja) the backend reports why and :func:`hdl_cpu` falls back to the reference.

Rows go eight at a time through the AVX2 kernel, which walks the table's chain plan
(``AncestorPlan.chains``) while every ``|z/T|`` of the block is at most 40, and otherwise (and
for float64, or without AVX2) through the exact portable kernel of ``cuda_ext/csrc/hdl_math.h``.

The gradient is computed in the same pass as the loss (``reduction`` ``"sum"`` and
``"batchmean"``) so backward is one scale by the incoming gradient; for ``"none"`` backward
runs the kernel again with the incoming ``[B, N]`` gradient as per-element weights.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import platform
import shutil
import sys
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import Tensor

from hacd_graph.distill.ancestor_plan import AncestorPlan, as_plan
from hacd_graph.distill.hdl_reference import hdl_reference

CSRC = Path(__file__).resolve().parents[2] / "cuda_ext" / "csrc"
"""The C++ sources (``hdl.cpp`` dispatch, ``cpu/`` kernels, ``cuda/`` declarations)."""

CPU_SOURCES = ("hdl.cpp", "cpu/hdl_cpu.cpp", "cpu/hdl_cpu_block_avx2.cpp")
_HEADERS = ("hdl_math.h", "cpu/hdl_cpu.h", "cpu/hdl_cpu_block.h", "cuda/hdl_cuda.h")
_CFLAGS = ("-O3", "-fopenmp", "-DNDEBUG")
_LDFLAGS = ("-fopenmp",)
REDUCTION_CODES = {"none": 0, "sum": 1, "batchmean": 2}


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/hacd_graph/torch_extensions`` (``~/.cache/...`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hacd_graph" / "torch_extensions"


def extension_name() -> str:
    """The extension's module name: a hash of sources, flags, torch and Python versions."""
    digest = hashlib.sha256()
    for relative in (*CPU_SOURCES, *_HEADERS):
        digest.update(relative.encode())
        digest.update((CSRC / relative).read_bytes())
    for item in (*_CFLAGS, *_LDFLAGS, torch.__version__, sys.version, platform.machine()):
        digest.update(item.encode())
    return f"hacd_hdl_cpu_{digest.hexdigest()[:16]}"


def _build(cache_dir: Path, verbose: bool) -> ModuleType:
    from torch.utils import cpp_extension

    missing = [str(CSRC / s) for s in (*CPU_SOURCES, *_HEADERS) if not (CSRC / s).is_file()]
    if missing:
        raise RuntimeError(f"the C++ sources are missing ({', '.join(missing)}); the CPU "
                           "backend needs the cuda_ext/ folder of a source checkout")
    compiler = os.environ.get("CXX", "c++")
    if shutil.which(compiler) is None:
        raise RuntimeError(f"no C++ compiler ({compiler!r} is not on PATH)")
    if not cpp_extension.is_ninja_available():
        raise RuntimeError("ninja is not installed (pip install ninja)")
    name = extension_name()
    build_dir = cache_dir / name
    build_dir.mkdir(parents=True, exist_ok=True)
    if not (build_dir / f"{name}.so").exists():
        logging.getLogger(__name__).warning(
            "building the HDL C++ CPU extension (once, about a minute) in %s", build_dir)
    return cpp_extension.load(
        name=name,
        sources=[str(CSRC / s) for s in CPU_SOURCES],
        extra_include_paths=[str(CSRC)],
        extra_cflags=list(_CFLAGS),
        extra_ldflags=list(_LDFLAGS),
        build_directory=str(build_dir),
        verbose=verbose,
    )


@functools.cache
def load_extension(cache_dir: Path | None = None, verbose: bool = False) -> tuple[Any, str | None]:
    """Build (first time, about a minute) or load the cached CPU extension.

    Args:
        cache_dir: where builds are kept; :func:`default_cache_dir` when ``None``.
        verbose: print the compiler's output.

    Returns:
        ``(module, None)`` on success, ``(None, reason)`` when it cannot be built; the
        outcome is remembered for the process.
    """
    try:
        return _build(cache_dir or default_cache_dir(), verbose), None
    except Exception as error:  # a failed build of any kind means "unavailable", with why
        return None, f"the HDL C++ CPU extension could not be built: {error}"


def unavailable_reason(device: torch.device) -> str | None:
    """``None`` when the extension runs on ``device`` (building it if needed), else why not."""
    if device.type != "cpu":
        return f"the 'cpu' HDL backend runs on CPU tensors, not {device.type}"
    return load_extension()[1]


class HDLFunction(torch.autograd.Function):
    """Autograd wrapper of an extension's ``hdl_fused`` (the CPU build or the CUDA build:
    both export the same entry point): forward returns the loss, backward the gradient.

    For ``sum``/``batchmean`` the forward already computes the gradient, so backward only
    scales it; for ``none`` backward runs the kernel again with the incoming ``[B, N]``
    gradient as per-element weights.
    """

    @staticmethod
    def forward(ctx: Any, extension: Any, student: Tensor, teacher: Tensor,
                plan: AncestorPlan, weights: Tensor | None, temperature: float,
                reduction: str) -> Tensor:
        fused_grad = reduction != "none" and ctx.needs_input_grad[1]
        ancestors = plan.table
        chains = plan.chains.cpu_tensors() if student.device.type == "cpu" else []
        loss, grad = extension.hdl_fused(student, teacher, ancestors, weights, temperature,
                                         REDUCTION_CODES[reduction], None, True, fused_grad,
                                         chains)
        ctx.save_for_backward(student, teacher, ancestors, weights)
        ctx.extension, ctx.temperature, ctx.reduction = extension, temperature, reduction
        ctx.chains = chains
        ctx.grad = grad if fused_grad else None
        return loss

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_loss: Tensor) -> tuple[Tensor | None, ...]:
        student, teacher, ancestors, weights = ctx.saved_tensors
        extension = ctx.extension
        if ctx.reduction == "none":
            acc_dtype = torch.float64 if student.dtype == torch.float64 else torch.float32
            _, grad = extension.hdl_fused(student, teacher, ancestors, weights, ctx.temperature,
                                          0, grad_loss.to(acc_dtype).contiguous(), False, True,
                                          ctx.chains)
            return None, grad, None, None, None, None, None
        grad, ctx.grad = ctx.grad, None  # hand the buffer over: scaled in place, not copied
        if grad is None:  # a second backward through a retained graph: compute it again
            _, grad = extension.hdl_fused(student, teacher, ancestors, weights, ctx.temperature,
                                          REDUCTION_CODES[ctx.reduction], None, False, True,
                                          ctx.chains)
        # loss * c, ...: scale. Skipping the scale for an incoming 1 is checked on CPU only;
        # on a GPU the check would make the host wait for the device.
        if grad.is_cuda or not torch.equal(grad_loss, torch.ones_like(grad_loss)):
            grad.mul_(grad_loss.to(grad.dtype))
        return None, grad, None, None, None, None, None


def hdl_cpu(
    student_logits: Tensor,
    teacher_logits: Tensor,
    ancestors: Tensor | AncestorPlan,
    weights: Tensor | None = None,
    temperature: float = 1.0,
    reduction: str = "batchmean",
) -> Tensor:
    """The HDL with the fused C++ kernel; the reference (with a warning) when it cannot build.

    Same arguments, result and shapes as
    :func:`hacd_graph.distill.hdl_reference.hdl_reference`; expects the checked, contiguous
    inputs that :func:`hacd_graph.distill.hierarchical_distillation_loss` passes (logits of
    one dtype, weights in float32 or float64 for float64 logits).
    """
    extension, reason = load_extension()
    if extension is None:
        warnings.warn(f"{reason}; using the PyTorch reference instead", stacklevel=2)
        return hdl_reference(student_logits, teacher_logits, ancestors, weights, temperature,
                             reduction)
    return HDLFunction.apply(extension, student_logits, teacher_logits, as_plan(ancestors),
                             weights, float(temperature), reduction)
