"""``build_soundbank``: packages -> labelled clips (WAV) + ``manifest.jsonl``.

Steps, each resumable after a kill: fetch each package's ``.deb`` (``packages.fetch``,
cached), unpack it under ``OUT/unpacked/`` (``packages.unpack``), list its audio files
(rendering the instrument packages, ``render.py``), label each file with the first
matching rule (``rules.RuleTable``), and write every labelled recording as mono 16-bit WAV
at ``sample_rate``: silence trimmed at both ends, long recordings (music, ambiences) cut
into segments of at most ``max_seconds`` (at most ``max_segments`` per file, spread over
it). Exact duplicates are dropped by the SHA-256 of the source file and of the written
audio. Each manifest line is appended to ``manifest.partial.jsonl`` as soon as its WAV is
in place, so a rerun skips what is done; ``manifest.jsonl`` and ``bank_report.json`` are
written at the end.

Manifest fields (the synthetic data's contract plus provenance): ``id``, ``audio``,
``labels`` (ACH ids, closed under ancestors), ``audioset`` (the rule's MIDs), ``caption``,
``captions``, ``description``, ``qa``, ``sample_rate``, ``duration``, ``source_package``,
``licence``, ``original_path``, ``rule`` (its line in ``rules.csv``), ``segment``.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hacd_graph.atomic_io import write_bytes_atomic
from hacd_graph.data.soundbank import packages, render
from hacd_graph.data.soundbank.packages import PACKAGES
from hacd_graph.data.soundbank.rules import RuleTable

AUDIO_SUFFIXES = (".wav", ".ogg", ".flac")
MANIFEST = "manifest.jsonl"
PARTIAL = "bank_ledger.jsonl"  # kept: the resume record (manifest.jsonl is rebuilt from it)
REPORT = "bank_report.json"


@dataclass(frozen=True)
class SoundbankConfig:
    """Settings of the bank.

    Args:
        sample_rate: output rate in Hz (default 16000).
        max_seconds: longest clip; longer recordings are cut (default 10).
        max_segments: most clips taken from one recording (default 3).
        min_seconds: shortest clip kept after trimming (default 0.15).
        trim_db: silence threshold below the recording's peak for trimming (default 50).
        packages: which packages to include (default: all eleven).
    """

    sample_rate: int = 16000
    max_seconds: float = 10.0
    max_segments: int = 3
    min_seconds: float = 0.15
    trim_db: float = 50.0
    packages: tuple[str, ...] = PACKAGES


@dataclass
class Candidate:
    """One recording to consider: its package, path inside it and how to read it."""

    source: str
    path: str  # lower-case matching happens in the rules; this keeps the original case
    original: str
    read: Callable[[], tuple[np.ndarray, int]]
    raw_hash: Callable[[], str]


@dataclass
class BankReport:
    """What the build did: counts per package and per outcome."""

    kept: Counter = field(default_factory=Counter)  # clips per package
    files: Counter = field(default_factory=Counter)  # labelled source files per package
    left_out: Counter = field(default_factory=Counter)  # (package, reason) -> files
    excluded_notes: Counter = field(default_factory=Counter)  # rule note -> files

    def to_dict(self) -> dict[str, Any]:
        return {
            "clips_per_package": dict(self.kept),
            "files_per_package": dict(self.files),
            "left_out": {f"{p}|{r}": n for (p, r), n in sorted(self.left_out.items())},
            "excluded_by_rule": dict(self.excluded_notes),
        }


def _read_file(path: Path) -> Callable[[], tuple[np.ndarray, int]]:
    def read() -> tuple[np.ndarray, int]:
        from hacd_graph.data.audio_io import read_audio

        data, sr = read_audio(path)
        return data.mean(axis=1), sr
    return read


def _file_hash(path: Path) -> Callable[[], str]:
    return lambda: hashlib.sha256(path.read_bytes()).hexdigest()


def _array_hash(x: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(x, dtype=np.float32).tobytes()).hexdigest()


def package_candidates(name: str, root: Path, rules: RuleTable) -> Iterator[Candidate]:
    """The recordings of one unpacked package (instrument packages are rendered/read)."""
    if name == "timgm6mb-soundfont":
        sf2 = next(root.rglob("*.sf2"))
        programs = sorted(n for (k, n), (_, mids) in rules.gm.items() if k == "program" and mids)
        drums = sorted(n for (k, n), (_, mids) in rules.gm.items() if k == "drum" and mids)
        for vpath, audio, sr in render.render_soundfont(sf2, programs, drums):
            yield Candidate(name, vpath, f"{sf2.name}#{vpath}", lambda a=audio, s=sr: (a, s),
                            lambda a=audio: _array_hash(a))
        return
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if name == "freepats" and p.suffix.lower() == ".pat":
            try:
                samples = render.gus_patch_samples(p)
            except (ValueError, struct.error):
                continue
            for k, (audio, sr, _root_hz) in enumerate(samples):
                yield Candidate(name, rel, f"{rel}#sample{k}", lambda a=audio, s=sr: (a, s),
                                lambda a=audio: _array_hash(a))
        elif p.suffix.lower() in AUDIO_SUFFIXES and p.is_file():
            yield Candidate(name, rel, rel, _read_file(p), _file_hash(p))


def trim(audio: np.ndarray, sr: int, trim_db: float) -> np.ndarray:
    """``audio`` without leading/trailing 10 ms frames quieter than peak - ``trim_db``."""
    peak = float(np.abs(audio).max(initial=0.0))
    if peak <= 0.0:
        return audio[:0]
    hop = max(1, sr // 100)
    n = audio.size // hop
    if n == 0:
        return audio
    frames = np.abs(audio[: n * hop]).reshape(n, hop).max(axis=1)
    loud = np.nonzero(frames > peak * 10 ** (-trim_db / 20))[0]
    return audio[loud[0] * hop : min(audio.size, (loud[-1] + 1) * hop)]


def segments(audio: np.ndarray, sr: int, config: SoundbankConfig) -> list[np.ndarray]:
    """Cut a long recording into at most ``max_segments`` pieces of ``max_seconds``."""
    m = int(config.max_seconds * sr)
    if audio.size <= m:
        return [audio]
    count = audio.size // m
    picks = np.unique(np.linspace(0, count - 1, min(count, config.max_segments)).round())
    return [audio[int(k) * m : (int(k) + 1) * m] for k in picks]


def resample(audio: np.ndarray, sr: int, target: int) -> np.ndarray:
    """``audio`` at ``target`` Hz (band-limited sinc, torchaudio).

    A rate sharing no large factor with ``target`` (instrument patches come at rates such
    as 31818 Hz) would make torchaudio's polyphase kernel huge; such a rate is first rounded
    to a multiple of 100 Hz (a pitch error below 0.2 %, irrelevant to the labels).
    """
    if sr == target:
        return audio.astype(np.float32)
    import math

    import torchaudio.functional as AF

    if math.gcd(sr, target) < 100:
        sr = max(100, int(round(sr / 100.0)) * 100)
    return AF.resample(torch.from_numpy(audio.astype(np.float32)), sr, target).numpy()


def _done(out: Path) -> dict[str, list[str]]:
    """Manifest lines already written (by an earlier, killed run), by candidate key."""
    done: dict[str, list[str]] = {}
    for name in (PARTIAL,):
        path = out / name
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if (out / entry["audio"]).exists():
                done.setdefault(entry["_key"], []).append(line)
    return done


def build_soundbank(out_dir: str | Path, config: SoundbankConfig | None = None,
                    debs: str | Path = packages.DEFAULT_CACHE, rules: RuleTable | None = None,
                    ach: Any = None, log: Callable[[str], None] = print) -> Path:
    """Build (or resume) the bank in ``out_dir``; returns the manifest's path.

    Args:
        out_dir: the bank folder (``audio/``, ``unpacked/``, ``manifest.jsonl``, ...).
        config: the bank's settings.
        debs: the ``.deb`` cache folder (filled with ``apt-get download``).
        rules: the labelling rules (default: the packaged tables).
        ach: the hierarchy labels are written in (default: core + AudioSet).
        log: progress lines.

    Raises:
        PackageClientMissing: a package must be fetched or unpacked and the tools are absent.
    """
    from hacd_graph.ach import build_ach
    from hacd_graph.data.export import wav_bytes
    from hacd_graph.data.soundbank.texts import bank_texts

    config = config or SoundbankConfig()
    rules = rules or RuleTable()
    ach = ach or build_ach(("core", "audioset"))
    out = Path(out_dir)
    (out / "audio").mkdir(parents=True, exist_ok=True)
    done = _done(out)
    report = BankReport()
    seen_raw: set[str] = set()
    seen_audio: set[str] = set()
    for line in (ln for lines in done.values() for ln in lines):
        e = json.loads(line)
        seen_raw.add(e["_raw"])
        seen_audio.add(e["_sha256"])
    stale: set[str] = set()  # keys whose ledger lines no longer follow the rules
    fresh: set[str] = set()  # clip ids written by this run
    current: dict[str, Any] = {}  # key -> the rule that matches it now
    partial = (out / PARTIAL).open("a", encoding="utf-8")
    try:
        for name in config.packages:
            deb = packages.fetch(name, debs, log=log)
            root = packages.unpack(deb, out / "unpacked" / name)
            log(f"labelling {name} ...")
            for cand in package_candidates(name, root, rules):
                key = f"{name}:{cand.original}"
                rule, mids = rules.labels(name, cand.path)
                if rule is not None:
                    current[key] = rule
                if key in done:
                    old = [json.loads(ln) for ln in done[key]]
                    if mids and all(e["audioset"] == list(mids) for e in old):
                        report.kept[name] += len(old)
                        report.files[name] += 1
                        continue
                    # the rules changed for this file since it was written: redo it
                    stale.add(key)
                    for e in old:
                        seen_raw.discard(e["_raw"])
                        seen_audio.discard(e["_sha256"])
                if rule is None:
                    report.left_out[(name, "no_rule")] += 1
                    continue
                if not mids:
                    report.left_out[(name, "excluded")] += 1
                    report.excluded_notes[f"{name}: {rule.note}"] += 1
                    continue
                raw = cand.raw_hash()
                if raw in seen_raw:
                    report.left_out[(name, "duplicate")] += 1
                    continue
                seen_raw.add(raw)
                try:
                    audio, sr = cand.read()
                except Exception as e:  # noqa: BLE001 - a bad file is counted, never fatal
                    report.left_out[(name, "unreadable")] += 1
                    log(f"  skipped {cand.original}: {e}")
                    continue
                audio = trim(resample(audio, sr, config.sample_rate), config.sample_rate,
                             config.trim_db)
                if audio.size < config.min_seconds * config.sample_rate:
                    report.left_out[(name, "too_short_or_silent")] += 1
                    continue
                concepts: set[int] = set()
                for mid in mids:
                    c = ach.index(mid)
                    concepts |= {c} | set(ach.ancestors(c))
                labels = [ach.ids[c] for c in sorted(concepts)]
                texts = bank_texts(ach, concepts, name)
                kept = 0
                for k, seg in enumerate(segments(audio, config.sample_rate, config)):
                    peak = float(np.abs(seg).max())
                    seg = seg / peak * 0.9 if peak > 1.0 else seg
                    data = wav_bytes(seg, config.sample_rate)
                    digest = hashlib.sha256(data[44:]).hexdigest()
                    if digest in seen_audio:
                        report.left_out[(name, "duplicate")] += 1
                        continue
                    seen_audio.add(digest)
                    clip_id = f"{name}-{hashlib.sha1(key.encode()).hexdigest()[:12]}-{k}"
                    rel = f"audio/{name}/{clip_id}.wav"
                    write_bytes_atomic(out / rel, data)
                    entry = {
                        "id": clip_id, "audio": rel, "labels": labels, "audioset": list(mids),
                        **texts, "sample_rate": config.sample_rate,
                        "duration": round(seg.size / config.sample_rate, 3),
                        "source_package": name, "licence": rule.licence,
                        "original_path": cand.original, "rule": rule.line, "segment": k,
                        "_key": key, "_raw": raw, "_sha256": digest,
                    }
                    partial.write(json.dumps(entry) + "\n")
                    fresh.add(clip_id)
                    partial.flush()
                    kept += 1
                report.kept[name] += kept
                report.files[name] += 1
    finally:
        partial.close()
    lines = [ln for ln in (out / PARTIAL).read_text(encoding="utf-8").splitlines() if ln]
    entries = [json.loads(ln) for ln in lines]
    entries = [e for e in entries if e["_key"] not in stale or e["id"] in fresh]
    if stale:  # drop the outdated lines from the ledger too
        write_bytes_atomic(out / PARTIAL, "".join(json.dumps(e) + "\n" for e in entries)
                           .encode("utf-8"))
    for e in entries:  # rule lines and licences as the current table states them
        rule = current.get(e["_key"])
        if rule is not None:
            e["rule"], e["licence"] = rule.line, rule.licence
    entries = [e for e in entries if e["source_package"] in config.packages]
    text = "".join(json.dumps({k: v for k, v in e.items() if not k.startswith("_")}) + "\n"
                   for e in entries)
    write_bytes_atomic(out / MANIFEST, text.encode("utf-8"))
    write_bytes_atomic(out / REPORT, json.dumps(report.to_dict(), indent=1).encode("utf-8"))
    return out / MANIFEST
