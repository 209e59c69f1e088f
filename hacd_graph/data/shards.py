"""WebDataset-layout tar shards: exported from a WAV + manifest folder, or generated
straight from the scene generator (no intermediate files, for millions of clips).

A shard ``shard-NNNNNN.tar`` holds, per clip, ``<key>.wav`` then ``<key>.json`` (labels,
texts, record), adjacent as WebDataset requires. Shards are written atomically; generating
shard ``k`` of size ``S`` makes clips ``[k S, (k + 1) S)``, so an interrupted run resumes by
skipping the shards that exist.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from hacd_graph.atomic_io import write_bytes_atomic
from hacd_graph.data.export import (
    claim_folder,
    read_manifest,
    wav_bytes,
    worker_context,
)
from hacd_graph.data.synth.scene import SceneConfig, scene_settings


def _tar_add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def iter_shard_samples(manifest_dir: str | Path) -> Iterator[tuple[str, bytes, bytes]]:
    """(key, WAV bytes, JSON bytes) of every clip of a manifest folder, in manifest order."""
    root = Path(manifest_dir)
    for entry in read_manifest(root):
        wav = (root / entry["audio"]).read_bytes()
        meta = {k: v for k, v in entry.items() if k != "audio"}
        yield entry["id"], wav, json.dumps(meta).encode("utf-8")


def write_shards(
    manifest_dir: str | Path, out_dir: str | Path, shard_size: int = 1000, progress: bool = True
) -> list[Path]:
    """Export a WAV + manifest folder to WebDataset tar shards ``shard-000000.tar``, ...

    Each sample is ``<key>.wav`` and ``<key>.json`` (labels, texts and record) next to each
    other in the tar, as the WebDataset layout requires; shards are written atomically.

    Returns:
        The shard paths.
    """
    from tqdm import tqdm

    if shard_size < 1:
        raise ValueError(f"shard_size must be >= 1, got {shard_size}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    buf: io.BytesIO | None = None
    tar: tarfile.TarFile | None = None

    def close() -> None:
        nonlocal tar, buf
        if tar is not None and buf is not None:
            tar.close()
            path = out / f"shard-{len(paths):06d}.tar"
            write_bytes_atomic(path, buf.getvalue())
            paths.append(path)
        tar, buf = None, None

    samples = tqdm(
        iter_shard_samples(manifest_dir), desc="shards", unit="clip", disable=not progress
    )
    for count, (key, wav, meta) in enumerate(samples, start=1):
        if tar is None:
            buf = io.BytesIO()
            tar = tarfile.open(fileobj=buf, mode="w")  # noqa: SIM115 (closed in close())
        _tar_add(tar, f"{key}.wav", wav)
        _tar_add(tar, f"{key}.json", meta)
        if count % shard_size == 0:
            close()
    close()
    return paths


_WORKER: dict[str, Any] = {}


def _init_shard_worker(
    config_dict: dict[str, Any], seed: int, out_dir: str, size: int, n: int
) -> None:
    from hacd_graph.ach import build_ach

    _WORKER.update(
        ach=build_ach(),
        config=SceneConfig(**config_dict),
        seed=seed,
        out=Path(out_dir),
        size=size,
        n=n,
    )


def _make_shard(k: int) -> str:
    from hacd_graph.data.synthetic import make_example

    w = _WORKER
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for i in range(k * w["size"], min((k + 1) * w["size"], w["n"])):
            ex = make_example(w["seed"], i, w["ach"], w["config"])
            _tar_add(tar, f"{ex.key}.wav", wav_bytes(ex.audio, ex.record.sample_rate))
            meta = {
                key: v for key, v in ex.manifest_entry(f"{ex.key}.wav").items() if key != "audio"
            }
            _tar_add(tar, f"{ex.key}.json", json.dumps(meta).encode("utf-8"))
    path = w["out"] / f"shard-{k:06d}.tar"
    write_bytes_atomic(path, buf.getvalue())
    return str(path)


def write_synthetic_shards(
    out_dir: str | Path,
    n: int,
    seed: int = 0,
    config: SceneConfig | None = None,
    shard_size: int = 1000,
    workers: int = 1,
    progress: bool = True,
) -> list[Path]:
    """Generate clips ``0..n-1`` of ``seed`` straight into WebDataset tar shards.

    Resumable: shards already present are kept (a shard appears only when complete).

    Returns:
        All shard paths, in order.
    """
    from tqdm import tqdm

    if shard_size < 1:
        raise ValueError(f"shard_size must be >= 1, got {shard_size}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config = config or SceneConfig()
    claim_folder(out, {"seed": seed, "config": scene_settings(config), "shard_size": shard_size})
    count = (n + shard_size - 1) // shard_size
    paths = [out / f"shard-{k:06d}.tar" for k in range(count)]
    todo = [k for k in range(count) if not paths[k].exists()]
    args = (asdict(config), seed, str(out), shard_size, n)
    with tqdm(
        total=count, initial=count - len(todo), desc="shards", unit="shard", disable=not progress
    ) as bar:
        if workers <= 1:
            _init_shard_worker(*args)
            for k in todo:
                _make_shard(k)
                bar.update(1)
        else:
            with worker_context().Pool(workers, _init_shard_worker, args) as pool:
                for _ in pool.imap_unordered(_make_shard, todo):
                    bar.update(1)
    return paths
