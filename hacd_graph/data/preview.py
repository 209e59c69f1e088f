"""Previews of synthetic clips for people: WAV, spectrogram PNG, label tree and texts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hacd_graph.atomic_io import write_bytes_atomic
from hacd_graph.data.export import wav_bytes
from hacd_graph.data.synthetic import SyntheticExample, make_example

if TYPE_CHECKING:
    from hacd_graph.ach import ConceptHierarchy
    from hacd_graph.data.synth.scene import SceneConfig


def label_tree(labels: list[str], ach: ConceptHierarchy) -> str:
    """The labels as an indented tree following the hierarchy (a concept with several
    present parents appears under each of them)."""
    present = {ach.index(x) for x in labels}
    lines: list[str] = []

    def walk(i: int, depth: int) -> None:
        lines.append(f"{'  ' * depth}{ach.names[i]}  [{ach.ids[i]}]")
        for c in sorted(ach.children(i), key=lambda j: ach.names[j]):
            if c in present:
                walk(c, depth + 1)

    roots = [i for i in present if not (set(ach.parents(i)) & present)]
    for r in sorted(roots):
        walk(r, 0)
    return "\n".join(lines)


def spectrogram_png(audio: np.ndarray, sample_rate: int, path: Path, title: str = "") -> None:
    """Save a log-mel spectrogram of ``audio`` as a PNG (atomically)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from hacd_graph.data.features import LogMel, LogMelConfig

    cfg = LogMelConfig(sample_rate=sample_rate, n_mels=80)
    mel = LogMel(cfg)(
        torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
    ).numpy()  # [T, M]
    fig, ax = plt.subplots(figsize=(10, 3.6), dpi=110)
    ax.imshow(
        mel.T,
        origin="lower",
        aspect="auto",
        cmap="magma",
        extent=(0, audio.size / sample_rate, 0, cfg.n_mels),
        vmin=mel.max() - 80 / 4.343,
    )
    ax.set_xlabel("time (s)")
    ax.set_ylabel("mel bin")
    ax.set_title(title[:110], fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    write_bytes_atomic(path, buf.getvalue())


def preview_text(ex: SyntheticExample, ach: ConceptHierarchy) -> str:
    """Human-readable texts of one example: captions, description, QA, label tree."""
    t = ex.texts
    parts = [
        "CAPTIONS",
        *[f"  - {c}" for c in t["captions"]],
        "",
        "DESCRIPTION",
        "  " + t["description"],
        "",
        "QUESTIONS AND ANSWERS",
        *[f"  [{q['level']}/{q['type']}] {q['question']} -> {q['answer']}" for q in t["qa"]],
        "",
        f"LABELS ({len(ex.labels)}, closed under ancestors)",
        label_tree(ex.labels, ach),
    ]
    return "\n".join(parts) + "\n"


def write_preview(
    out_dir: str | Path,
    ach: ConceptHierarchy,
    seed: int = 0,
    indices: list[int] | None = None,
    config: SceneConfig | None = None,
) -> list[Path]:
    """Write ``<key>.wav``, ``<key>.png``, ``<key>.txt`` and ``<key>.json`` per clip.

    Returns:
        The WAV paths.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    wavs = []
    for i in indices if indices is not None else range(4):
        ex = make_example(seed, i, ach, config)
        base = out / (ex.key if not (config and config.preset) else f"{config.preset}_{ex.key}")
        write_bytes_atomic(base.with_suffix(".wav"), wav_bytes(ex.audio, ex.record.sample_rate))
        spectrogram_png(
            ex.audio, ex.record.sample_rate, base.with_suffix(".png"), ex.texts["caption"]
        )
        write_bytes_atomic(base.with_suffix(".txt"), preview_text(ex, ach).encode("utf-8"))
        entry = ex.manifest_entry(base.with_suffix(".wav").name)
        write_bytes_atomic(base.with_suffix(".json"), json.dumps(entry, indent=1).encode("utf-8"))
        wavs.append(base.with_suffix(".wav"))
    return wavs
