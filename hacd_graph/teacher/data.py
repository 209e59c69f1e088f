"""The teacher's data: clips listed in a ``manifest.jsonl``, their labels, and log-mel features.

A data folder follows the DESIGN.md contract (``hacd-graph data synth`` writes one): WAV
files and ``manifest.jsonl`` with one object per clip holding at least ``audio`` (a path
relative to the folder) and ``labels`` (ACH concept ids, closed under ancestors).

Two ways to feed the teacher, chosen by ``data.features``:

- ``cached``: log-mel features of every clip are computed once (tqdm), kept in memory and in
  ``<folder>/features/<key>.pt`` (keyed by the front end's settings and the manifest), so
  later runs and epochs read them;
- ``on_the_fly``: waveforms are read per batch (by DataLoader workers) and the model's
  front end computes the features in the training step.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from hacd_graph.ach import ConceptHierarchy
from hacd_graph.ach.labels import multi_hot
from hacd_graph.atomic_io import save_torch_atomic
from hacd_graph.data.features import LogMel, LogMelConfig

FEATURE_MODES = ("cached", "on_the_fly")


@dataclass
class ClipTable:
    """The clips of one data folder.

    Args:
        root: the folder.
        audio: each clip's WAV path, relative to ``root``.
        targets: ``[C, N]`` float multi-hot labels over the hierarchy, closed under ancestors.
    """

    root: Path
    audio: list[str]
    targets: torch.Tensor

    def __len__(self) -> int:
        return len(self.audio)


def read_manifest(folder: str | Path, ach: ConceptHierarchy) -> ClipTable:
    """Read ``folder/manifest.jsonl`` and map its labels onto ``ach``.

    Labels are closed under ancestors here too, so a manifest written against a coarser
    view still yields consistent targets.

    Raises:
        FileNotFoundError: no manifest in ``folder``.
        ValueError: a line is not JSON, lacks ``audio``/``labels``, or names a concept
            ``ach`` does not know (file, line and id are named).
    """
    folder = Path(folder)
    path = folder / "manifest.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"no manifest.jsonl in {folder} (make one with "
                                "'hacd-graph data synth --out DIR')")
    audio: list[str] = []
    rows: list[torch.Tensor] = []
    with path.open() as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                wav, labels = item["audio"], item["labels"]
            except (json.JSONDecodeError, KeyError, TypeError) as err:
                raise ValueError(f"{path}:{lineno}: not a clip record with 'audio' and "
                                 f"'labels' ({err})") from err
            try:
                rows.append(multi_hot(ach, [labels])[0])
            except KeyError as err:
                raise ValueError(f"{path}:{lineno}: {err.args[0]}") from err
            audio.append(wav)
    if not audio:
        raise ValueError(f"{path} lists no clips")
    return ClipTable(folder, audio, torch.stack(rows))


def read_waveform(path: Path, sample_rate: int, num_samples: int) -> torch.Tensor:
    """A mono float32 waveform ``[num_samples]`` (cropped or zero-padded).

    Raises:
        ValueError: the file's sample rate differs from ``sample_rate``.
    """
    import soundfile

    data, sr = soundfile.read(str(path), dtype="float32", always_2d=True)
    if sr != sample_rate:
        raise ValueError(f"{path}: sample rate {sr} Hz, the front end expects {sample_rate}")
    wav = torch.from_numpy(data.mean(axis=1))
    if wav.numel() >= num_samples:
        return wav[:num_samples]
    return torch.nn.functional.pad(wav, (0, num_samples - wav.numel()))


def clip_samples(table: ClipTable, sample_rate: int) -> int:
    """Length (in samples) every clip is cropped/padded to: the first clip's length."""
    import soundfile

    info = soundfile.info(str(table.root / table.audio[0]))
    return int(round(info.frames * sample_rate / info.samplerate))


class WaveformDataset(Dataset):
    """Map-style dataset of ``{"waveform": [S], "targets": [N]}`` read from WAV files."""

    def __init__(self, table: ClipTable, sample_rate: int, num_samples: int):
        self.table, self.sample_rate, self.num_samples = table, sample_rate, num_samples

    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        wav = read_waveform(self.table.root / self.table.audio[i], self.sample_rate,
                            self.num_samples)
        return {"waveform": wav, "targets": self.table.targets[i]}


def cached_features(table: ClipTable, config: LogMelConfig, batch_size: int = 32,
                    show_progress: bool = True) -> torch.Tensor:
    """Log-mel features of every clip, computed once and cached in ``root/features/``.

    Returns:
        float16 ``[C, T, M]`` (half the memory; the model computes in float32).
    """
    manifest = (table.root / "manifest.jsonl").read_bytes()
    key = hashlib.sha256(config.key().encode() + manifest).hexdigest()[:16]
    path = table.root / "features" / f"logmel-{key}.pt"
    if path.exists():
        return torch.load(path)
    frontend = LogMel(config)
    n = clip_samples(table, config.sample_rate)
    out = []
    dataset = WaveformDataset(table, config.sample_rate, n)
    with torch.no_grad():
        for start in tqdm(range(0, len(table), batch_size), desc=f"log-mel {table.root.name}",
                          disable=not show_progress, leave=False):
            wavs = torch.stack([dataset[i]["waveform"]
                                for i in range(start, min(start + batch_size, len(table)))])
            out.append(frontend(wavs).half())
    feats = torch.cat(out)
    save_torch_atomic(feats, path)
    return feats


def epoch_order(num_clips: int, seed: int, epoch: int, rank: int, world_size: int,
                batch_size: int) -> list[np.ndarray]:
    """This rank's batches of clip indices for one epoch.

    A permutation seeded by ``(seed, epoch)`` is cut into ``batch_size * world_size``
    chunks (the last partial chunk dropped, so every rank has the same number of batches);
    rank ``r`` takes the ``r``-th slice of each chunk.
    """
    perm = np.random.default_rng([seed, epoch]).permutation(num_clips)
    step = batch_size * world_size
    return [perm[i + rank * batch_size : i + (rank + 1) * batch_size]
            for i in range(0, num_clips - step + 1, step)]


def cached_batches(features: torch.Tensor, targets: torch.Tensor, order: list[np.ndarray]
                   ) -> Iterator[dict[str, torch.Tensor]]:
    """``{"features": [B, T, M] float32, "targets": [B, N]}`` for each index batch."""
    for idx in order:
        i = torch.from_numpy(idx)
        yield {"features": features[i].float(), "targets": targets[i]}


def waveform_batches(dataset: WaveformDataset, order: list[np.ndarray], num_workers: int
                     ) -> Iterator[dict[str, torch.Tensor]]:
    """``{"waveform": [B, S], "targets": [B, N]}`` read by ``num_workers`` processes."""
    loader = DataLoader(dataset, batch_sampler=[idx.tolist() for idx in order],
                        num_workers=num_workers, persistent_workers=False)
    yield from loader
