"""Writing synthetic data to disk: WAV files + ``manifest.jsonl`` (resumable, parallel,
atomic). WebDataset tar shards are in ``shards.py``.

Layout of ``write_synthetic(out_dir, ...)``::

    out_dir/audio/s<seed>-<index>.wav     16-bit PCM, mono
    out_dir/manifest.jsonl                one JSON object per clip, in index order
    out_dir/manifest.partial.jsonl        while running; lets a killed run resume

Each file appears atomically (written to a temporary name, then ``os.replace``), so a killed
run leaves only complete files; clips whose manifest line was written are not redone. A
folder holds exactly the clips its manifest lists: rerunning with a smaller ``n`` removes
the generator's WAVs beyond it (never other files).
"""

from __future__ import annotations

import io
import json
import multiprocessing as mp
import re
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from hacd_graph.atomic_io import write_bytes_atomic
from hacd_graph.data.synth.scene import SceneConfig, scene_settings

MANIFEST = "manifest.jsonl"
PARTIAL = "manifest.partial.jsonl"
SETTINGS = "synth_settings.json"


def claim_folder(out: Path, settings: dict[str, Any]) -> None:
    """Record the settings ``out`` is generated with (``synth_settings.json``); refuse to
    resume into a folder made with other settings, which would mix two data sets.

    Raises:
        ValueError: naming the folder and the settings that differ.
    """
    settings = json.loads(json.dumps(settings))  # as JSON will read it back (tuples -> lists)
    path = out / SETTINGS
    if path.exists():
        old = json.loads(path.read_text(encoding="utf-8"))
        if old != settings:
            flat_old, flat_new = _flatten(old), _flatten(settings)
            diff = sorted(
                k for k in flat_old.keys() | flat_new.keys() if flat_old.get(k) != flat_new.get(k)
            )
            raise ValueError(
                f"{out} holds clips generated with other settings (differs in {', '.join(diff)}); "
                "use a new folder, or the same settings to resume"
            )
    else:
        write_bytes_atomic(path, json.dumps(settings, indent=1, sort_keys=True).encode("utf-8"))


def _lines(path: Path) -> int:
    """Non-empty lines of ``path`` (0 when it does not exist)."""
    if not path.exists():
        return 0
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """``audio`` (float in [-1, 1]) as 16-bit PCM WAV file bytes."""
    buf = io.BytesIO()
    sf.write(buf, np.clip(audio, -1.0, 1.0), sample_rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


# Worker state: built once per process by the pool initializer (the hierarchy is not cheap).
_WORKER: dict[str, Any] = {}


def _init_worker(config_dict: dict[str, Any], seed: int, out_dir: str) -> None:
    from hacd_graph.ach import build_ach

    _WORKER.update(ach=build_ach(), config=SceneConfig(**config_dict), seed=seed, out=Path(out_dir))


def _make_one(index: int) -> str:
    from hacd_graph.data.synthetic import make_example

    ex = make_example(_WORKER["seed"], index, _WORKER["ach"], _WORKER["config"])
    rel = f"audio/{ex.key}.wav"
    write_bytes_atomic(_WORKER["out"] / rel, wav_bytes(ex.audio, ex.record.sample_rate))
    return json.dumps(ex.manifest_entry(rel))


def worker_context() -> mp.context.BaseContext:
    """A start method that is safe when the caller already runs threads (torch, DeepSpeed):
    ``forkserver`` forks workers from a clean server that has imported the generator once
    (fast starts, no inherited thread pools); ``spawn`` where forkserver is unavailable."""
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(
        [
            "hacd_graph.ach",
            "hacd_graph.data.synthetic",
            "hacd_graph.data.export",
            "hacd_graph.data.shards",
        ]
    )
    return ctx


def _done_indices(partial: Path) -> dict[int, str]:
    """Manifest lines already written by an earlier (killed) run, by clip index."""
    done: dict[int, str] = {}
    if not partial.exists():
        return done
    with partial.open(encoding="utf-8") as f:
        for line in f:
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # the line being written when the run was killed
            done[int(entry["index"])] = line.rstrip("\n")
    return done


def write_synthetic(
    out_dir: str | Path,
    n: int,
    seed: int = 0,
    config: SceneConfig | None = None,
    workers: int = 1,
    progress: bool = True,
) -> Path:
    """Generate clips ``0..n-1`` of ``seed`` into ``out_dir`` (WAV + ``manifest.jsonl``).

    Resumable: rerunning with the same arguments skips clips already written.

    Args:
        out_dir: output folder (created).
        n: number of clips.
        seed: data set seed.
        config: generator settings (default ``SceneConfig()``).
        workers: processes (1 = in this process).
        progress: show a tqdm progress bar.

    Returns:
        The path of the manifest.
    """
    from tqdm import tqdm

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config = config or SceneConfig()
    claim_folder(out, {"seed": seed, "config": scene_settings(config)})
    partial = out / PARTIAL
    manifest = out / MANIFEST
    done = _done_indices(partial)
    if manifest.exists() and not partial.exists():
        for line in manifest.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            done[int(entry["index"])] = line
    done = {
        i: line for i, line in done.items() if i < n and (out / json.loads(line)["audio"]).exists()
    }
    todo = [i for i in range(n) if i not in done]
    if not todo and not partial.exists() and len(done) == _lines(manifest):
        return manifest  # complete: nothing is written (callers may share the folder)
    cfg = asdict(config)
    with (
        partial.open("a", encoding="utf-8") as sink,
        tqdm(
            total=n, initial=n - len(todo), desc="synth", unit="clip", disable=not progress
        ) as bar,
    ):
        if workers <= 1:
            _init_worker(cfg, seed, str(out))
            lines: Iterable[str] = map(_make_one, todo)
            pool = None
        else:
            pool = worker_context().Pool(workers, _init_worker, (cfg, seed, str(out)))
            lines = pool.imap(_make_one, todo, chunksize=8)
        try:
            for line in lines:
                sink.write(line + "\n")
                sink.flush()
                done[int(json.loads(line)["index"])] = line
                bar.update(1)
        finally:
            if pool is not None:
                pool.terminate()
    text = "".join(done[i] + "\n" for i in sorted(done))
    write_bytes_atomic(manifest, text.encode("utf-8"))
    partial.unlink()
    removed = remove_orphans(out, seed, {json.loads(line)["audio"] for line in done.values()})
    if removed and progress:
        print(f"removed {removed} clips of {out} beyond the {n} asked for")
    return manifest


def remove_orphans(out: Path, seed: int, keep: set[str]) -> int:
    """Delete the generator's WAVs (``audio/s<seed>-<index>.wav``) that the manifest does
    not list (``keep``: paths relative to ``out``); return how many were deleted."""
    pattern = re.compile(rf"s{seed}-\d+\.wav")
    removed = 0
    for wav in sorted((out / "audio").glob("*.wav")):
        if pattern.fullmatch(wav.name) and f"audio/{wav.name}" not in keep:
            wav.unlink()
            removed += 1
    return removed


def read_manifest(path: str | Path) -> list[dict[str, Any]]:
    """The entries of a ``manifest.jsonl`` (a folder holding one may be given).

    Raises:
        FileNotFoundError: naming the missing manifest.
        ValueError: naming the file and line of bad JSON.
    """
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST
    if not path.exists():
        raise FileNotFoundError(f"manifest {path} does not exist")
    entries = []
    with path.open(encoding="utf-8") as f:
        for k, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{k}: not valid JSON ({e})") from e
    return entries
