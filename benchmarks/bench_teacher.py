"""Teacher benchmark: training throughput (cached vs on-the-fly features) and GNN forward
time on the merged core+AudioSet hierarchy.

Checks first that cached and on-the-fly features agree and that every encoder's output is
finite; warms up; repeats; prints the machine, versions and git revision, a table with
ratios, and writes ``OUT/bench_teacher.json``.

    python benchmarks/bench_teacher.py [--ontology PATH] [--steps 20] [--out outputs/bench]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hacd_graph.ach import build_ach  # noqa: E402
from hacd_graph.data.features import LogMel  # noqa: E402
from hacd_graph.gnn import ConceptEncoder, GNNConfig  # noqa: E402
from hacd_graph.pipeline import compose_config  # noqa: E402
from hacd_graph.provenance import git_revision  # noqa: E402
from hacd_graph.teacher import TeacherConfig  # noqa: E402
from hacd_graph.teacher.stage import TeacherStage  # noqa: E402
from hacd_graph.training import DistributedContext, TrainerConfig, fit  # noqa: E402


def environment() -> dict[str, str]:
    """Machine, versions and git revision."""
    rev = git_revision(ROOT) or "?"
    return {"machine": platform.processor() or platform.machine(),
            "cpus": str(torch.get_num_threads()), "python": platform.python_version(),
            "torch": torch.__version__, "git": rev}


def bench_gnn(ontology: Path, repeats: int) -> list[dict]:
    """Forward and forward+backward time of each encoder on core+AudioSet."""
    ach = build_ach(("core", "audioset"), audioset_ontology=ontology)
    rows = []
    for encoder in ("none", "gcn", "sage", "gatv2"):
        enc = ConceptEncoder(ach, GNNConfig(encoder=encoder))
        out = enc()
        assert out.shape == (len(ach), enc.out_dim)
        assert torch.isfinite(out).all(), f"{encoder}: non-finite embeddings"
        fwd, full = [], []
        for _ in range(2):  # warm-up
            enc().sum().backward()
        for _ in range(repeats):
            t = time.perf_counter()
            with torch.no_grad():
                enc()
            fwd.append(time.perf_counter() - t)
            t = time.perf_counter()
            enc().sum().backward()
            full.append(time.perf_counter() - t)
        rows.append({"encoder": encoder, "nodes": len(ach),
                     "edges": int(enc.edge_index.shape[1]),
                     "forward_ms": 1e3 * statistics.median(fwd),
                     "fwd_bwd_ms": 1e3 * statistics.median(full)})
    return rows


def bench_throughput(steps: int, clips: int, batch_size: int) -> list[dict]:
    """Clips/s of teacher training with cached and with on-the-fly log-mel features."""
    from omegaconf import OmegaConf

    from hacd_graph.data.export import write_synthetic
    from hacd_graph.data.synth.scene import SceneConfig

    cfg = compose_config("distill_gnn")
    teacher = TeacherConfig(**OmegaConf.to_container(cfg.teacher, resolve=True))
    gnn = GNNConfig(**OmegaConf.to_container(cfg.gnn, resolve=True))
    ach = build_ach()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        scene = SceneConfig(duration_s=float(cfg.data.duration_s))
        write_synthetic(root / "train", clips, seed=1, config=scene, progress=False)
        write_synthetic(root / "eval", 8, seed=2, config=scene, progress=False)
        stages = {mode: TeacherStage(ach, teacher, gnn, root / "train", root / "eval",
                                     batch_size, features=mode, show_progress=False)
                  for mode in ("cached", "on_the_fly")}
        # correctness first: the cache holds what the front end computes on the fly
        wav = stages["on_the_fly"].train.dataset[0]["audio"]
        direct = LogMel(teacher.logmel)(wav)
        cached = stages["cached"].train_features[0].float()
        assert torch.allclose(cached, direct, atol=0.05, rtol=0.01), "feature cache mismatch"
        for mode, stage in stages.items():
            trainer = TrainerConfig(max_steps=steps, batch_size=batch_size, warmup_steps=1,
                                    log_every=max(1, steps // 2), ckpt_every=0,
                                    progress=False)
            r = fit(stage, trainer, root / f"run-{mode}", DistributedContext())
            rows.append({"features": mode, "batch_size": batch_size, "steps": steps,
                         # the last log window: after warm-up
                         "clips_per_s": r.metrics["train"]["examples_per_s"],
                         "clips_per_s_all": r.metrics["train"]["examples"]
                         / r.metrics["train"]["wall_s"]})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ontology", type=Path,
                        default=ROOT.parent / "shared" / "data" / "audioset" / "ontology.json")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--clips", type=int, default=160)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "bench")
    args = parser.parse_args(argv)
    env = environment()
    print(" ".join(f"{k}={v}" for k, v in env.items()))
    gnn = bench_gnn(args.ontology, args.repeats)
    print(f"\nGNN on core+AudioSet ({gnn[0]['nodes']} concepts), median of {args.repeats}:")
    print(f"{'encoder':8} {'edges':>6} {'fwd ms':>8} {'fwd+bwd ms':>11} {'vs none':>8}")
    for row in gnn:
        ratio = row["fwd_bwd_ms"] / max(gnn[0]["fwd_bwd_ms"], 1e-9)
        print(f"{row['encoder']:8} {row['edges']:6d} {row['forward_ms']:8.1f} "
              f"{row['fwd_bwd_ms']:11.1f} {ratio:7.1f}x")
    thr = bench_throughput(args.steps, args.clips, args.batch_size)
    print(f"\nteacher training (default config, batch {args.batch_size}, {args.steps} steps):")
    print(f"{'features':11} {'clips/s':>8} {'(all steps)':>12} {'vs cached':>10}")
    for row in thr:
        ratio = row["clips_per_s"] / max(thr[0]["clips_per_s"], 1e-9)
        print(f"{row['features']:11} {row['clips_per_s']:8.1f} {row['clips_per_s_all']:12.1f} "
              f"{ratio:9.2f}x")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_teacher.json").write_text(json.dumps(
        {"environment": env, "gnn": gnn, "throughput": thr}, indent=2))
    print(f"\nwrote {args.out / 'bench_teacher.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
