"""``hacd-graph describe AUDIO... --run DIR``: what a trained run hears in audio files.

For each file it prints the hierarchical description (in the format of the data's
descriptions, from the general category down) and the concept tree with the student's
probability at every level; ``--json`` prints one JSON object per line and file instead
(DESIGN.md "Describing audio"): ``file``, ``description`` and ``concepts``, a list of
``{id, name, level, prob, audioset}``; a file that cannot be read gives ``file`` and
``error``, and the other files are still described (the exit status is then 1).

**Any file soundfile reads** (WAV, FLAC, OGG, MP3 where libsndfile has it), any sample rate
and channel count: the audio is mixed to mono and resampled to the teacher's rate.

**Long files are read in windows** of the run's clip length (``data.duration_s``): the
teacher scores each window (the last one ends at the file's end), a concept's probability
is its maximum over the windows (present anywhere in the file), and the bridge reads the
teacher's frame features of all windows in time order. A file no longer than one window is
read whole, without padding.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from hacd_graph.errors import UserError


@dataclass
class Description:
    """What the run hears in one file.

    Attributes:
        file: the file as given.
        description: the generated hierarchical description.
        probs: ``[N]`` the student's marginal probability of every concept.
        seconds: the file's length.
    """

    file: str
    description: str
    probs: torch.Tensor
    seconds: float


@torch.no_grad()
def teacher_view(teacher: Any, waveform: torch.Tensor, window: int
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """The teacher's frame features ``[T, Da]`` and marginals ``[N]`` of a mono waveform.

    See the module docstring for how files longer than ``window`` samples are read.
    """
    s = waveform.shape[-1]
    if s <= window:
        out = teacher(waveform=waveform[None])
        return out.frames[0].float(), out.probs[0].float()
    starts = list(range(0, s - window + 1, window))
    if starts[-1] != s - window:
        starts.append(s - window)
    frames, probs = [], []
    for a in starts:
        out = teacher(waveform=waveform[None, a:a + window])
        frames.append(out.frames[0].float())
        probs.append(out.probs[0].float())
    return torch.cat(frames), torch.stack(probs).max(dim=0).values


def describe_file(run: Any, path: str | Path, max_new_tokens: int,
                  generation: dict[str, Any] | None = None) -> Description:
    """Describe one file with a loaded :class:`~hacd_graph.eval.trained_run.TrainedRun`.

    Raises:
        AudioReadError: the file cannot be read as audio (names the file and why).
    """
    from hacd_graph.data.audio_io import load_audio

    sample_rate = run.teacher.config.logmel.sample_rate
    wave = load_audio(path, sample_rate)
    window = max(1, int(round(float(run.config["data"].get("duration_s", 4.0)) * sample_rate)))
    frames, teacher_probs = teacher_view(run.teacher, wave, window)
    text = run.generate([run.prompts["description"]], frames[None], teacher_probs[None],
                        max_new_tokens, **(generation or {}))[0]
    probs = run.concept_probs(frames[None], teacher_probs[None])[0]
    return Description(str(path), text, probs, wave.shape[-1] / sample_rate)


def concept_records(ach: Any, probs: torch.Tensor, threshold: float) -> list[dict[str, Any]]:
    """``{id, name, level, prob, audioset}`` of the concepts at or above ``threshold``
    (the root left out), general to specific, most probable first within a level."""
    keep = [c for c in range(len(ach)) if ach.level[c] > 0 and probs[c] >= threshold]
    keep.sort(key=lambda c: (int(ach.level[c]), -float(probs[c])))
    return [{"id": ach.ids[c], "name": ach.names[c], "level": int(ach.level[c]),
             "prob": round(float(probs[c]), 4), "audioset": list(ach.concept(c).audioset)}
            for c in keep]


def concept_tree(ach: Any, probs: torch.Tensor, threshold: float, max_children: int = 6
                 ) -> list[str]:
    """Indented lines of the concepts at or above ``threshold``, each under its main
    parent, with its probability; the most probable path when none passes it."""
    root = int(torch.nonzero(ach.level == 0)[0])
    lines: list[str] = []

    def walk(c: int, depth: int, shown: set[int]) -> None:
        kids = [k for k in ach.children(c) if probs[k] >= threshold and k not in shown
                and ach.concept(k).parents[0] == ach.ids[c]]
        kids.sort(key=lambda k: -float(probs[k]))
        for k in kids[:max_children]:
            shown.add(k)
            lines.append(f"{'  ' * depth}{ach.names[k]}  {float(probs[k]):.2f}")
            walk(k, depth + 1, shown)
        if len(kids) > max_children:
            lines.append(f"{'  ' * depth}... {len(kids) - max_children} more")

    walk(root, 1, set())
    if not lines:  # nothing is likely: the best guess at each level
        c, depth = root, 1
        while ach.children(c):
            c = max(ach.children(c), key=lambda k: float(probs[k]))
            lines.append(f"{'  ' * depth}{ach.names[c]}  {float(probs[c]):.2f} "
                         "(below the threshold)")
            depth += 1
    return lines


@torch.no_grad()
def _run(args: argparse.Namespace) -> int:
    from hacd_graph.data.audio_io import AudioReadError
    from hacd_graph.eval.stage import GenerationSettings
    from hacd_graph.eval.trained_run import TrainedRun

    if not 0.0 < args.threshold < 1.0:
        raise UserError(f"--threshold {args.threshold}: expected a probability in (0, 1)")
    run = TrainedRun.load(args.run, progress=not args.json)
    settings = GenerationSettings(**run.config.get("eval", {}).get("generation", {}))
    tokens = args.max_new_tokens or settings.description_tokens
    failed = 0
    for path in args.audio:
        try:
            result = describe_file(run, path, tokens, settings.kwargs())
        except AudioReadError as error:
            failed += 1
            if args.json:
                print(json.dumps({"file": str(path), "error": str(error)}), flush=True)
            else:
                print(f"{path}: error: {error}", file=sys.stderr, flush=True)
            continue
        concepts = concept_records(run.ach, result.probs, args.threshold)
        if args.json:
            print(json.dumps({"file": result.file, "description": result.description,
                              "concepts": concepts}), flush=True)
            continue
        print(f"== {result.file} ({result.seconds:.1f} s)")
        print(result.description)
        print(f"Concepts (probability >= {args.threshold:g}):")
        for line in concept_tree(run.ach, result.probs, args.threshold):
            print(line)
        print(flush=True)
    return 1 if failed else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``describe`` command."""
    parser = subparsers.add_parser(
        "describe", help="describe audio files with a trained run",
        description=__doc__.split("\n\n")[0])
    parser.add_argument("audio", nargs="+", type=Path, help="audio files (any rate, "
                        "channels, length; formats soundfile reads)")
    parser.add_argument("--run", type=Path, required=True,
                        help="a trained run directory (train.py's run.dir)")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per line and file")
    parser.add_argument("--threshold", type=float, default=0.5,
                        help="concepts at or above this probability are listed (default 0.5)")
    parser.add_argument("--max-new-tokens", type=int, default=None,
                        help="length of the description (default: the run's eval setting)")
    parser.set_defaults(func=_run)
