"""``hacd-graph bench ...``: benchmarks of the distillation part (``bench hdl``).

torch and the benchmark are imported when the group is registered or run, not when this
module is imported.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``bench`` group with its ``hdl`` command."""
    from hacd_graph.distill.benchmark import HDLBenchConfig

    group = subparsers.add_parser("bench", help="benchmark kernels")
    commands = group.add_subparsers(dest="bench_command", required=True, metavar="COMMAND")
    hdl = commands.add_parser(
        "hdl", help="the hierarchical distillation loss: every backend side by side",
        description="Checks every HDL backend against float64, then times forward/backward/"
        "full and peak memory over B x N x K (default: the full sweep of issue 3; long on a "
        "CPU). Exits 1 when any backend disagrees with float64 beyond its tolerance.",
    )
    defaults = HDLBenchConfig()
    hdl.add_argument("--batch", type=int, nargs="+", default=list(defaults.batch_sizes))
    hdl.add_argument("--concepts", type=int, nargs="+", default=list(defaults.concept_counts))
    hdl.add_argument("--width", type=int, nargs="+", default=list(defaults.widths),
                     help="ancestor-table widths K")
    hdl.add_argument("--headline", action="store_true",
                     help="only B=1024, N=4096, K=16 (the issue's target case)")
    hdl.add_argument("--backends", nargs="+", default=list(defaults.backends),
                     help="torch, sparse, compile (torch.compile of the reference), cpu, "
                     "triton, cuda; unavailable ones are listed as skipped")
    hdl.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    hdl.add_argument("--dtype", default=defaults.dtype,
                     choices=["float32", "float16", "bfloat16"])
    hdl.add_argument("--reduction", default=defaults.reduction,
                     choices=["batchmean", "sum", "none"])
    hdl.add_argument("--repeats", type=int, default=defaults.repeats)
    hdl.add_argument("--warmup", type=int, default=defaults.warmup)
    hdl.add_argument("--compile", dest="compile_cases", default=defaults.compile_cases,
                     choices=["all", "headline", "none"],
                     help="cases that time torch.compile of the reference (slow to compile)")
    hdl.add_argument("--eager-limit-gb", type=float, default=defaults.eager_limit_gb,
                     help="skip the eager reference where its [B,N,K] gather is larger")
    hdl.add_argument("--memory", action=argparse.BooleanOptionalAction, default=True,
                     help="measure peak extra memory (on CPU: tunes malloc for the process)")
    hdl.add_argument("--max-parents", type=int, default=defaults.max_parents)
    hdl.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    hdl.add_argument("--out", type=Path, default=defaults.out_dir)
    hdl.add_argument("--seed", type=int, default=defaults.seed)
    hdl.set_defaults(func=_run_hdl)


def _run_hdl(args: argparse.Namespace) -> int:
    import torch

    from hacd_graph.distill.benchmark import HDLBenchConfig, run_benchmark

    if args.device is None:
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.threads:
        torch.set_num_threads(args.threads)
    batch, concepts, width = args.batch, args.concepts, args.width
    if args.headline:
        batch, concepts, width = [1024], [4096], [16]
    config = HDLBenchConfig(
        batch_sizes=tuple(batch), concept_counts=tuple(concepts), widths=tuple(width),
        backends=tuple(args.backends), device=args.device, dtype=args.dtype,
        reduction=args.reduction, max_parents=args.max_parents, repeats=args.repeats,
        warmup=args.warmup, compile_cases=args.compile_cases,
        eager_limit_gb=args.eager_limit_gb, measure_memory=args.memory, out_dir=args.out,
        seed=args.seed,
    )
    rows, _ = run_benchmark(config)
    bad = [r for r in rows if r.correct is False]
    for row in bad:
        print(f"WRONG: {row.backend} at B={row.batch} N={row.concepts} K={row.width} "
              f"disagrees with float64: loss error {row.loss_error:.2e}, worst gradient "
              f"entry {row.grad_error:.2e} x its tolerance")
    return 1 if bad else 0
