"""``hacd-graph data ...``: generate synthetic data, export shards, preview clips."""

from __future__ import annotations

import argparse
import os


def _config(args: argparse.Namespace):
    from hacd_graph.data.synth.scene import SceneConfig

    return SceneConfig(sample_rate=args.sample_rate, duration_s=args.duration, preset=args.preset)


def _add_scene_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=0, help="data set seed (default 0)")
    p.add_argument("--sample-rate", type=int, default=16000, help="Hz (default 16000)")
    p.add_argument("--duration", type=float, default=4.0, help="clip length in seconds (default 4)")
    p.add_argument(
        "--preset", default=None, help="a named scene preset, e.g. jazz_cafe (default none)"
    )


def _synth(args: argparse.Namespace) -> int:
    from hacd_graph.data.export import write_shards, write_synthetic

    path = write_synthetic(
        args.out, args.n, args.seed, _config(args), workers=args.workers, progress=not args.quiet
    )
    print(f"wrote {args.n} clips and {path}")
    if args.shards:
        shards = write_shards(args.out, args.shards, args.shard_size, progress=not args.quiet)
        print(f"wrote {len(shards)} shards to {args.shards}")
    return 0


def _shards(args: argparse.Namespace) -> int:
    from hacd_graph.data.export import write_shards

    shards = write_shards(args.manifest, args.out, args.shard_size, progress=not args.quiet)
    print(f"wrote {len(shards)} shards to {args.out}")
    return 0


def _preview(args: argparse.Namespace) -> int:
    from hacd_graph.ach import build_ach
    from hacd_graph.data.preview import write_preview

    wavs = write_preview(
        args.out,
        build_ach(),
        args.seed,
        list(range(args.start, args.start + args.n)),
        _config(args),
    )
    for w in wavs:
        print(f"{w}  (+ .png spectrogram, .txt labels and texts, .json record)")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``data`` command group."""
    group = subparsers.add_parser("data", help="synthetic scenes, shards, previews")
    sub = group.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("synth", help="generate N clips as WAV + manifest.jsonl (resumable)")
    p.add_argument("--n", type=int, required=True, help="number of clips")
    p.add_argument("--out", required=True, help="output folder")
    _add_scene_args(p)
    p.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="processes (default: all cores)"
    )
    p.add_argument(
        "--shards", default=None, help="also export WebDataset tar shards to this folder"
    )
    p.add_argument("--shard-size", type=int, default=1000, help="clips per shard (default 1000)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_synth)

    p = sub.add_parser("shards", help="export a WAV + manifest folder to WebDataset tar shards")
    p.add_argument("--manifest", required=True, help="folder holding manifest.jsonl")
    p.add_argument("--out", required=True, help="output folder for shard-NNNNNN.tar")
    p.add_argument("--shard-size", type=int, default=1000, help="clips per shard (default 1000)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_shards)

    p = sub.add_parser(
        "preview", help="write a few clips as WAV + spectrogram PNG + label tree + texts"
    )
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--n", type=int, default=4, help="number of clips (default 4)")
    p.add_argument("--start", type=int, default=0, help="first clip index (default 0)")
    _add_scene_args(p)
    p.set_defaults(func=_preview)
