"""Streaming training data: WebDataset-layout tar shards and the synthetic stream, split
without duplicates across distributed ranks and DataLoader workers.

Shards (``hacd_graph.data.shards`` writes them: ``<key>.wav`` then ``<key>.json`` per clip)
are read with the standard library's ``tarfile`` in streaming mode (``"r|"``: one forward
pass, nothing extracted). The unit of assignment is the shard: in epoch ``e`` the shard list
is permuted by ``(seed, e)`` and the shard at position ``i`` goes to rank ``r`` of ``W``,
DataLoader worker ``k`` of ``K`` iff ``i % (W K) == r K + k``. One epoch is one pass over
every shard, so every clip is read exactly once per epoch by exactly one (rank, worker).
Several shard folders or globs (synthetic shards beside shards exported from a sound bank
with ``hacd-graph data shards --manifest BANK``) are one list: their clips mix.

:class:`MixedStream` interleaves several such streams (the synthetic stream and bank
shards) in a seeded order, each one already split across ranks and workers.

Items are dicts like ``ManifestDataset``'s: ``id``, ``audio`` ``[S]`` float32, ``target``
``[N]`` (the hierarchy's concepts, closed under ancestors), ``labels``.
"""

from __future__ import annotations

import glob
import io
import json
import tarfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import soundfile as sf
import torch
from torch.utils.data import IterableDataset, get_worker_info

from hacd_graph.data.audio_io import fit_to_length
from hacd_graph.data.datasets import labels_to_target, resolve_rank
from hacd_graph.errors import UserError

if TYPE_CHECKING:
    from hacd_graph.ach import ConceptHierarchy

AUDIO_EXTENSIONS = ("wav", "flac")


def list_shards(sources: str | Sequence[str]) -> list[Path]:
    """The tar shards named by ``sources``, sorted within each source, without repeats.

    Args:
        sources: folders (every ``*.tar`` in them), glob patterns or ``.tar`` files.

    Raises:
        UserError: a source that names no shard (the message names it).
    """
    out: list[Path] = []
    seen: set[Path] = set()
    for source in [sources] if isinstance(sources, str) else sources:
        path = Path(source).expanduser()
        if path.is_dir():
            found = sorted(path.glob("*.tar"))
        elif path.is_file():
            found = [path]
        else:
            found = sorted(Path(p) for p in glob.glob(str(path)) if p.endswith(".tar"))
        if not found:
            raise UserError(f"data.shards: {source!r} names no .tar shard (write some with "
                            "'hacd-graph data shards --out DIR')")
        for p in found:
            if p.resolve() not in seen:
                seen.add(p.resolve())
                out.append(p)
    return out


def shard_clip_count(path: str | Path) -> int:
    """Clips (audio members) in one shard; reads only the tar headers."""
    with tarfile.open(path, "r:") as tar:
        return sum(1 for name in tar.getnames() if name.rsplit(".", 1)[-1] in AUDIO_EXTENSIONS)


def shard_order(num_shards: int, seed: int, epoch: int) -> np.ndarray:
    """The shards' order in ``epoch``: a permutation seeded by ``(seed, epoch)``."""
    return np.random.default_rng([seed, epoch]).permutation(num_shards)


def assigned_shards(num_shards: int, seed: int, epoch: int, rank: int, world_size: int,
                    worker: int, num_workers: int) -> list[int]:
    """Shard indices read by ``(rank, worker)`` in ``epoch``, in reading order.

    Position ``i`` of :func:`shard_order` goes to the (rank, worker) with
    ``i % (world_size * num_workers) == rank * num_workers + worker``: the assignments of all
    ranks and workers are disjoint and together cover every shard.
    """
    order = shard_order(num_shards, seed, epoch)
    slot, step = rank * num_workers + worker, world_size * num_workers
    return [int(s) for s in order[slot::step]]


def iter_tar_samples(path: str | Path) -> Iterator[tuple[str, dict[str, bytes]]]:
    """``(key, {extension: bytes})`` per sample of a tar shard, in one streaming pass.

    Members of one sample are adjacent and share the key (the name before its last dot:
    bank ids such as ``wesnoth-1.16-data-...`` hold dots themselves).
    """
    key: str | None = None
    parts: dict[str, bytes] = {}
    with tarfile.open(path, "r|") as tar:
        for member in tar:
            if not member.isfile():
                continue
            name, _, ext = member.name.rpartition(".")
            if name != key:
                if key is not None:
                    yield key, parts
                key, parts = name, {}
            handle = tar.extractfile(member)
            parts[ext] = handle.read() if handle is not None else b""
    if key is not None:
        yield key, parts


def decode_audio(data: bytes, sample_rate: int, num_samples: int | None) -> torch.Tensor:
    """Audio file bytes as a mono float32 ``[S]`` waveform at ``sample_rate``, fitted
    (start-cropped or zero-padded) to ``num_samples`` unless ``None``."""
    samples, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    wave = torch.from_numpy(samples.mean(axis=1))
    if sr != sample_rate:
        import torchaudio.functional as AF

        wave = AF.resample(wave, sr, sample_rate)
    if num_samples is not None:
        wave = fit_to_length(wave, num_samples)
    return wave.contiguous()


def _worker() -> tuple[int, int]:
    info = get_worker_info()
    return (info.id, info.num_workers) if info is not None else (0, 1)


class ShardStream(IterableDataset):
    """The clips of tar shards, one epoch per pass, split by shard across ranks and workers.

    Args:
        shards: the shard files (:func:`list_shards`).
        ach: the hierarchy for targets (labels are its concept ids, as in a manifest).
        sample_rate: rate to decode to.
        num_samples: pad/crop length (``None`` keeps each clip's length).
        seed: seed of the shard order.
        rank, world_size: this process's place; ``None`` reads torch.distributed.
        shuffle_buffer: clips held per worker to shuffle across shard boundaries (0: in order).

    Call :meth:`set_epoch` before iterating (DataLoader workers copy the dataset when an
    iterator starts, so the epoch in force then is the one they read).
    """

    def __init__(self, shards: Sequence[str | Path], ach: ConceptHierarchy,
                 sample_rate: int = 16000, num_samples: int | None = None, seed: int = 0,
                 rank: int | None = None, world_size: int | None = None,
                 shuffle_buffer: int = 0) -> None:
        super().__init__()
        self.shards = [Path(s) for s in shards]
        self.ach, self.sample_rate, self.num_samples = ach, sample_rate, num_samples
        self.seed, self.shuffle_buffer, self.epoch = seed, shuffle_buffer, 0
        self.rank, self.world_size = resolve_rank(rank, world_size)
        self._counts: list[int] | None = None

    def set_epoch(self, epoch: int) -> None:
        """Read the shards in ``epoch``'s order from the next iterator on."""
        self.epoch = epoch

    def clip_counts(self) -> list[int]:
        """Clips per shard (headers read once, then remembered)."""
        if self._counts is None:
            self._counts = [shard_clip_count(p) for p in self.shards]
        return self._counts

    def worker_clips(self, epoch: int, rank: int, num_workers: int) -> list[int]:
        """Clips each of rank ``rank``'s ``num_workers`` workers reads in ``epoch``."""
        counts = self.clip_counts()
        return [sum(counts[s] for s in assigned_shards(len(counts), self.seed, epoch, rank,
                                                       self.world_size, k, num_workers))
                for k in range(num_workers)]

    def decode(self, key: str, parts: dict[str, bytes]) -> dict[str, Any]:
        """One sample's item; the JSON's ``labels`` become ``target`` over ``self.ach``."""
        audio = next((parts[e] for e in AUDIO_EXTENSIONS if e in parts), None)
        if audio is None or "json" not in parts:
            raise UserError(f"shard sample {key!r} lacks its audio or .json member")
        meta = json.loads(parts["json"])
        return {"id": meta.get("id", key),
                "audio": decode_audio(audio, self.sample_rate, self.num_samples),
                "target": labels_to_target(meta["labels"], self.ach), "labels": meta["labels"]}

    def __iter__(self) -> Iterator[dict[str, Any]]:
        worker, workers = _worker()
        picked = assigned_shards(len(self.shards), self.seed, self.epoch, self.rank,
                                 self.world_size, worker, workers)
        items = (self.decode(key, parts) for s in picked
                 for key, parts in iter_tar_samples(self.shards[s]))
        if self.shuffle_buffer <= 1:
            yield from items
            return
        rng = np.random.default_rng([self.seed, self.epoch, self.rank, worker])
        yield from buffer_shuffle(items, self.shuffle_buffer, rng)


def buffer_shuffle(items: Iterable[Any], size: int, rng: np.random.Generator) -> Iterator[Any]:
    """Items in a shuffled order: each comes out of a ``size``-item buffer at random."""
    buffer: list[Any] = []
    for item in items:
        buffer.append(item)
        if len(buffer) >= size:
            j = int(rng.integers(len(buffer)))
            buffer[j], buffer[-1] = buffer[-1], buffer[j]
            yield buffer.pop()
    rng.shuffle(buffer)  # type: ignore[arg-type]
    yield from buffer


class MixedStream(IterableDataset):
    """Several streams interleaved: at each draw a stream is picked with probability
    proportional to the clips it has left, so each stream's clips spread over the epoch.

    Every part must already split itself across ranks and workers (``SyntheticStream``,
    :class:`ShardStream`); the mixing order is seeded by ``(seed, epoch, rank, worker)``.

    Args:
        parts: the streams.
        seed: seed of the mixing order.
    """

    def __init__(self, parts: Sequence[IterableDataset], seed: int = 0) -> None:
        super().__init__()
        self.parts, self.seed, self.epoch = list(parts), seed, 0
        self.rank = getattr(self.parts[0], "rank", 0)
        self.world_size = getattr(self.parts[0], "world_size", 1)

    def set_epoch(self, epoch: int) -> None:
        """Pass ``epoch`` on to every part that has epochs."""
        self.epoch = epoch
        for part in self.parts:
            if hasattr(part, "set_epoch"):
                part.set_epoch(epoch)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        worker, workers = _worker()
        left = [worker_clip_counts(p, self.epoch, self.rank, workers)[worker]
                for p in self.parts]
        iters = [iter(p) for p in self.parts]
        rng = np.random.default_rng([self.seed, self.epoch, self.rank, worker])
        while sum(left) > 0:
            j = int(rng.choice(len(left), p=np.asarray(left) / sum(left)))
            item = next(iters[j], None)
            if item is None:  # fewer than counted: that part is done
                left[j] = 0
                continue
            left[j] -= 1
            yield item


def worker_clip_counts(part: IterableDataset, epoch: int, rank: int,
                       num_workers: int) -> list[int]:
    """Clips each of rank ``rank``'s ``num_workers`` workers gets from ``part`` in ``epoch``
    (a :class:`ShardStream`, a bounded ``SyntheticStream`` or a :class:`MixedStream`; the
    rank count is the part's own ``world_size``)."""
    if isinstance(part, ShardStream):
        return part.worker_clips(epoch, rank, num_workers)
    if isinstance(part, MixedStream):
        per_part = [worker_clip_counts(p, epoch, rank, num_workers) for p in part.parts]
        return [sum(c[k] for c in per_part) for k in range(num_workers)]
    num_clips = getattr(part, "num_clips", None)
    if num_clips is None:
        raise ValueError(f"{type(part).__name__} has no bounded length to count")
    step = part.world_size * num_workers  # type: ignore[attr-defined]
    return [len(range(rank * num_workers + k, num_clips, step)) for k in range(num_workers)]
