"""The teacher's data: a manifest folder, fed as cached or on-the-fly log-mel features.

A data folder follows the DESIGN.md contract (``hacd-graph data synth`` writes one): WAV
files and ``manifest.jsonl`` with ``audio`` and ``labels`` per clip; reading, resampling
and targets come from ``hacd_graph.data.datasets.ManifestDataset``.

Two ways to feed the teacher, chosen by ``data.features``:

- ``cached``: log-mel features of every clip are computed once (tqdm) into the data
  package's ``FeatureCache`` (``<folder>/features/``, keyed by the front end's settings and
  the manifest), then held in memory as float16 for all epochs and later runs;
- ``on_the_fly``: waveforms are read per batch (by ``num_workers`` DataLoader workers) and
  the model's front end computes the features inside the training step.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from hacd_graph.ach import ConceptHierarchy
from hacd_graph.data.datasets import ManifestDataset, collate_examples
from hacd_graph.data.feature_cache import FeatureCache
from hacd_graph.teacher.frontend import FrontendConfig, make_frontend, num_frames, num_mels

FEATURE_MODES = ("cached", "on_the_fly")


@dataclass
class ClipSet:
    """The clips of one data folder, ready for the teacher.

    Args:
        dataset: the manifest's clips (``audio`` ``[S]``, ``target`` ``[N]`` per item).
        targets: ``[C, N]`` multi-hot labels closed under ancestors.
        num_samples: the length every clip is cropped or padded to.
    """

    dataset: ManifestDataset
    targets: torch.Tensor
    num_samples: int

    def __len__(self) -> int:
        return len(self.dataset)


def open_clips(folder: str | Path, ach: ConceptHierarchy, sample_rate: int) -> ClipSet:
    """Open ``folder/manifest.jsonl``; clips are fitted to the first clip's length.

    Raises:
        FileNotFoundError: no manifest in ``folder``.
        ValueError: an empty manifest.
    """
    import soundfile

    folder = Path(folder)
    if not (folder / "manifest.jsonl").exists():
        raise FileNotFoundError(f"no manifest.jsonl in {folder} (make one with "
                                "'hacd-graph data synth --out DIR')")
    probe = ManifestDataset(folder, ach, sample_rate=sample_rate)
    if len(probe) == 0:
        raise ValueError(f"{folder / 'manifest.jsonl'} lists no clips")
    info = soundfile.info(str(probe.root / probe.entries[0]["audio"]))
    num_samples = int(round(info.frames * sample_rate / info.samplerate))
    dataset = ManifestDataset(folder, ach, sample_rate=sample_rate, num_samples=num_samples)
    targets = torch.stack([dataset.metadata(i)["target"] for i in range(len(dataset))])
    return ClipSet(dataset, targets, num_samples)


def cached_features(clips: ClipSet, config: FrontendConfig, show_progress: bool = True,
                    batch_size: int = 32) -> torch.Tensor:
    """Front-end features (log-mel, or AST's fbank for an ``FbankConfig``) of every clip,
    through the on-disk ``FeatureCache``.

    Returns:
        float16 ``[C, T, M]`` held in memory (the model computes in float32).
    """
    manifest = (clips.dataset.root / "manifest.jsonl").read_bytes()
    kind = "teacher-logmel" if hasattr(config, "n_mels") else "teacher-astfbank"
    key = f"{kind}|{config.key()}|{hashlib.sha256(manifest).hexdigest()}"
    shape = (num_frames(config, clips.num_samples), num_mels(config))
    cache = FeatureCache(clips.dataset.root / "features", key, len(clips), shape)
    frontend = make_frontend(config)
    todo = [i for i in range(len(clips)) if cache.get(i) is None]
    with torch.no_grad():
        for start in tqdm(range(0, len(todo), batch_size),
                          desc=f"log-mel {clips.dataset.root.name}",
                          disable=not show_progress or not todo, leave=False):
            chunk = todo[start : start + batch_size]
            audio = torch.stack([clips.dataset[i]["audio"] for i in chunk])
            for i, feats in zip(chunk, frontend(audio), strict=True):
                cache.put(i, feats)
    out = torch.empty(len(clips), *shape, dtype=torch.float16)
    for i in range(len(clips)):
        out[i] = torch.from_numpy(cache.get(i))
    return out


def epoch_order(num_clips: int, seed: int, epoch: int, rank: int, world_size: int,
                batch_size: int) -> list[np.ndarray]:
    """This rank's batches of clip indices for one epoch.

    A permutation seeded by ``(seed, epoch)`` is cut into ``batch_size * world_size``
    chunks (a last partial chunk is dropped, so every rank has the same number of batches);
    rank ``r`` takes the ``r``-th slice of each chunk.
    """
    perm = np.random.default_rng([seed, epoch]).permutation(num_clips)
    step = batch_size * world_size
    return [perm[i + rank * batch_size : i + (rank + 1) * batch_size]
            for i in range(0, num_clips - step + 1, step)]


def cached_batches(features: torch.Tensor, targets: torch.Tensor, order: list[np.ndarray]
                   ) -> Iterator[dict[str, torch.Tensor]]:
    """``{"features": [B, T, M] float32, "target": [B, N]}`` for each index batch."""
    for idx in order:
        i = torch.from_numpy(idx)
        yield {"features": features[i].float(), "target": targets[i]}


def waveform_batches(clips: ClipSet, order: list[np.ndarray], num_workers: int
                     ) -> Iterator[dict[str, torch.Tensor]]:
    """``{"audio": [B, S], "target": [B, N]}`` read by ``num_workers`` processes."""
    loader = DataLoader(clips.dataset, batch_sampler=[idx.tolist() for idx in order],
                        num_workers=num_workers, collate_fn=collate_examples)
    for batch in loader:
        yield {"audio": batch["audio"], "target": batch["target"]}
