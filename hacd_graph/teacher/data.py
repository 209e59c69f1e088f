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

Or, at the method's scale, from a stream (:class:`StreamSource`, ``data.source``):
``shards`` (WebDataset tar shards, ``hacd_graph.data.streaming.ShardStream``) or ``stream``
(clips generated as they are read, ``SyntheticStream``, optionally mixed with bank shards).
The DataLoader workers decode or generate the clips and compute the log-mel features with the
same front end as the cached path (:class:`FeatureStream`); every clip is seen once per epoch
by one (rank, worker) (:func:`stream_batches`). The eval split stays a folder.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset
from tqdm.auto import tqdm

from hacd_graph.ach import ConceptHierarchy
from hacd_graph.data.datasets import ManifestDataset, SyntheticStream, collate_examples
from hacd_graph.data.feature_cache import FeatureCache
from hacd_graph.data.streaming import (
    MixedStream,
    ShardStream,
    list_shards,
    worker_clip_counts,
)
from hacd_graph.data.synth.scene import SceneConfig
from hacd_graph.teacher.frontend import FrontendConfig, make_frontend, num_frames, num_mels

FEATURE_MODES = ("cached", "on_the_fly")
SOURCES = ("folders", "shards", "stream")


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


# --- streaming sources --------------------------------------------------------------------

@dataclass
class StreamSource:
    """Where the teacher's training clips stream from (``data.source`` other than folders).

    Args:
        kind: ``"shards"`` (tar shards) or ``"stream"`` (the synthetic generator).
        shards: shard folders, globs or files; with ``"stream"``, shards (e.g. a sound bank's)
            mixed into the generated clips.
        stream_clips: generated clips per epoch (``"stream"``): clips ``0..stream_clips-1``
            of ``seed``, the same clips every epoch.
        seed: the generator's seed (``data.train_seed``) and the shard order's.
        scene: generator settings (``"stream"``).
        shuffle_buffer: clips each worker holds to shuffle shard clips (0: shard order).
    """

    kind: str
    shards: list[str] = field(default_factory=list)
    stream_clips: int | None = None
    seed: int = 0
    scene: SceneConfig = field(default_factory=SceneConfig)
    shuffle_buffer: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("shards", "stream"):
            raise ValueError(f"StreamSource.kind must be 'shards' or 'stream', got {self.kind!r}")
        if self.kind == "shards" and not self.shards:
            raise ValueError("data.source=shards needs data.shards (folders or globs of .tar)")
        if self.kind == "stream" and not self.stream_clips:
            raise ValueError("data.source=stream needs data.stream_clips (clips per epoch)")


def open_stream(source: StreamSource, ach: ConceptHierarchy, sample_rate: int,
                num_samples: int, rank: int, world_size: int) -> IterableDataset:
    """This rank's clip stream (waveforms ``[num_samples]`` at ``sample_rate``, targets).

    Raises:
        UserError: a shard source that names no shard.
        ValueError: a generator rate other than ``sample_rate``.
    """
    shards = None
    if source.shards:
        shards = ShardStream(list_shards(source.shards), ach, sample_rate, num_samples,
                             seed=source.seed, rank=rank, world_size=world_size,
                             shuffle_buffer=source.shuffle_buffer)
        shards.clip_counts()  # read the headers once, before workers copy the dataset
    if source.kind == "shards":
        assert shards is not None
        return shards
    if source.scene.sample_rate != sample_rate:
        raise ValueError(f"the generator makes {source.scene.sample_rate} Hz clips, the "
                         f"front end wants {sample_rate} Hz")
    synth = SyntheticStream(seed=source.seed, num_clips=source.stream_clips,
                            config=source.scene, ach=ach, rank=rank, world_size=world_size)
    return synth if shards is None else MixedStream([synth, shards], seed=source.seed)


class FeatureStream(IterableDataset):
    """A clip stream with front-end features computed where it is read (in the workers).

    Items: ``{"id", "features": [T, M] float32, "target": [N]}``; ``features`` equals what
    :func:`cached_features` stores for the same waveform (same front end), before float16.
    """

    def __init__(self, clips: IterableDataset, config: FrontendConfig) -> None:
        super().__init__()
        self.clips, self.config = clips, config

    def set_epoch(self, epoch: int) -> None:
        """Pass ``epoch`` on to the clip stream."""
        if hasattr(self.clips, "set_epoch"):
            self.clips.set_epoch(epoch)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        frontend = make_frontend(self.config)
        for item in self.clips:
            with torch.no_grad():  # not around the yield: grad mode would leak to the caller
                features = frontend(item["audio"][None])[0]
            yield {"id": item["id"], "target": item["target"], "features": features}


def rank_batch_limit(clips: IterableDataset, epoch: int, world_size: int, num_workers: int,
                     batch_size: int) -> int:
    """Batches every rank takes in ``epoch``: the fewest any rank's DataLoader makes.

    Each of a rank's ``K`` workers batches its own clips (its last batch may be partial), so a
    rank makes ``sum_k ceil(c_k / batch_size)`` batches; ranks stop together at the minimum so
    that their optimiser steps stay in lockstep (with one rank nothing is cut).
    """
    workers = max(num_workers, 1)
    per_rank = [sum(-(-c // batch_size)
                    for c in worker_clip_counts(clips, epoch, r, workers))
                for r in range(world_size)]
    return min(per_rank)


def stream_batches(features: FeatureStream, epoch: int, batch_size: int, num_workers: int,
                   max_batches: int) -> Iterator[dict[str, torch.Tensor]]:
    """``{"features": [B, T, M], "target": [B, N]}``: ``epoch`` of the stream, read by
    ``num_workers`` processes (0: this one), at most ``max_batches`` batches."""
    features.set_epoch(epoch)
    loader = DataLoader(features, batch_size=batch_size, num_workers=num_workers,
                        collate_fn=collate_examples, pin_memory=torch.cuda.is_available())
    for i, batch in enumerate(loader):
        if i >= max_batches:
            break
        yield {"features": batch["features"], "target": batch["target"]}
