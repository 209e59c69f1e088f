"""Reviewing the bank's labels by eye: per rule, a sample of clips as spectrogram contact
sheets and listening statistics (``sox stat`` where sox is installed).

``python -m hacd_graph.data.soundbank.review BANK --out DIR [--per-rule 3]`` writes
``DIR/sheet-NN.png`` (a grid of log-mel spectrograms, each titled with the rule's line,
its note and the clip's caption) and ``DIR/review.csv`` (one row per sampled clip: rule,
note, clip, duration, RMS and peak level, spectral centroid, and an empty ``verdict`` column
for the reviewer). The sample is seeded, so a review can be repeated.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
from collections import defaultdict
from pathlib import Path

import numpy as np


def clip_stats(path: Path) -> dict[str, float]:
    """Duration, RMS / peak level (dBFS) and spectral centroid (Hz) of one WAV."""
    import soundfile as sf

    x, sr = sf.read(str(path), dtype="float32")
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size))) ** 2
    freqs = np.fft.rfftfreq(x.size, 1.0 / sr)
    out = {"duration_s": round(x.size / sr, 2),
           "rms_db": round(20 * np.log10(max(float(np.sqrt(np.mean(x**2))), 1e-9)), 1),
           "peak_db": round(20 * np.log10(max(float(np.abs(x).max()), 1e-9)), 1),
           "centroid_hz": round(float((spec * freqs).sum() / max(spec.sum(), 1e-12)))}
    try:  # sox's own reading of the file, as a cross-check
        res = subprocess.run(["sox", str(path), "-n", "stat"], capture_output=True, text=True)
        for line in res.stderr.splitlines():
            if line.startswith("Rough   frequency:"):
                out["sox_rough_hz"] = float(line.split(":")[1])
    except FileNotFoundError:
        pass
    return out


def review(bank: str | Path, out: str | Path, per_rule: int = 3, seed: int = 0,
           per_sheet: int = 24, sources: tuple[str, ...] = ()) -> list[dict]:
    """Sample ``per_rule`` clips of every rule (of every General MIDI program or drum note
    for the ``@gm`` rules), write sheets and ``review.csv``; ``sources`` limits the review
    to those packages."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import soundfile as sf

    from hacd_graph.data.export import read_manifest
    from hacd_graph.data.soundbank.rules import RuleTable

    bank, out = Path(bank), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = RuleTable()
    notes = {r.line: f"{r.source}: {r.note}" for r in table.rules}
    by_rule: dict[tuple[int, str], list[dict]] = defaultdict(list)
    for e in read_manifest(bank):
        if sources and e["source_package"] not in sources:
            continue
        gm = table.gm_entry(e["original_path"])
        by_rule[(e["rule"], f"{gm[0]} {gm[1]} {gm[2]}" if gm else "")].append(e)
    rng = np.random.default_rng(seed)
    rows = []
    for line, gm in sorted(by_rule):
        group = by_rule[(line, gm)]
        for k in rng.choice(len(group), size=min(per_rule, len(group)), replace=False):
            e = group[int(k)]
            note = notes.get(line, "?") if not gm else f"{e['source_package']}: {gm}"
            rows.append({"rule": line, "note": note, "clip": e["id"],
                         "audio": e["audio"],
                         "original_path": e["original_path"], "caption": e["caption"],
                         **clip_stats(bank / e["audio"]), "verdict": ""})
    for s in range(0, len(rows), per_sheet):
        chunk = rows[s : s + per_sheet]
        fig, axes = plt.subplots(6, 4, figsize=(16, 15))
        for ax in axes.flat:
            ax.axis("off")
        for ax, row in zip(axes.flat, chunk, strict=False):
            x, sr = sf.read(str(bank / row["audio"]), dtype="float32")
            ax.specgram(x[: 10 * sr] + 1e-7, NFFT=512, Fs=sr, noverlap=384, cmap="magma")
            ax.set_title(f"#{row['rule']} {row['note'][:38]}\n{row['caption'][:46]}",
                         fontsize=7)
            ax.axis("on")
            ax.tick_params(labelsize=5)
        fig.tight_layout()
        fig.savefig(out / f"sheet-{s // per_sheet:02d}.png", dpi=60)
        plt.close(fig)
    with (out / "review.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["rule"],
                           extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="spectrogram sheets of a sample per rule")
    ap.add_argument("bank")
    ap.add_argument("--out", required=True)
    ap.add_argument("--per-rule", type=int, default=3)
    ap.add_argument("--sources", nargs="+", default=[], help="only these packages")
    args = ap.parse_args(argv)
    rows = review(args.bank, args.out, args.per_rule, sources=tuple(args.sources))
    print(f"{len(rows)} clips of {len({r['rule'] for r in rows})} rules -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
