"""PyTorch datasets: a streaming synthetic dataset sharded across DataLoader workers and
distributed ranks, a map-style dataset over a manifest, and their collate function.

Items are dicts: ``audio`` ``[S]`` float32, ``target`` ``[N]`` multi-hot over the hierarchy's
concepts (closed under ancestors), ``labels`` (ids), ``caption``, ``description``, ``qa``,
``id``. Dimension letters: B batch, S samples, N concepts.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from hacd_graph.data.audio_io import AudioReadError, SkipReport, load_audio
from hacd_graph.data.export import read_manifest
from hacd_graph.data.synth.scene import SceneConfig

if TYPE_CHECKING:
    from hacd_graph.ach import ConceptHierarchy


def labels_to_target(labels: list[str], ach: ConceptHierarchy) -> torch.Tensor:
    """Multi-hot ``[N]`` float32 over ``ach``'s concepts (labels closed under ancestors first)."""
    from hacd_graph.ach.labels import multi_hot

    return multi_hot(ach, [labels])[0].float()


def resolve_rank(rank: int | None = None, world_size: int | None = None) -> tuple[int, int]:
    """(rank, world size): the arguments if given, else torch.distributed's when it is
    initialised, else (0, 1)."""
    if rank is None or world_size is None:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            rank = dist.get_rank() if rank is None else rank
            world_size = dist.get_world_size() if world_size is None else world_size
    rank, world_size = rank or 0, world_size or 1
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not in [0, {world_size})")
    return rank, world_size


def shard_indices(
    start: int, stop: int | None, rank: int, world_size: int, worker: int, num_workers: int
) -> Iterator[int]:
    """Clip indices of one (rank, worker) shard: every ``world_size * num_workers``-th index.

    The shards of all ranks and workers are disjoint and together cover ``[start, stop)``.
    """
    shard = rank * num_workers + worker
    step = world_size * num_workers
    return (
        iter(range(start + shard, stop, step))
        if stop is not None
        else itertools.count(start + shard, step)
    )


class SyntheticStream(IterableDataset):
    """An endless (or ``num_clips``-long) stream of synthetic clips, split without duplicates
    across DataLoader workers and distributed ranks.

    Clip ``i`` is ``make_example(seed, i)``; rank ``r`` of ``W`` with ``K`` workers yields, in
    worker ``k``, the clips ``i = start + (r * K + k) + j * W * K``.

    Args:
        seed: the data set's seed.
        num_clips: clips in the data set (``None`` = unbounded, ~10^18 distinct clips).
        config: generator settings.
        ach: the hierarchy for targets (default: ``build_ach()``, built in each worker).
        rank, world_size: this process's place; ``None`` reads torch.distributed when initialised.
        start: first clip index (e.g. to hold out ``[0, start)`` for validation).
    """

    def __init__(
        self,
        seed: int = 0,
        num_clips: int | None = None,
        config: SceneConfig | None = None,
        ach: ConceptHierarchy | None = None,
        rank: int | None = None,
        world_size: int | None = None,
        start: int = 0,
    ) -> None:
        super().__init__()
        self.seed, self.num_clips, self.config, self.start = (
            seed,
            num_clips,
            config or SceneConfig(),
            start,
        )
        self.ach = ach
        self.rank, self.world_size = resolve_rank(rank, world_size)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        from hacd_graph.data.synthetic import make_example

        if self.ach is None:
            from hacd_graph.ach import build_ach

            self.ach = build_ach()
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        stop = None if self.num_clips is None else self.start + self.num_clips
        for i in shard_indices(self.start, stop, self.rank, self.world_size, worker, workers):
            ex = make_example(self.seed, i, self.ach, self.config)
            yield {
                "id": ex.key,
                "index": i,
                "audio": torch.from_numpy(ex.audio),
                "target": labels_to_target(ex.labels, self.ach),
                "labels": ex.labels,
                "caption": ex.texts["caption"],
                "captions": ex.texts["captions"],
                "description": ex.texts["description"],
                "qa": ex.texts["qa"],
            }


class ManifestDataset(Dataset):
    """Map-style dataset over a ``manifest.jsonl`` (synthetic output or a real-data manifest).

    Args:
        manifest: the manifest file or its folder (``audio`` paths are relative to its folder
            unless absolute), or a list of manifest entries (paths relative to ``root``).
        ach: the hierarchy for targets.
        sample_rate: rate to resample to.
        num_samples: pad/crop length (``None`` keeps each file's length).
        skip_bad: if true, a bad file makes ``__getitem__`` return ``None`` (dropped by
            ``collate_examples``) and is counted in ``report``; if false it raises
            ``AudioReadError`` naming the file. With DataLoader workers each worker
            counts into its own copy of ``report``; count in the main process (or use
            ``num_workers=0``) when the totals matter.
    """

    def __init__(
        self,
        manifest: str | Path | list[dict[str, Any]],
        ach: ConceptHierarchy,
        sample_rate: int = 16000,
        num_samples: int | None = None,
        skip_bad: bool = False,
        root: str | Path = ".",
    ) -> None:
        if isinstance(manifest, list):
            self.root, self.entries = Path(root), manifest
        else:
            path = Path(manifest)
            self.root = path if path.is_dir() else path.parent
            self.entries = read_manifest(path)
        self.ach, self.sample_rate, self.num_samples, self.skip_bad = (
            ach,
            sample_rate,
            num_samples,
            skip_bad,
        )
        self.report = SkipReport()

    def __len__(self) -> int:
        return len(self.entries)

    def metadata(self, i: int) -> dict[str, Any]:
        """Item ``i`` without its audio (no file is read)."""
        e = self.entries[i]
        return {
            "id": e.get("id", str(i)),
            "index": i,
            "target": labels_to_target(e["labels"], self.ach),
            "labels": e["labels"],
            "caption": e.get("caption", ""),
            "captions": e.get("captions", []),
            "description": e.get("description", ""),
            "qa": e.get("qa", []),
        }

    def __getitem__(self, i: int) -> dict[str, Any] | None:
        try:
            audio = load_audio(
                self.root / self.entries[i]["audio"], self.sample_rate, self.num_samples
            )
        except AudioReadError as err:
            if not self.skip_bad:
                raise
            self.report.add(err)
            return None
        return {**self.metadata(i), "audio": audio}


def collate_examples(batch: list[dict[str, Any] | None]) -> dict[str, Any]:
    """Stack ``audio`` (zero-padded to the longest, ``[B, S]``, with ``lengths`` ``[B]``),
    ``features`` (``[B, T, M]``, if present) and ``target`` (``[B, N]``); keep the other
    fields as lists; drop ``None`` items (bad files skipped by the dataset)."""
    items = [b for b in batch if b is not None]
    if not items:
        return {
            "audio": torch.zeros(0, 0),
            "lengths": torch.zeros(0, dtype=torch.long),
            "target": torch.zeros(0, 0),
        }
    out: dict[str, Any] = {"target": torch.stack([b["target"] for b in items])}
    if "audio" in items[0]:
        lengths = torch.tensor([b["audio"].shape[-1] for b in items])
        audio = torch.zeros(len(items), int(lengths.max()))
        for k, b in enumerate(items):
            audio[k, : b["audio"].shape[-1]] = b["audio"]
        out.update(audio=audio, lengths=lengths)
    if "features" in items[0]:
        out["features"] = torch.stack([b["features"] for b in items])
    for key in items[0]:
        if key not in out:
            out[key] = [b[key] for b in items]
    return out
