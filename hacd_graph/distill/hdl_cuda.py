"""The ``"cuda"`` backend of the HDL: the fused CUDA kernel in ``cuda_ext/``, built on first use.

The extension is the one of the ``"cpu"`` backend (``cuda_ext/csrc/hdl.cpp`` and
``cpu/``) plus ``cuda/hdl_cuda.cu``, compiled with ``-DWITH_CUDA`` by
``torch.utils.cpp_extension.load`` into the same persistent cache as the CPU build
(:func:`hacd_graph.distill.hdl_cpu.default_cache_dir`), under a name that hashes the sources,
the flags and the torch and Python versions. The device code targets Hopper (``sm_90``,
H100/H200) and carries ``compute_90`` PTX, which the driver compiles for newer GPUs. nvcc is
found the way PyTorch finds it (``CUDA_HOME``, ``nvcc`` on ``PATH``, ``/usr/local/cuda``).

Forward computes the loss and, for ``"sum"``/``"batchmean"``, the gradient in one pass, so
backward is one scale by the incoming gradient; for ``"none"`` the backward runs the kernel
again with the incoming ``[B, N]`` gradient.
"""

from __future__ import annotations

import functools
import hashlib
import platform
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import Tensor

from hacd_graph.distill.ancestor_plan import AncestorPlan, as_plan
from hacd_graph.distill.hdl_cpu import CPU_SOURCES, CSRC, HDLFunction, default_cache_dir

CUDA_SOURCES = ("cuda/hdl_cuda.cu",)
HEADERS = ("hdl_math.h", "cpu/hdl_cpu.h", "cpu/hdl_cpu_block.h", "cuda/hdl_cuda.h")
CFLAGS = ("-O3", "-fopenmp", "-DNDEBUG", "-DWITH_CUDA")
LDFLAGS = ("-fopenmp",)
NVCC_FLAGS = (
    "-O3",
    "-DNDEBUG",
    "-DWITH_CUDA",
    "-gencode=arch=compute_90,code=sm_90",  # H100 / H200
    "-gencode=arch=compute_90,code=compute_90",  # PTX for newer GPUs
)


def cuda_library_dir(cuda_home: str | None) -> Path | None:
    """The folder holding ``libcudart.so``: under ``cuda_home``, or beside nvcc, or in
    ``/usr/local/cuda`` (PyTorch links with ``-L<CUDA_HOME>/lib64``, which misses it when
    nvcc is a link in ``/usr/local/bin`` and ``CUDA_HOME`` is not set)."""
    roots = [Path(cuda_home)] if cuda_home else []
    nvcc = shutil.which("nvcc")
    if nvcc:
        roots.append(Path(nvcc).resolve().parent.parent)
    roots.append(Path("/usr/local/cuda"))
    for root in roots:
        for sub in ("lib64", "lib", "targets/x86_64-linux/lib", "targets/sbsa-linux/lib"):
            if (root / sub / "libcudart.so").exists():
                return root / sub
    return None


def extension_name() -> str:
    """The extension's module name: a hash of sources, flags, torch and Python versions."""
    digest = hashlib.sha256()
    for relative in (*CPU_SOURCES, *CUDA_SOURCES, *HEADERS):
        digest.update(relative.encode())
        digest.update((CSRC / relative).read_bytes())
    for item in (*CFLAGS, *LDFLAGS, *NVCC_FLAGS, torch.__version__, sys.version,
                 platform.machine()):
        digest.update(item.encode())
    return f"hacd_hdl_cuda_{digest.hexdigest()[:16]}"


def build(cache_dir: Path | None = None, verbose: bool = False) -> ModuleType:
    """Compile (first time: a few minutes) or load the cached CUDA extension.

    Needs nvcc and ninja but no GPU: the build can be checked on a CPU-only machine.

    Args:
        cache_dir: where builds are kept; :func:`default_cache_dir` when ``None``.
        verbose: print the compiler's output.

    Returns:
        The extension module (``hdl_fused``, ``WITH_CUDA`` is true).

    Raises:
        RuntimeError: sources, nvcc or ninja missing, or the compilation failed.
    """
    from torch.utils import cpp_extension

    sources = (*CPU_SOURCES, *CUDA_SOURCES)
    missing = [str(CSRC / s) for s in (*sources, *HEADERS) if not (CSRC / s).is_file()]
    if missing:
        raise RuntimeError(f"the CUDA extension's sources are missing ({', '.join(missing)})")
    if cpp_extension.CUDA_HOME is None:
        raise RuntimeError("nvcc was not found (set CUDA_HOME to the CUDA toolkit)")
    if not cpp_extension.is_ninja_available():
        raise RuntimeError("ninja is not installed (pip install ninja)")
    library_dir = cuda_library_dir(cpp_extension.CUDA_HOME)
    if library_dir is None:
        raise RuntimeError(f"libcudart.so was not found under CUDA_HOME="
                           f"{cpp_extension.CUDA_HOME} or /usr/local/cuda")
    name = extension_name()
    build_dir = (cache_dir or default_cache_dir()) / name
    build_dir.mkdir(parents=True, exist_ok=True)
    return cpp_extension.load(
        name=name,
        sources=[str(CSRC / s) for s in sources],
        extra_include_paths=[str(CSRC)],
        extra_cflags=list(CFLAGS),
        extra_cuda_cflags=list(NVCC_FLAGS),
        extra_ldflags=[*LDFLAGS, f"-L{library_dir}"],
        build_directory=str(build_dir),
        with_cuda=True,
        verbose=verbose,
    )


@functools.cache
def load_extension() -> tuple[Any, str | None]:
    """:func:`build` once per process: ``(module, None)``, or ``(None, reason)`` on failure."""
    try:
        return build(), None
    except Exception as error:  # any failed build means "unavailable", with why
        return None, f"the HDL CUDA extension could not be built: {error}"


def unavailable_reason(device: torch.device) -> str | None:
    """``None`` when the CUDA kernel runs on ``device`` (building it if needed), else why not."""
    if device.type != "cuda":
        return f"backend 'cuda' runs on CUDA tensors, not {device.type}"
    if not torch.cuda.is_available():
        return "backend 'cuda' needs a CUDA device"
    return load_extension()[1]


def hdl_cuda(
    student_logits: Tensor,
    teacher_logits: Tensor,
    ancestors: Tensor | AncestorPlan,
    weights: Tensor | None = None,
    temperature: float = 1.0,
    reduction: str = "batchmean",
) -> Tensor:
    """The HDL on the fused CUDA kernel; same arguments, result and shapes as
    :func:`hacd_graph.distill.hdl_reference.hdl_reference`.

    Expects the checked, contiguous CUDA inputs that
    :func:`hacd_graph.distill.hierarchical_distillation_loss` passes (call that instead).

    Raises:
        RuntimeError: the extension could not be built (the reason says why).
    """
    extension, reason = load_extension()
    if extension is None:
        raise RuntimeError(reason)
    return HDLFunction.apply(extension, student_logits, teacher_logits.detach(),
                             as_plan(ancestors), weights, float(temperature), reduction)
