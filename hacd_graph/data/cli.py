"""``hacd-graph data ...``: generate synthetic data, export shards, preview clips, index real
datasets. Errors (an unknown preset, a folder made with other settings, a missing file, a
bad audio file) are one line (``hacd_graph.errors.run_main``)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from hacd_graph.errors import UserError


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {value:g}")
    return value


def _config(args: argparse.Namespace):
    from hacd_graph.data.synth.scene import SceneConfig

    return SceneConfig(
        sample_rate=args.sample_rate,
        duration_s=args.duration,
        preset=args.preset,
        cooccurrence=tuple(args.cooccurrence or ()),
        background_intensity=args.crowd,
        bank=str(Path(args.bank).resolve()) if args.bank else None,
        bank_packages=tuple(args.bank_packages or ()),
        bank_prob=args.bank_prob,
    )


def _add_scene_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=0, help="data set seed (default 0)")
    p.add_argument("--bank", default=None, help="a sound bank (hacd-graph data soundbank) "
                   "whose recordings join the scenes as foreground events")
    p.add_argument("--bank-packages", nargs="+", default=None, metavar="NAME",
                   help="bank packages to draw from (default all; e.g. the training split)")
    p.add_argument("--bank-prob", type=float, default=0.5,
                   help="probability that a scene gets bank events (default 0.5)")
    p.add_argument("--sample-rate", type=positive_int, default=16000, help="Hz (default 16000)")
    p.add_argument("--duration", type=positive_float, default=4.0,
                   help="clip length in seconds (default 4)")
    p.add_argument(
        "--preset", default=None, help="a named scene preset, e.g. jazz_cafe (default none)"
    )
    p.add_argument(
        "--crowd",
        choices=["light", "moderate", "heavy"],
        default=None,
        help="ambience intensity (crowd size, rain, traffic) for every clip (default: sampled)",
    )
    p.add_argument(
        "--cooccurrence",
        nargs="+",
        default=None,
        metavar="CSV",
        help="AudioSet segment CSVs whose label co-occurrence guides which sources share a scene",
    )


def _synth(args: argparse.Namespace) -> int:
    from hacd_graph.data.export import write_synthetic
    from hacd_graph.data.shards import write_shards

    path = write_synthetic(
        args.out, args.n, args.seed, _config(args), workers=args.workers, progress=not args.quiet
    )
    print(f"wrote {args.n} clips and {path}")
    if args.shards:
        shards = write_shards(args.out, args.shards, args.shard_size, progress=not args.quiet)
        print(f"wrote {len(shards)} shards to {args.shards}")
    return 0


def _shards(args: argparse.Namespace) -> int:
    from hacd_graph.data.shards import write_shards, write_synthetic_shards

    if (args.manifest is None) == (args.n is None):
        raise UserError("give either --manifest DIR (export) or --n N (generate)")
    if args.manifest is not None:
        manifest = Path(args.manifest)
        if not (manifest / "manifest.jsonl").is_file() and not manifest.is_file():
            raise UserError(f"--manifest {manifest}: no manifest.jsonl there")
        shards = write_shards(args.manifest, args.out, args.shard_size, progress=not args.quiet)
    else:
        shards = write_synthetic_shards(
            args.out,
            args.n,
            args.seed,
            _config(args),
            args.shard_size,
            args.workers,
            progress=not args.quiet,
        )
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


def _concepts(args: argparse.Namespace) -> int:
    from hacd_graph.ach import build_ach
    from hacd_graph.data.synth.catalog import rendered_source_concepts

    groups = rendered_source_concepts(build_ach())
    total = len({c for names in groups.values() for c in names})
    print(f"{total} sound-source concepts in {len(groups)} top-level categories:")
    for group, names in groups.items():
        print(f"  {group} ({len(names)}): {', '.join(names)}")
    return 0


def _real(args: argparse.Namespace) -> int:
    from hacd_graph.ach import build_ach
    from hacd_graph.data import real

    if args.dataset != "esc50" and args.meta is None:
        raise UserError(f"data real {args.dataset} needs --meta (its metadata CSV)")
    ach = build_ach()
    kw = {"skip_missing": args.skip_bad, "check_audio": args.check}
    if args.dataset == "audioset":
        clips, report = real.load_audioset(args.meta, args.audio, ach, args.ontology, **kw)
    elif args.dataset == "fsd50k":
        clips, report = real.load_fsd50k(args.meta, args.audio, ach, args.ontology, **kw)
    elif args.dataset == "esc50":
        clips, report = real.load_esc50(args.audio, ach, ontology=args.ontology, **kw)
    elif args.dataset == "clotho":
        clips, report = real.load_clotho(args.meta, args.audio, **kw)
    else:
        clips, report = real.load_audiocaps(
            args.meta, args.audio, ach, tuple(args.segments or ()), args.ontology, **kw
        )
    path = real.write_manifest(clips, args.out)
    print(f"wrote {len(clips)} clips to {path}; {report.summary()}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``data`` command group."""
    group = subparsers.add_parser("data", help="synthetic scenes, shards, previews")
    sub = group.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("synth", help="generate N clips as WAV + manifest.jsonl (resumable)")
    p.add_argument("--n", type=positive_int, required=True, help="number of clips")
    p.add_argument("--out", required=True, help="output folder")
    _add_scene_args(p)
    p.add_argument(
        "--workers", type=positive_int, default=os.cpu_count() or 1,
        help="processes (default: all cores)",
    )
    p.add_argument(
        "--shards", default=None, help="also export WebDataset tar shards to this folder"
    )
    p.add_argument("--shard-size", type=positive_int, default=1000,
                   help="clips per shard (default 1000)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_synth)

    p = sub.add_parser(
        "shards",
        help="WebDataset tar shards: export a WAV + manifest folder, or generate clips into shards",
    )
    p.add_argument("--manifest", default=None, help="folder holding manifest.jsonl (export)")
    p.add_argument("--n", type=positive_int, default=None,
                   help="number of clips to generate (instead)")
    p.add_argument("--out", required=True, help="output folder for shard-NNNNNN.tar")
    p.add_argument("--shard-size", type=positive_int, default=1000,
                   help="clips per shard (default 1000)")
    p.add_argument("--workers", type=positive_int, default=os.cpu_count() or 1,
                   help="processes")
    _add_scene_args(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_shards)

    p = sub.add_parser(
        "preview", help="write a few clips as WAV + spectrogram PNG + label tree + texts"
    )
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--n", type=positive_int, default=4, help="number of clips (default 4)")
    p.add_argument("--start", type=int, default=0, help="first clip index (default 0)")
    _add_scene_args(p)
    p.set_defaults(func=_preview)

    p = sub.add_parser(
        "real", help="index a real dataset (official metadata + your audio) into a manifest.jsonl"
    )
    p.add_argument("dataset", choices=["audioset", "fsd50k", "esc50", "clotho", "audiocaps"])
    p.add_argument(
        "--meta",
        default=None,
        help="metadata CSV (AudioSet segments, FSD50K dev/eval.csv, Clotho or AudioCaps captions)",
    )
    p.add_argument("--audio", required=True, help="audio folder (ESC-50: the dataset root)")
    p.add_argument("--out", required=True, help="manifest.jsonl to write")
    p.add_argument("--ontology", default=None, help="AudioSet ontology.json (better MID mapping)")
    p.add_argument("--segments", nargs="+", default=None, help="AudioCaps: AudioSet segment CSVs")
    p.add_argument("--skip-bad", "--skip-missing", dest="skip_bad", action="store_true",
                   help="skip clips whose audio is missing, empty, not audio, truncated, corrupt "
                   "or NaN (counted by reason) instead of stopping at the first")
    p.add_argument("--check", choices=["full", "header", "none"], default="full",
                   help="check each audio file: decode it (full, default), read its header, "
                   "or trust it (none)")
    p.set_defaults(func=_real)

    p = sub.add_parser("concepts", help="list the sound-source concepts the generator renders")
    p.set_defaults(func=_concepts)

    from hacd_graph.data.soundbank.cli import add_parser as add_soundbank

    add_soundbank(sub)
