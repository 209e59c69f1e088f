"""Cost per clip of the teacher's backbones: the default CNN against the larger ones.

For each teacher configuration (``configs/teacher/<name>.yaml`` composed into
``distill_gnn``): parameters, forward FLOPs per 2-s clip of the backbone and of the whole
teacher (front end, backbone, and the graph head, whose GNN runs once per batch;
``torch.utils.flop_counter``),
inference time per 2-s clip and per 10-s file (read in 2-s windows, hop 1 s, max over
windows: ``teacher.robustness.windowed_probs``, what ``describe`` and the real-audio
evaluation do), and training throughput (forward + backward + AdamW step on batches of
2-s log-mel features, the robustness variation off so every configuration sees the same
shapes). Medians over repeats after a warm-up, side by side with the ratio to the first
configuration. Exits 1 when an output is wrong (non-finite, a probability outside [0, 1],
a shape that differs from the hierarchy's).

    python benchmarks/bench_backbones.py [--teachers cnn cnn_large] [--threads 2] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch
from omegaconf import OmegaConf
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hacd_graph.ach import build_ach  # noqa: E402
from hacd_graph.gnn import GNNConfig  # noqa: E402
from hacd_graph.pipeline import compose_config  # noqa: E402
from hacd_graph.provenance import git_revision  # noqa: E402
from hacd_graph.teacher import TeacherConfig  # noqa: E402
from hacd_graph.teacher.model import TeacherModel  # noqa: E402
from hacd_graph.teacher.robustness import windowed_probs  # noqa: E402

CLIP_S, FILE_S = 2.0, 10.0


def median_s(fn, repeats: int, warmup: int = 2) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeats`` calls after ``warmup``."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def build(name: str, ach) -> TeacherModel:
    """The teacher of ``teacher=<name>`` in ``distill_gnn``."""
    cfg = compose_config("distill_gnn", [f"teacher={name}"])
    teacher = TeacherConfig(**OmegaConf.to_container(cfg.teacher, resolve=True))
    gnn = GNNConfig(**OmegaConf.to_container(cfg.gnn, resolve=True))
    return TeacherModel(ach, teacher, gnn)


def check(probs: torch.Tensor, n: int, what: str) -> None:
    """Exit 1 unless ``probs`` is a finite probability vector (or batch) over ``n`` concepts."""
    probs = probs.detach()
    ok = (probs.shape[-1] == n and bool(torch.isfinite(probs).all())
          and float(probs.min()) >= 0.0 and float(probs.max()) <= 1.0)
    if not ok:
        print(f"WRONG RESULT: {what}: shape {tuple(probs.shape)}, expected [..., {n}] "
              "finite probabilities", file=sys.stderr)
        raise SystemExit(1)


def measure(name: str, ach, batch_size: int, repeats: int) -> dict:
    """Parameters, FLOPs and times of one teacher configuration."""
    torch.manual_seed(0)
    model = build(name, ach)
    sr = model.config.logmel.sample_rate
    clip, long_file = torch.randn(1, int(CLIP_S * sr)), torch.randn(int(FILE_S * sr))
    row = {"teacher": name,
           "backbone_params": sum(p.numel() for p in model.backbone.parameters()),
           "params": sum(p.numel() for p in model.parameters())}
    model.eval()
    with torch.no_grad():
        with FlopCounterMode(display=False) as flops:
            out = model(waveform=clip)
        check(out.probs, len(ach), f"{name} 2-s clip")
        row["gflops_per_clip"] = flops.get_total_flops() / 1e9
        row["backbone_gflops_per_clip"] = sum(
            flops.get_flop_counts().get("TeacherModel.backbone", {}).values()) / 1e9
        row["infer_ms_per_clip"] = 1e3 * median_s(lambda: model(waveform=clip), repeats)
        check(windowed_probs(model, long_file, clip.shape[1]), len(ach), f"{name} 10-s file")
        row["infer_ms_per_10s_file"] = 1e3 * median_s(
            lambda: windowed_probs(model, long_file, clip.shape[1]), repeats)
    model.train()
    model.robustness = replace(model.robustness, enabled=False)  # same shapes for all
    features = model.frontend(torch.randn(batch_size, clip.shape[1])).detach()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step() -> None:
        probs = model(features=features).probs
        probs.mean().backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    step_s = median_s(step, repeats)
    row["train_ms_per_clip"] = 1e3 * step_s / batch_size
    row["train_clips_per_s"] = batch_size / step_s
    check(model.eval()(features=features[:1]).probs, len(ach), f"{name} after training steps")
    if not row["backbone_gflops_per_clip"] > 0:
        print(f"WRONG RESULT: {name}: no FLOPs counted in the backbone", file=sys.stderr)
        raise SystemExit(1)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--teachers", nargs="+", default=["cnn", "cnn_large"],
                        help="configs/teacher names; ratios are to the first")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "bench")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    env = {"git": git_revision(ROOT) or "?", "machine": platform.machine(),
           "threads": args.threads, "torch": torch.__version__,
           "load_avg": " ".join(f"{x:.2f}" for x in os.getloadavg())}
    print(" ".join(f"{k}={v}" for k, v in env.items()))
    ach = build_ach(("core", "audioset"))
    rows = [measure(name, ach, args.batch_size, args.repeats) for name in args.teachers]
    env["load_avg_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    base = rows[0]
    cols = [("backbone_params", "backbone params", "{:,.0f}"),
            ("backbone_gflops_per_clip", "backbone GFLOP / 2-s clip", "{:.3f}"),
            ("gflops_per_clip", "GFLOP / 2-s clip (all)", "{:.3f}"),
            ("infer_ms_per_clip", "infer ms / 2-s clip", "{:.1f}"),
            ("infer_ms_per_10s_file", "infer ms / 10-s file", "{:.1f}"),
            ("train_ms_per_clip", "train ms / clip", "{:.1f}"),
            ("train_clips_per_s", "train clips/s", "{:.1f}")]
    print(f"\n{len(ach)} concepts (core + AudioSet), {args.threads} threads, batch "
          f"{args.batch_size}, median of {args.repeats}; ratio to {base['teacher']}:")
    lines = ["| " + " | ".join(["teacher"] + [c[1] for c in cols]) + " |",
             "|---" * (len(cols) + 1) + "|"]
    for row in rows:
        cells = [row["teacher"]]
        for key, _, fmt in cols:
            ratio = row[key] / base[key] if base[key] else float("nan")
            cells.append(fmt.format(row[key]) + ("" if row is base else f" ({ratio:.1f}x)"))
        lines.append("| " + " | ".join(cells) + " |")
    print("\n".join(lines))
    print(f"load average before / after: {env['load_avg']} / {env['load_avg_after']}")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "bench_backbones.json"
    path.write_text(json.dumps({"environment": env, "rows": rows}, indent=2))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
