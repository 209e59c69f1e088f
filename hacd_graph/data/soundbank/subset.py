"""A training folder of a sound bank's own recordings, each fitted to the teacher's clip
length (the bank alone, without scenes around it)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

from hacd_graph.atomic_io import write_text_atomic


def write_bank_clips(bank: str | Path, packages: Sequence[str], out: str | Path,
                     duration_s: float, sample_rate: int = 16000, seed: int = 0) -> Path:
    """Write ``out/manifest.jsonl`` and ``out/audio/*.wav``: every clip of ``packages`` in
    the bank at ``bank``, fitted to ``duration_s`` (a seeded random span of a longer clip; a
    shorter one at a seeded random offset in digital silence), with the bank's labels and
    texts. A folder whose manifest lists the same clips is left untouched (the manifest is
    written last, so a killed call is redone).

    Raises:
        FileNotFoundError: no bank manifest at ``bank``.
        ValueError: no clip of ``packages`` in the bank.
    """
    import json

    from hacd_graph.data.audio_io import load_audio
    from hacd_graph.data.export import read_manifest

    bank, out = Path(bank), Path(out)
    entries = [e for e in read_manifest(bank) if e["source_package"] in set(packages)]
    if not entries:
        raise ValueError(f"the bank at {bank} has no clip of packages {list(packages)}")
    manifest = out / "manifest.jsonl"
    if manifest.exists():
        try:
            if [e["id"] for e in read_manifest(out)] == [e["id"] for e in entries]:
                return out
        except ValueError:  # a damaged manifest is written again
            pass
    (out / "audio").mkdir(parents=True, exist_ok=True)
    n = int(round(duration_s * sample_rate))
    rng = np.random.default_rng(seed)
    lines = []
    for i, entry in enumerate(entries):
        audio = load_audio(bank / entry["audio"], sample_rate).numpy()
        fitted = np.zeros(n, dtype=np.float32)
        if audio.size >= n:
            start = int(rng.integers(0, audio.size - n + 1))
            fitted[:] = audio[start : start + n]
        else:
            start = int(rng.integers(0, n - audio.size + 1))
            fitted[start : start + audio.size] = audio
        rel = f"audio/{i:06d}.wav"
        sf.write(out / rel, fitted, sample_rate, subtype="PCM_16")
        lines.append(json.dumps({**entry, "audio": rel, "bank_audio": entry["audio"]}))
    write_text_atomic(manifest, "\n".join(lines) + "\n")
    return out
