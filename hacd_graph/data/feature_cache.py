"""An on-disk, memory-mapped cache of fixed-shape features, keyed by the feature settings.

Layout: ``root/<key hash>/meta.json`` (the settings key, item count, shape, dtype) and
shards ``feat-00000.npy`` (``[shard_size, *shape]``) with ``done-00000.npy`` flags. A change
of settings gives a new key and so a new folder; a folder whose meta disagrees is rebuilt.
Shards are created atomically (``os.link`` of a finished temporary file, which fails if
another worker won the race), so DataLoader workers can fill one cache concurrently.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset


class FeatureCache:
    """Memory-mapped feature store for items ``0..num_items-1`` of one fixed shape.

    Args:
        root: cache folder (shared by all settings).
        settings_key: a string that changes whenever the features would (e.g.
            ``LogMelConfig.key()`` plus the data set's name).
        num_items: number of items.
        shape: the shape of one item's features, e.g. ``(T, M)``.
        dtype: storage dtype (default float16: half the disk, ample for log-mels).
        shard_size: items per shard file (default 1024).
    """

    def __init__(
        self,
        root: str | Path,
        settings_key: str,
        num_items: int,
        shape: tuple[int, ...],
        dtype: str = "float16",
        shard_size: int = 1024,
    ) -> None:
        self.key = settings_key
        digest = hashlib.sha1(settings_key.encode("utf-8")).hexdigest()[:16]
        self.dir = Path(root) / digest
        self.num_items, self.shape, self.dtype, self.shard_size = (
            num_items,
            tuple(shape),
            np.dtype(dtype),
            shard_size,
        )
        meta = {
            "settings_key": settings_key,
            "num_items": num_items,
            "shape": list(self.shape),
            "dtype": self.dtype.name,
            "shard_size": shard_size,
        }
        meta_path = self.dir / "meta.json"
        if meta_path.exists():
            try:
                ok = json.loads(meta_path.read_text()) == meta
            except json.JSONDecodeError:
                ok = False
            if not ok:
                shutil.rmtree(self.dir, ignore_errors=True)  # settings changed: rebuild
        self.dir.mkdir(parents=True, exist_ok=True)
        if not meta_path.exists():
            self._atomic_create(meta_path, lambda p: Path(p).write_text(json.dumps(meta)))
        self._maps: dict[int, tuple[np.memmap, np.memmap]] = {}

    @staticmethod
    def _atomic_create(path: Path, write: Callable[[str], Any]) -> None:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            write(tmp)
            with contextlib.suppress(FileExistsError):  # first writer wins, none overwrites
                os.link(tmp, path)
        finally:
            os.unlink(tmp)

    def _shard(self, s: int) -> tuple[np.memmap, np.memmap]:
        if s not in self._maps:
            feat, done = self.dir / f"feat-{s:05d}.npy", self.dir / f"done-{s:05d}.npy"
            rows = min(self.shard_size, self.num_items - s * self.shard_size)
            for path, dtype, shape in (
                (feat, self.dtype, (rows, *self.shape)),
                (done, np.uint8, (rows,)),
            ):
                if not path.exists():
                    self._atomic_create(
                        path,
                        lambda p, d=dtype, sh=shape: np.lib.format.open_memmap(
                            p, mode="w+", dtype=d, shape=sh
                        ).flush(),
                    )
            self._maps[s] = (np.load(feat, mmap_mode="r+"), np.load(done, mmap_mode="r+"))
        return self._maps[s]

    def _locate(self, i: int) -> tuple[np.memmap, np.memmap, int]:
        if not 0 <= i < self.num_items:
            raise IndexError(f"item {i} out of range [0, {self.num_items}) of cache {self.dir}")
        feat, done = self._shard(i // self.shard_size)
        return feat, done, i % self.shard_size

    def get(self, i: int) -> np.ndarray | None:
        """Item ``i``'s features (a float32 copy), or ``None`` if not cached yet."""
        feat, done, r = self._locate(i)
        return np.asarray(feat[r], dtype=np.float32) if done[r] else None

    def put(self, i: int, features: np.ndarray | torch.Tensor) -> None:
        """Store item ``i``'s features (shape must match), then mark it done."""
        x = (
            features.detach().cpu().numpy()
            if isinstance(features, torch.Tensor)
            else np.asarray(features)
        )
        if tuple(x.shape) != self.shape:
            raise ValueError(
                f"features of item {i} have shape {tuple(x.shape)}, "
                f"cache {self.dir} holds {self.shape}"
            )
        feat, done, r = self._locate(i)
        feat[r] = x.astype(self.dtype)
        feat.flush()
        done[r] = 1  # only after the data: a killed writer leaves the item "not cached"
        done.flush()

    def num_cached(self) -> int:
        """How many items are cached."""
        shards = (self.num_items + self.shard_size - 1) // self.shard_size
        return int(sum(int(np.asarray(self._shard(s)[1]).sum()) for s in range(shards)))


class CachedFeatures(Dataset):
    """Wrap a map-style dataset so ``item["features"]`` is computed once and then read from
    a ``FeatureCache`` (the second epoch does not recompute).

    Args:
        dataset: items with an ``audio`` ``[S]`` tensor.
        extract: ``audio [S] -> features`` of the cache's shape.
        cache: where features live.
        drop_audio: remove ``audio`` from returned items (default true).
    """

    def __init__(
        self,
        dataset: Dataset,
        extract: Callable[[torch.Tensor], torch.Tensor],
        cache: FeatureCache,
        drop_audio: bool = True,
    ) -> None:
        self.dataset, self.extract, self.cache, self.drop_audio = (
            dataset,
            extract,
            cache,
            drop_audio,
        )

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> dict[str, Any] | None:
        cached = self.cache.get(i)
        metadata = getattr(self.dataset, "metadata", None)
        if cached is not None and metadata is not None and self.drop_audio:
            item = metadata(i)  # cached: skip reading and decoding the audio entirely
            item["features"] = torch.from_numpy(cached)
            return item
        item = self.dataset[i]
        if item is None:
            return None
        if cached is None:
            with torch.no_grad():
                feats = self.extract(item["audio"])
            self.cache.put(i, feats)
            cached = self.cache.get(i)
        item = dict(item)
        item["features"] = torch.from_numpy(cached)
        if self.drop_audio:
            item.pop("audio")
        return item
