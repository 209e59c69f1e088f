"""Data at the method's scale: throughput of each stage that feeds the teacher, and a
projection of the time for 1,000,000 clips.

Measured separately, each as the median of repeats after a warm-up, in clips per second:

(a) generation: synthetic scenes with labels and texts (``make_example``, what
    ``SyntheticStream`` yields), in 1 process and in 2 processes;
(b) shard reading + features: WebDataset tar shards decoded and turned into log-mel in the
    DataLoader (``FeatureStream(ShardStream)``), with 0 workers (this process) and 2;
(c) teacher training: forward + backward + optimiser step of the default teacher
    (``configs/distill_gnn.yaml``: CNN, graph head over core + AudioSet) on cached features,
    so generation is excluded;
(d) end to end, as a check on the projection made from (a)-(c): the teacher stage trained
    from ``SyntheticStream`` through the one loop.

Checks first that shard clips decode to the generator's audio, that streamed features equal
the front end's on the same audio, and that 2 workers read every clip of an epoch once.
Writes ``benchmarks/results/data_scale.{md,json}`` with the git revision, the machine's
cores, torch's threads and the load average before and after.

    OMP_NUM_THREADS=1 python benchmarks/bench_data_scale.py        # < 3 min on 2 cores
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hacd_graph.ach import build_ach  # noqa: E402
from hacd_graph.data.shards import write_synthetic_shards  # noqa: E402
from hacd_graph.data.streaming import ShardStream, list_shards  # noqa: E402
from hacd_graph.data.synth.scene import SceneConfig, generate  # noqa: E402
from hacd_graph.data.synthetic import make_example  # noqa: E402
from hacd_graph.provenance import git_revision  # noqa: E402

CLIPS = 1_000_000
GPU_WORKERS = (8, 16, 32)

_GEN: dict = {}


def _init_gen(duration: float) -> None:
    _GEN.update(ach=build_ach(("core", "audioset")), config=SceneConfig(duration_s=duration))


def _gen_range(bounds: tuple[int, int]) -> int:
    for i in range(*bounds):
        make_example(7, i, _GEN["ach"], _GEN["config"])
    return bounds[1] - bounds[0]


def median_rate(fn, clips: int, repeats: int) -> tuple[float, list[float]]:
    """Median clips/s of ``repeats`` calls of ``fn(r)`` (each handles ``clips`` clips)."""
    rates = []
    for r in range(repeats):
        t = time.perf_counter()
        fn(r)
        rates.append(clips / (time.perf_counter() - t))
    return statistics.median(rates), rates


def bench_generation(duration: float, clips: int, repeats: int, warmup: int) -> dict:
    """(a) clips/s of the generator in 1 and 2 processes (pool start-up not timed)."""
    _init_gen(duration)
    # warm the per-process caches (note tables, beds, rooms, filters; the pool's forked
    # workers inherit them): a long stream runs warm
    _gen_range((10_000, 10_000 + warmup))
    one, one_all = median_rate(lambda r: _gen_range((r * clips, (r + 1) * clips)), clips,
                               repeats)
    ctx = mp.get_context("fork")
    with ctx.Pool(2, _init_gen, (duration,)) as pool:
        pool.map(_gen_range, [(10_000, 10_010), (10_010, 10_020)])  # warm both workers
        n = 2 * clips

        def two_procs(r: int) -> None:
            base = 100_000 + r * n
            pool.map(_gen_range, [(base, base + clips), (base + clips, base + n)])

        two, two_all = median_rate(two_procs, n, repeats)
    return {"1_process": one, "2_processes": two, "repeats_1": one_all, "repeats_2": two_all}


def bench_reading(shards: list[Path], ach, logmel, num_samples: int, batch: int,
                  repeats: int) -> dict:
    """(b) clips/s of shard reading + log-mel through the DataLoader, 0 and 2 workers."""
    from hacd_graph.teacher.data import FeatureStream, stream_batches

    stream = ShardStream(shards, ach, logmel.sample_rate, num_samples, seed=0)
    total = sum(stream.clip_counts())
    out = {}
    for workers in (0, 2):
        rates = []
        for r in range(repeats + 1):  # the first epoch is a warm-up
            batches = stream_batches(FeatureStream(stream, logmel), r, batch, workers, 10**9)
            first = next(batches)  # timed from here: worker start-up is once per epoch
            t = time.perf_counter()
            n = sum(len(b["target"]) for b in batches)
            rates.append(n / (time.perf_counter() - t))
            assert n + len(first["target"]) == total, "clips lost or repeated"
        out[f"{workers}_workers"], out[f"repeats_{workers}"] = statistics.median(rates[1:]), \
            rates[1:]
    return out


def bench_training(features: torch.Tensor, targets: torch.Tensor, ach, teacher, gnn,
                   steps: int, repeats: int) -> dict:
    """(c) clips/s of forward + backward + AdamW steps on cached features."""
    from hacd_graph.teacher.losses import teacher_loss
    from hacd_graph.teacher.model import TeacherModel

    torch.manual_seed(0)
    model = TeacherModel(ach, teacher, gnn).train()
    optim = torch.optim.AdamW(model.parameters(), lr=1e-3)
    ancestors = ach.ancestor_table()
    batch = len(features)

    def run(r: int) -> None:
        for _ in range(steps):
            out = model(features=features)
            loss = teacher_loss(teacher.loss, out.logits.float(), targets, ancestors)
            optim.zero_grad()
            loss.backward()
            optim.step()

    out: dict = {"batch_size": batch}
    threads = torch.get_num_threads()
    for n in sorted({1, os.cpu_count() or 1}):
        torch.set_num_threads(n)
        run(0)  # warm-up
        out[f"{n}_threads"], out[f"repeats_{n}"] = median_rate(run, steps * batch, repeats)
    torch.set_num_threads(threads)
    out["clips_per_s"] = max(out[f"{n}_threads"] for n in {1, os.cpu_count() or 1})
    return out


def bench_end_to_end(ach, teacher, gnn, batch: int, steps: int, duration: float,
                     tmp: Path) -> dict:
    """(d) clips/s of the teacher stage trained from the stream through the one loop, with
    1 DataLoader worker and torch on every core (start-up included: a conservative figure)."""
    from hacd_graph.data.export import write_synthetic
    from hacd_graph.teacher.data import StreamSource
    from hacd_graph.teacher.stage import TeacherStage
    from hacd_graph.training import DistributedContext, TrainerConfig, fit

    scene = SceneConfig(duration_s=duration)
    write_synthetic(tmp / "eval", 16, seed=2, config=scene, progress=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(os.cpu_count() or 1)
    stage = TeacherStage(ach, teacher, gnn, None, tmp / "eval", batch, num_workers=1,
                         show_progress=False,
                         source=StreamSource("stream", stream_clips=CLIPS, seed=1, scene=scene))
    cfg = TrainerConfig(max_steps=steps, batch_size=batch, log_every=steps, ckpt_every=0,
                        eval_every=0, progress=False)
    result = fit(stage, cfg, tmp / "teacher", DistributedContext())
    torch.set_num_threads(threads)
    train = result.metrics["train"]
    return {"clips_per_s": train["examples_per_s"], "steps": steps, "num_workers": 1,
            "threads": os.cpu_count() or 1, "wall_s": train["wall_s"]}


def check(shards: list[Path], ach, logmel, num_samples: int, duration: float) -> None:
    """Correctness before timing: decoded audio, features, one read per clip."""
    from torch.utils.data import DataLoader

    from hacd_graph.teacher.data import FeatureStream
    from hacd_graph.teacher.frontend import make_frontend

    stream = ShardStream(shards, ach, logmel.sample_rate, num_samples)
    item = next(iter(stream))
    audio, _ = generate(7, int(item["id"].split("-")[1]), SceneConfig(duration_s=duration))
    assert np.abs(item["audio"].numpy() - audio).max() < 1e-4, "shard audio != generator's"
    feats = next(iter(FeatureStream(stream, logmel)))["features"]
    with torch.no_grad():
        ref = make_frontend(logmel)(item["audio"][None])[0]
    torch.testing.assert_close(feats, ref)
    ids = [x["id"] for x in DataLoader(stream, batch_size=None, num_workers=2)]
    assert len(ids) == len(set(ids)) == sum(stream.clip_counts()), "duplicates or gaps"


def project(gen: dict, read: dict, train: dict, cores: int) -> dict:
    """Hours for 1M clips; the method is written out in the report."""
    cpu_stages = {"generation": max(gen["1_process"], gen["2_processes"]),
                  "read+features": max(read["0_workers"], read["2_workers"]),
                  "training": train["clips_per_s"]}
    bound = min(cpu_stages.values())
    # every stage competes for the same cores: per-clip core-seconds add up
    per_core = {"generation": gen["1_process"], "read+features": read["0_workers"],
                "training": train["1_threads"]}
    shared = cores / sum(1 / v for v in per_core.values())  # every core busy
    ranks = min(cores * per_core["training"], shared)  # one 1-thread rank per core
    worker = 1 / (1 / gen["1_process"] + 1 / read["0_workers"])  # one worker: scene + log-mel
    gpu = {str(n): {"stream_h": CLIPS / (n * worker) / 3600,
                    "shards_h": CLIPS / (n * read["0_workers"]) / 3600}
           for n in GPU_WORKERS}
    return {"cpu_stages": cpu_stages, "cpu_min_stage": min(cpu_stages, key=cpu_stages.get),
            "cpu_bound_h": CLIPS / bound / 3600, "cpu_ranks_h": CLIPS / ranks / 3600,
            "cpu_data_cores": bound * (1 / per_core["generation"]
                                       + 1 / per_core["read+features"]),
            "per_core": per_core, "worker_clips_per_s": worker, "gpu": gpu}


def duration(hours: float) -> str:
    """``7.3 h``, ``25 min`` or ``< 1 min``."""
    if hours >= 1:
        return f"{hours:.1f} h"
    return f"{hours * 60:.0f} min" if hours * 60 >= 1 else "< 1 min"


def report_md(res: dict) -> str:
    g, r, t, p, env = res["generation"], res["reading"], res["training"], res["projection"], \
        res["environment"]
    e = res["end_to_end"]
    lines = [
        "# Data at the method's scale: throughput and a projection for 1,000,000 clips", "",
        f"git `{env['git']}`, {env['machine']}, {env['cores']} cores, torch {env['torch']} "
        f"({env['torch_threads']} thread(s)), load average before "
        f"{env['load_before']}, after {env['load_after']}; clips of {res['duration_s']} s "
        f"at 16 kHz, default teacher (`configs/distill_gnn.yaml`: "
        f"{res['teacher_summary']}), hierarchy of {res['concepts']} concepts. Every figure "
        f"is the median of {res['repeats']} repeats after a warm-up "
        "(`benchmarks/bench_data_scale.py`).", "",
        "| stage | setting | clips/s |", "|---|---|---:|",
        f"| (a) generation (scene + labels + texts) | 1 process | {g['1_process']:.1f} |",
        f"| (a) generation | 2 processes | {g['2_processes']:.1f} "
        f"(x{g['2_processes'] / g['1_process']:.2f}) |",
        f"| (b) shard reading + log-mel, DataLoader | 0 workers | {r['0_workers']:.1f} |",
        f"| (b) shard reading + log-mel, DataLoader | 2 workers | {r['2_workers']:.1f} |",
        *[f"| (c) teacher training (fwd + bwd + AdamW, cached features) | batch "
          f"{t['batch_size']}, {n} thread(s) | {t[f'{n}_threads']:.1f} |"
          for n in sorted({1, env['cores']})],
        f"| (d) end to end: teacher stage from the stream, through the loop | 1 worker, "
        f"{e['threads']} threads, {e['steps']} steps | {e['clips_per_s']:.1f} |", "",
        "## Projection for 1,000,000 clips (one pass); a projection, not a measurement", "",
        f"- **This CPU machine, one training process** (`python train.py ... "
        f"data=stream_1m`), stages overlapped (DataLoader workers beside the training "
        f"step): the pipeline runs at its slowest stage, `{p['cpu_min_stage']}` "
        f"({p['cpu_stages'][p['cpu_min_stage']]:.1f} clips/s at its best thread count): "
        f"1e6 / that = **{duration(p['cpu_bound_h'])}**. Feeding it takes "
        f"{p['cpu_data_cores']:.2f} cores of generation + log-mel, which fit beside it on "
        f"{env['cores']} cores. **Measured end to end** (d): the teacher stage trained "
        f"from the stream through the loop ({e['steps']} steps, 1 worker, {e['threads']} "
        f"threads, start-up included) made {e['clips_per_s']:.1f} clips/s, i.e. "
        f"**{duration(CLIPS / e['clips_per_s'] / 3600)}** for 1e6 clips: the worker and the "
        f"training threads contend for the same cores, which the stage bound ignores; "
        f"take the measured figure.",
        f"- **This CPU machine, one 1-thread rank per core** (`deepspeed --num_gpus "
        f"{env['cores']}`, gloo; all-reduce cost left out): the stages then share every core, "
        f"so their per-clip core-seconds (1 process, 1 thread each) add up: "
        f"{env['cores']} / (1/{p['per_core']['generation']:.1f} + "
        f"1/{p['per_core']['read+features']:.1f} + 1/{p['per_core']['training']:.1f}) "
        f"clips/s, at best **{duration(p['cpu_ranks_h'])}**. (Generation and WAV decoding "
        f"are both costed: the stream does the first, shards the second, so this slightly "
        f"overstates either.)",
        f"- **One GPU** (H100/H200): training could not be measured here (no GPU). "
        f"Assumed: the GPU trains the teacher far faster than CPUs feed it (the teacher is a "
        f"small CNN; check `examples_per_s` in `teacher/metrics.json` of a GPU run), so the "
        f"data pipeline is the bound. One DataLoader worker makes "
        f"{p['worker_clips_per_s']:.1f} clips/s (1 / (1/generation + 1/read+log-mel), 1 "
        f"process each); N workers on N free cores are assumed to make N times that (the "
        f"workers share nothing; measured here with 2 processes on {env['cores']} cores: "
        f"x{g['2_processes'] / g['1_process']:.2f}, noisy, and a loaded machine depresses "
        f"it). Here the end-to-end run reached "
        f"{e['clips_per_s'] / p['cpu_stages'][p['cpu_min_stage']]:.2f} of its stage bound "
        f"(collation, hand-over between processes, the loop); expect a shortfall of that "
        f"order on the GPU machine too:", "",
        "| CPU workers | stream (generate + log-mel) | holds if the GPU trains >= | "
        "pre-written shards (read + log-mel) | holds if the GPU trains >= |",
        "|---:|---:|---:|---:|---:|",
    ]
    for n, v in p["gpu"].items():
        lines.append(f"| {n} | {duration(v['stream_h'])} | {CLIPS / v['stream_h'] / 3600:.0f} "
                     f"clips/s | {duration(v['shards_h'])} | "
                     f"{CLIPS / v['shards_h'] / 3600:.0f} clips/s |")
    lines += [
        "",
        "What would change it: more or faster CPU cores (linear in the workers until memory "
        "bandwidth or the GPU binds); a GPU slower than the data rate (then training binds: "
        "1e6 / its clips/s); longer clips (generation and log-mel scale with duration); "
        "writing shards once (`hacd-graph data shards --n 1000000`, at the 2-process "
        "generation rate) and training from them; log-mel on the GPU instead of in workers "
        "(the model's front end does it with `data.source=folders data.features=on_the_fly`); "
        "load from other work on this machine (see the load average above: a loaded machine "
        "gives pessimistic figures).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clips", type=int, default=150, help="clips per process per repeat (a)")
    p.add_argument("--shard-clips", type=int, default=384, help="clips in 8 shards (b)")
    p.add_argument("--steps", type=int, default=10, help="training steps per repeat (c)")
    p.add_argument("--warmup", type=int, default=200, help="generator warm-up clips (a)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--e2e-steps", type=int, default=60, help="steps of the end-to-end run (d)")
    p.add_argument("--duration", type=float, default=2.0)
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "data_scale"))
    args = p.parse_args(argv)

    from hacd_graph.gnn import GNNConfig
    from hacd_graph.pipeline import compose_config
    from hacd_graph.pipeline.stages import container
    from hacd_graph.teacher import TeacherConfig
    from hacd_graph.teacher.data import FeatureStream

    load_before = [round(x, 2) for x in os.getloadavg()]
    cfg = compose_config("distill_gnn")
    teacher, gnn = TeacherConfig(**container(cfg, "teacher")), GNNConfig(**container(cfg, "gnn"))
    batch = int(cfg.trainer.batch_size)
    ach = build_ach(("core", "audioset"))
    logmel = teacher.logmel
    num_samples = int(round(args.duration * logmel.sample_rate))

    with tempfile.TemporaryDirectory() as tmp:
        write_synthetic_shards(tmp, args.shard_clips, seed=7,
                               config=SceneConfig(duration_s=args.duration),
                               shard_size=max(args.shard_clips // 8, 1), workers=2,
                               progress=False)
        shards = list_shards(tmp)
        check(shards, ach, logmel, num_samples, args.duration)
        print("checks passed; timing", flush=True)
        gen = bench_generation(args.duration, args.clips, args.repeats, args.warmup)
        print(f"(a) generation {gen['1_process']:.1f} / {gen['2_processes']:.1f} clips/s",
              flush=True)
        read = bench_reading(shards, ach, logmel, num_samples, batch, args.repeats)
        print(f"(b) read+features {read['0_workers']:.1f} / {read['2_workers']:.1f} clips/s",
              flush=True)
        items = list(itertools.islice(FeatureStream(ShardStream(
            shards, ach, logmel.sample_rate, num_samples), logmel), batch))
    features = torch.stack([x["features"] for x in items])
    targets = torch.stack([x["target"] for x in items])
    train = bench_training(features, targets, ach, teacher, gnn, args.steps, args.repeats)
    print(f"(c) training {train['clips_per_s']:.1f} clips/s", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        e2e = bench_end_to_end(ach, teacher, gnn, batch, args.e2e_steps, args.duration,
                               Path(tmp))
    print(f"(d) end to end {e2e['clips_per_s']:.1f} clips/s", flush=True)

    res = {
        "environment": {"git": git_revision(ROOT) or "?", "cores": os.cpu_count(),
                        "machine": platform.processor() or platform.machine(),
                        "python": platform.python_version(), "torch": torch.__version__,
                        "torch_threads": torch.get_num_threads(), "load_before": load_before,
                        "load_after": [round(x, 2) for x in os.getloadavg()]},
        "duration_s": args.duration, "repeats": args.repeats, "concepts": len(ach),
        "teacher_summary": f"{teacher.backbone} backbone, {teacher.head} head, "
                           f"{gnn.encoder} GNN, {logmel.n_mels} mels, hop {logmel.hop_length}",
        "generation": gen, "reading": read, "training": train, "end_to_end": e2e,
        "projection": project(gen, read, train, os.cpu_count() or 1),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(res, indent=2) + "\n")
    out.with_suffix(".md").write_text(report_md(res))
    print(report_md(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
