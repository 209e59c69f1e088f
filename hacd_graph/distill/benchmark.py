"""Benchmark of the hierarchical distillation loss: every backend side by side.

For each case (B, N, K) it builds a random many-parent DAG ancestor table and checks every
backend — the eager reference included — against the float64 definition
(:mod:`hacd_graph.distill.hdl_check`): the gradient of the first ``check_rows`` rows entry
by entry, and the loss against the float64 loss of the whole batch. It then times forward,
backward and forward+backward (median of ``repeats`` after ``warmup`` runs) and measures
the peak extra memory of one forward+backward. Results are printed as a table of ratios
against the eager reference and against the fastest pure-PyTorch formulation (sparse or
``torch.compile``), and written to CSV, JSON (with the machine, device, versions of torch,
Triton, CUDA and the driver, the git revision and the floors) and a PNG plot. A backend
that disagrees with float64 beyond its tolerance is marked ``WRONG`` in the table and makes
:func:`run_benchmark` report failure (``hacd-graph bench hdl`` then exits 1): a speed-up of a
wrong answer is never printed as a result.

Peak extra memory: on CUDA ``torch.cuda.max_memory_allocated`` above what was allocated
before; on CPU the process's resident-set high-water mark (``VmHWM``, reset through
``/proc/self/clear_refs``) above its resident set before, with glibc told to serve every
block of 64 KiB or more by ``mmap`` (``mallopt``) so that freed memory leaves the process at
once and each measurement sees only its own allocations (Linux only; elsewhere "n/a").
"""

from __future__ import annotations

import ctypes
import json
import math
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from hacd_graph.atomic_io import atomic_write
from hacd_graph.distill.ancestor_plan import AncestorPlan
from hacd_graph.distill.hdl import BACKENDS, hierarchical_distillation_loss
from hacd_graph.distill.hdl_check import float32_rtol, float64_reference, worst_error
from hacd_graph.distill.hdl_reference import hdl_reference, hdl_sparse
from hacd_graph.distill.synthetic_hierarchy import random_ancestor_table

PURE_TORCH = ("torch", "sparse", "compile")
"""Pure-PyTorch formulations; ``"compile"`` is ``torch.compile`` of the eager reference."""

HEADLINE = (1024, 4096, 16)
"""The case the issue's targets are stated for: B=1024, N=4096, K=16."""


@dataclass
class HDLBenchConfig:
    """What to run. The default is the full sweep of issue 3 (long on a CPU)."""

    batch_sizes: tuple[int, ...] = (64, 256, 1024, 4096)
    concept_counts: tuple[int, ...] = (632, 2048, 8192, 32768)
    widths: tuple[int, ...] = (8, 16, 24)
    backends: tuple[str, ...] = ("torch", "sparse", "compile", "cpu", "triton", "cuda")
    device: str = "cpu"
    dtype: str = "float32"
    reduction: str = "batchmean"
    max_parents: int = 3
    repeats: int = 5
    warmup: int = 1
    compile_cases: str = "headline"  # "all", "headline" or "none"
    eager_limit_gb: float = 3.0  # skip torch/compile where the [B, N, K] gather is larger
    measure_memory: bool = True  # on CPU this tunes malloc (mallopt) for the whole process
    out_dir: Path = field(default_factory=lambda: Path("outputs") / "bench_hdl")
    seed: int = 0
    check_rows: int = 8  # rows whose gradient is checked entry by entry against float64
    loss_rtol: float = 1e-4  # the scalar loss against float64 (16-bit dtypes: + rounding)


@dataclass
class BenchRow:
    """One backend on one case. Times in milliseconds, memory in MiB."""

    batch: int
    concepts: int
    width: int
    backend: str
    forward_ms: float | None = None
    backward_ms: float | None = None
    full_ms: float | None = None
    peak_mib: float | None = None
    speedup_vs_eager: float | None = None
    speedup_vs_best_pure: float | None = None
    memory_ratio_vs_eager: float | None = None
    loss_error: float | None = None  # relative to the float64 loss
    grad_error: float | None = None  # worst entry, as a fraction of its bound (<= 1 passes)
    correct: bool | None = None  # None: not run
    flat_table_ms: float | None = None  # fused backends: forward+backward with K = 1
    note: str = ""


# ---------------------------------------------------------------- measurement helpers
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _read_status_bytes(key: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def _prepare_cpu_memory_accounting() -> bool:
    """Serve blocks >= 64 KiB by mmap so freed memory leaves at once; False if unsupported."""
    if platform.system() != "Linux" or not os.path.exists("/proc/self/clear_refs"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        return bool(libc.mallopt(m_mmap_threshold, 65536) and libc.mallopt(m_trim_threshold, 0))
    except OSError:
        return False


def peak_extra_bytes(run: Callable[[], None], device: torch.device, cpu_ok: bool) -> int | None:
    """Peak memory allocated by ``run()`` above what was allocated before it."""
    if device.type == "cuda":
        _sync(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        run()
        _sync(device)
        return torch.cuda.max_memory_allocated(device) - before
    if not cpu_ok:
        return None
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # reset the high-water mark to the current resident set
    before = _read_status_bytes("VmRSS")
    run()
    return _read_status_bytes("VmHWM") - before


def copy_bandwidth_gbs(device: torch.device, nbytes: int = 1 << 28, repeats: int = 5) -> float:
    """Measured copy bandwidth (bytes read + bytes written per second), in GB/s."""
    src = torch.ones(nbytes // 4, device=device)
    dst = torch.empty_like(src)
    times = []
    for _ in range(repeats + 1):
        _sync(device)
        start = time.perf_counter()
        dst.copy_(src)
        _sync(device)
        times.append(time.perf_counter() - start)
    return 2 * nbytes / statistics.median(times[1:]) / 1e9


def _run(command: list[str]) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=10,
                              cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def provenance(device: torch.device) -> dict[str, Any]:
    """What produced a result: git revision (and whether the tree was dirty), the device,
    and the versions of Python, torch, Triton, CUDA and the GPU driver (``None`` where
    there is none)."""
    cpu = platform.processor() or platform.machine()
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as info:
            names = [line.split(":", 1)[1].strip() for line in info
                     if line.startswith("model name")]
        cpu = names[0] if names else cpu
    commit = _run(["git", "rev-parse", "HEAD"])
    root = _run(["git", "rev-parse", "--show-toplevel"])
    # uncommitted edits to tracked files of the library or the extension's sources
    dirty_files = [line.split(None, 1)[-1] for line in _run(
        ["git", "-C", root or ".", "status", "--porcelain", "--untracked-files=no", "--",
         "hacd_graph", "cuda_ext"]).splitlines()] if commit else []
    dirty = bool(dirty_files)
    info: dict[str, Any] = {
        "git": (commit[:12] + ("-dirty" if dirty else "")) if commit else "unknown",
        "git_commit": commit or None, "git_dirty": dirty if commit else None,
        "git_dirty_files": dirty_files,
        "cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(), "torch": torch.__version__,
        "cuda": torch.version.cuda, "platform": platform.platform(),
        "device": cpu if device.type == "cpu" else torch.cuda.get_device_name(device),
        "driver": _run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"])
        .splitlines()[0] if device.type == "cuda" else None,
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }
    try:
        import triton

        info["triton"] = triton.__version__
    except ImportError:
        info["triton"] = None
    if device.type == "cuda":
        info["gpu"] = info["device"]
    return info


machine_info = provenance
"""The name earlier results files used for :func:`provenance`."""


# ---------------------------------------------------------------- one case
def _loss_function(name: str, compiled: dict[str, Callable], table: Tensor
                   ) -> Callable[..., Tensor]:
    if name == "compile":  # compiled for the plain table tensor (a plan is not traced)
        if "compile" not in compiled:
            compiled["compile"] = torch.compile(hdl_reference, dynamic=False)
        function = compiled["compile"]
        return lambda student, teacher, plan, *rest: function(
            student, teacher, plan.table if isinstance(plan, AncestorPlan) else table, *rest)
    return lambda *args: hierarchical_distillation_loss(*args, backend=name)


def float64_check(student: Tensor, teacher: Tensor, table: Tensor, temperature: float,
                  reduction: str, check_rows: int) -> tuple[float, Any]:
    """The float64 loss of the whole batch (sparse formulation, ``O(BN)`` memory) and the
    float64 gradient, with its scales, of the first ``check_rows`` rows (as the reduction
    weighs them)."""
    batch = student.shape[0]
    loss = hdl_sparse(student.detach().double().cpu(), teacher.detach().double().cpu(),
                      table.cpu(), None, temperature, reduction)
    rows = min(check_rows, batch)
    weight = 1.0 / batch if reduction == "batchmean" else 1.0
    direction = torch.full((rows, student.shape[1]), weight, dtype=torch.float64)
    part = float64_reference(student[:rows], teacher[:rows], table, None, temperature,
                             direction)
    return float(loss), part


def check_row(row: BenchRow, loss: Tensor, grad: Tensor, exact_loss: float, part: Any,
              dtype: torch.dtype, max_abs_scaled_logit: float, config: HDLBenchConfig) -> None:
    """Fill ``row.loss_error``, ``row.grad_error`` and ``row.correct`` against float64."""
    value = float(loss.detach().double())
    row.loss_error = abs(value - exact_loss) / max(abs(exact_loss), 1e-30)
    loss_ok = math.isfinite(value) and row.loss_error <= config.loss_rtol + 2 * (
        2.0**-8 if dtype == torch.bfloat16 else 2.0**-11 if dtype == torch.float16 else 0.0)
    rows = part.grad.shape[0]
    row.grad_error, _ = worst_error(grad[:rows], part.grad, part.grad_scale, dtype,
                                    float32_rtol(max_abs_scaled_logit))
    row.correct = loss_ok and row.grad_error <= 1.0
    if not row.correct:
        row.note = (row.note + " " if row.note else "") + "WRONG: disagrees with float64"


def _skip_reason(name: str, config: HDLBenchConfig, case: tuple[int, int, int],
                 device: torch.device) -> str | None:
    batch, concepts, width = case
    if name in ("torch", "compile"):
        gather_gb = batch * concepts * width * 4 / 1e9
        if gather_gb > config.eager_limit_gb:
            return f"skipped: its [B,N,K] gather needs {gather_gb:.1f} GB"
    if name == "compile" and (config.compile_cases == "none" or (
            config.compile_cases == "headline" and case != HEADLINE)):
        return "skipped: --compile " + config.compile_cases
    if name == "compile":
        return None
    return BACKENDS[name].unavailable_reason(device)


def run_case(config: HDLBenchConfig, case: tuple[int, int, int], cpu_memory_ok: bool,
             compiled: dict[str, Callable]) -> list[BenchRow]:
    """Check, time and measure every configured backend on one (B, N, K)."""
    batch, concepts, width = case
    device, dtype = torch.device(config.device), getattr(torch, config.dtype)
    table = random_ancestor_table(concepts, width, config.max_parents, config.seed)
    plan = AncestorPlan.from_table(table).to(device)  # built once, as a training loop would
    generator = torch.Generator().manual_seed(config.seed)
    student = (torch.randn(batch, concepts, generator=generator) * 3).to(device, dtype)
    teacher = (torch.randn(batch, concepts, generator=generator) * 3).to(device, dtype)
    temperature = 2.0
    args = (plan, None, temperature, config.reduction)
    exact_loss, part = float64_check(student, teacher, table, temperature, config.reduction,
                                     config.check_rows)
    largest = float(torch.maximum(student.abs().max(), teacher.abs().max())) / temperature
    rows = []
    for name in config.backends:
        row = BenchRow(batch, concepts, width, name)
        rows.append(row)
        reason = _skip_reason(name, config, case, device)
        if reason is not None:
            row.note = reason
            continue
        function = _loss_function(name, compiled, table.to(device))
        leaf = student.clone().requires_grad_(True)

        def full_pass(leaf: Tensor = leaf, function: Callable = function) -> Tensor:
            leaf.grad = None
            loss = function(leaf, teacher, *args)
            loss.backward()
            return loss

        loss = full_pass()  # also builds / compiles
        check_row(row, loss, leaf.grad, exact_loss, part, dtype, largest, config)
        for _ in range(config.warmup):
            full_pass()
        forward, backward = _time_passes(function, leaf, teacher, args, config.repeats, device)
        row.forward_ms = 1e3 * statistics.median(forward)
        row.backward_ms = 1e3 * statistics.median(backward)
        row.full_ms = 1e3 * statistics.median(f + b for f, b in zip(forward, backward, strict=True))
        if name not in PURE_TORCH:  # the math alone: a flat table walks no ancestors
            flat = (AncestorPlan(torch.arange(concepts, device=device).unsqueeze(1)), *args[1:])
            forward, backward = _time_passes(function, leaf, teacher, flat, config.repeats, device)
            row.flat_table_ms = 1e3 * statistics.median(
                f + b for f, b in zip(forward, backward, strict=True))
        leaf.grad = None
        peak = peak_extra_bytes(lambda f=full_pass: f() and None, device, cpu_memory_ok)
        row.peak_mib = None if peak is None else peak / 2**20
        del leaf
    _add_ratios(rows)
    return rows


def _time_passes(function: Callable[..., Tensor], leaf: Tensor, teacher: Tensor, args: tuple,
                 repeats: int, device: torch.device) -> tuple[list[float], list[float]]:
    """Seconds of ``repeats`` forward and backward passes."""
    forward, backward = [], []
    for _ in range(repeats):
        leaf.grad = None
        _sync(device)
        start = time.perf_counter()
        loss = function(leaf, teacher, *args)
        _sync(device)
        middle = time.perf_counter()
        loss.backward()
        _sync(device)
        forward.append(middle - start)
        backward.append(time.perf_counter() - middle)
        del loss
    return forward, backward


def _add_ratios(rows: list[BenchRow]) -> None:
    by_name = {row.backend: row for row in rows if row.correct}
    eager = by_name.get("torch")
    pure = [r.full_ms for r in rows
            if r.backend in PURE_TORCH and r.full_ms is not None and r.correct]
    best_pure = min(pure) if pure else None
    for row in rows:
        if row.full_ms is None or not row.correct:  # no speed-up for a wrong answer
            continue
        if eager is not None and eager.full_ms is not None:
            row.speedup_vs_eager = eager.full_ms / row.full_ms
            if eager.peak_mib and row.peak_mib:
                row.memory_ratio_vs_eager = eager.peak_mib / row.peak_mib
        if best_pure is not None:
            row.speedup_vs_best_pure = best_pure / row.full_ms


# ---------------------------------------------------------------- floors, report, files
def floors(case: tuple[int, int, int], dtype: torch.dtype, bandwidth_gbs: float,
           rows: list[BenchRow]) -> dict[str, Any]:
    """The memory-bandwidth and arithmetic floors of a case, and the fused backends' distance.

    Bandwidth floor: read the student and teacher logits once and write the gradient once,
    at the measured copy bandwidth. Arithmetic floor: the work that does not depend on the
    table, 8 transcendental evaluations (exp/expm1 and log/log1p, two per logit and four per
    marginal) and 3 divisions per (row, concept); measured as the same fused backend on a
    K = 1 table (``flat_table_ms``), where no ancestors are walked. What a fused backend
    spends above it is the N * K_eff gathers and scatters of the table walk.
    """
    batch, concepts, _ = case
    element = torch.tensor([], dtype=dtype).element_size()
    nbytes = 3 * batch * concepts * element
    out = {"case": case, "bytes": nbytes, "copy_bandwidth_gbs": bandwidth_gbs,
           "bandwidth_floor_ms": 1e3 * nbytes / (bandwidth_gbs * 1e9),
           "transcendentals": 8 * batch * concepts}
    for row in rows:
        if row.backend not in PURE_TORCH and row.full_ms is not None:
            out[f"{row.backend}_x_bandwidth_floor"] = row.full_ms / out["bandwidth_floor_ms"]
            if row.flat_table_ms:
                out[f"{row.backend}_math_floor_ms"] = row.flat_table_ms
                out[f"{row.backend}_x_math_floor"] = row.full_ms / row.flat_table_ms
    return out


def _fmt(value: float | None, spec: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-".rjust(int(spec.split(".")[0]))
    return format(value, spec)


def format_table(rows: list[BenchRow]) -> str:
    """A plain-text table, one line per backend and case."""
    header = (f"{'B':>5} {'N':>6} {'K':>3} {'backend':<8} {'fwd ms':>9} {'bwd ms':>9} "
              f"{'full ms':>9} {'x eager':>8} {'x pure':>7} {'peak MiB':>9} {'mem /':>6} "
              f"{'loss err':>9} {'grad/tol':>9}  note")
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r.batch:>5} {r.concepts:>6} {r.width:>3} {r.backend:<8} "
            f"{_fmt(r.forward_ms, '9.2f')} {_fmt(r.backward_ms, '9.2f')} "
            f"{_fmt(r.full_ms, '9.2f')} {_fmt(r.speedup_vs_eager, '8.1f')} "
            f"{_fmt(r.speedup_vs_best_pure, '7.1f')} {_fmt(r.peak_mib, '9.1f')} "
            f"{_fmt(r.memory_ratio_vs_eager, '6.1f')} {_fmt(r.loss_error, '9.1e')} "
            f"{_fmt(r.grad_error, '9.1e')}  {r.note}"
        )
    return "\n".join(lines)


def write_results(rows: list[BenchRow], meta: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write ``hdl_bench.csv``, ``hdl_bench.json`` and ``hdl_bench.png``; returns the paths."""
    import csv

    records = [asdict(r) for r in rows]
    paths = [out_dir / "hdl_bench.csv", out_dir / "hdl_bench.json", out_dir / "hdl_bench.png"]

    def write_csv(path: Path) -> None:
        with open(path, "w", newline="") as stream:
            writer = csv.DictWriter(stream, fieldnames=list(records[0]))
            writer.writeheader()
            writer.writerows(records)

    def write_json(path: Path) -> None:
        path.write_text(json.dumps({"meta": meta, "rows": records}, indent=2, default=str))

    atomic_write(paths[0], write_csv)
    atomic_write(paths[1], write_json)
    atomic_write(paths[2], lambda path: plot(rows, path))
    return paths


def plot(rows: list[BenchRow], path: Path) -> None:
    """Forward+backward time and peak memory per case, one bar per backend (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = sorted({(r.batch, r.concepts, r.width) for r in rows})
    backends = list(dict.fromkeys(r.backend for r in rows))
    lookup = {(r.batch, r.concepts, r.width, r.backend): r for r in rows}
    figure, axes = plt.subplots(2, 1, figsize=(max(6.0, 1.1 * len(cases) + 3), 7), sharex=True)
    width = 0.8 / max(len(backends), 1)
    for axis, attribute in zip(axes, ("full_ms", "peak_mib"), strict=True):
        measured = False
        for i, name in enumerate(backends):
            values = [getattr(lookup[(*case, name)], attribute) for case in cases]
            measured |= any(v is not None and v > 0 for v in values)
            axis.bar([c + (i - len(backends) / 2 + 0.5) * width for c in range(len(cases))],
                     [v if v is not None and v > 0 else float("nan") for v in values], width,
                     label=name)
        if measured:
            axis.set_yscale("log")
        else:
            axis.text(0.5, 0.5, "not measured", ha="center", transform=axis.transAxes)
        axis.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("forward + backward (ms)")
    axes[1].set_ylabel("peak extra memory (MiB)")
    axes[1].set_xticks(range(len(cases)), [f"{b}x{n}\nK={k}" for b, n, k in cases], fontsize=8)
    axes[0].legend(ncol=min(len(backends), 6), fontsize=8)
    axes[0].set_title("Hierarchical distillation loss (B x N, K): lower is better")
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=120)
    plt.close(figure)


def run_benchmark(config: HDLBenchConfig, progress: bool = True) -> tuple[list[BenchRow], dict]:
    """Run every case of ``config``; print and write the results; return rows and metadata
    (``meta["correct"]`` is False when some backend disagreed with float64)."""
    from tqdm import tqdm

    device = torch.device(config.device)
    cpu_memory_ok = config.measure_memory and (
        device.type == "cuda" or _prepare_cpu_memory_accounting())
    cases = [(b, n, k) for n in config.concept_counts for k in config.widths
             for b in config.batch_sizes]
    meta = {"machine": provenance(device), "config": asdict(config),
            "memory_accounting": "cuda max_memory_allocated" if device.type == "cuda" else
            ("RSS high-water mark (mmap threshold 64 KiB)" if cpu_memory_ok else "not measured")}
    bandwidth = copy_bandwidth_gbs(device)
    rows: list[BenchRow] = []
    compiled: dict[str, Callable] = {}
    for case in tqdm(cases, desc="hdl bench", disable=not progress):
        rows.extend(run_case(config, case, cpu_memory_ok, compiled))
    meta["floors"] = [floors(case, getattr(torch, config.dtype), bandwidth,
                             [r for r in rows if (r.batch, r.concepts, r.width) == case])
                      for case in cases]
    print(describe_machine(meta))
    print(format_table(rows))
    for floor in meta["floors"]:
        fused = ", ".join(f"{k.split('_x_')[0]} {v:.1f}x" for k, v in floor.items()
                          if k.endswith("_x_bandwidth_floor"))
        math_floor = ", ".join(
            f"{k.split('_x_')[0]} {v:.1f}x ({floor[k.split('_x_')[0] + '_math_floor_ms']:.1f} ms)"
            for k, v in floor.items() if k.endswith("_x_math_floor"))
        print(f"floors B={floor['case'][0]} N={floor['case'][1]} K={floor['case'][2]}: bandwidth "
              f"{floor['bytes'] / 1e6:.1f} MB at {bandwidth:.1f} GB/s = "
              f"{floor['bandwidth_floor_ms']:.2f} ms" + (f" (fused: {fused})" if fused else "")
              + (f"; arithmetic, K=1 table: {math_floor}" if math_floor else ""))
    wrong = [r for r in rows if r.correct is False]
    meta["correct"] = not wrong
    paths = write_results(rows, meta, config.out_dir)
    print("wrote " + ", ".join(str(p) for p in paths))
    return rows, meta


def describe_machine(meta: dict[str, Any]) -> str:
    """One paragraph: machine, versions, revision, memory accounting."""
    m = meta["machine"]
    gpu = f", GPU {m['gpu']}" if "gpu" in m else ""
    load = m.get("load_average")
    load_text = f", load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}" if load else ""
    return (f"machine: {m['cpu']} ({m['cores']} cores, torch threads {m['torch_threads']})"
            f"{gpu}{load_text}\n"
            f"versions: python {m['python']}, torch {m['torch']}, triton {m['triton']}, "
            f"CUDA {m.get('cuda')}, driver {m.get('driver')}; git {m['git']}\n"
            f"checks: every backend against float64 (gradient of {meta['config']['check_rows']}"
            f" rows per entry, loss of the batch); 'x eager' and 'x pure' (the fastest "
            f"pure-PyTorch formulation: sparse or torch.compile) only for correct rows\n"
            f"peak memory: {meta['memory_accounting']}; dtype "
            f"{meta['config']['dtype']}, reduction {meta['config']['reduction']}, T = 2, "
            f"random DAG with up to {meta['config']['max_parents']} parents per concept")
