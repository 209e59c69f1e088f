"""Streaming shards and the mixed stream: every clip exactly once per epoch over ranks and
DataLoader workers, seeded shard orders, decoding (rates, lengths, dotted keys), listing."""

from __future__ import annotations

import json
import tarfile
from collections import Counter

import numpy as np
import pytest
import soundfile as sf
import torch
from torch.utils.data import DataLoader

from hacd_graph.data.datasets import SyntheticStream, labels_to_target
from hacd_graph.data.shards import write_shards, write_synthetic_shards
from hacd_graph.data.streaming import (
    MixedStream,
    ShardStream,
    assigned_shards,
    iter_tar_samples,
    list_shards,
    worker_clip_counts,
)
from hacd_graph.data.synth.scene import SceneConfig, generate
from hacd_graph.errors import UserError

CFG = SceneConfig(duration_s=0.25)
N = 14  # clips, in 7 shards of 2: 7 is not a multiple of 2 ranks x 2 workers


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    out = tmp_path_factory.mktemp("shards")
    write_synthetic_shards(out, N, seed=3, config=CFG, shard_size=2, progress=False)
    return list_shards(str(out))


@pytest.fixture(scope="module")
def bank_shards(tmp_path_factory, ach):
    """Shards exported from a bank-like manifest folder: 22.05 kHz stereo clips of uneven
    length whose ids hold dots (as the sound bank's package names do)."""
    root = tmp_path_factory.mktemp("bank")
    labels = ["hacd:audio", "hacd:sound_source"]
    assert all(label in ach.ids for label in labels)
    entries = []
    for i, seconds in enumerate((0.1, 0.6, 0.3)):
        name = f"pkg-1.16-data-{i:02d}-0"
        t = np.arange(int(seconds * 22050)) / 22050
        x = 0.3 * np.sin(2 * np.pi * 440 * t)
        sf.write(root / f"{name}.wav", np.stack([x, x], axis=1), 22050)
        entries.append({"id": name, "audio": f"{name}.wav", "labels": labels})
    (root / "manifest.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))
    out = tmp_path_factory.mktemp("bank_shards")
    write_shards(root, out, shard_size=1, progress=False)
    return list_shards(str(out))


def read_epoch(make, epoch: int, world_size: int = 2, workers: int = 2) -> list[list[str]]:
    """The ids each rank reads in ``epoch``, through real DataLoader workers."""
    out = []
    for rank in range(world_size):
        ds = make(rank, world_size)
        ds.set_epoch(epoch)
        out.append([x["id"] for x in DataLoader(ds, batch_size=None, num_workers=workers)])
    return out


def test_assignment_is_a_partition_and_reshuffles():
    slots = [assigned_shards(11, 5, 0, r, 3, k, 2) for r in range(3) for k in range(2)]
    flat = [s for slot in slots for s in slot]
    assert sorted(flat) == list(range(11))
    assert assigned_shards(11, 5, 1, 0, 1, 0, 1) != assigned_shards(11, 5, 0, 0, 1, 0, 1)
    assert assigned_shards(11, 5, 1, 0, 1, 0, 1) == assigned_shards(11, 5, 1, 0, 1, 0, 1)


def test_two_ranks_two_workers_read_every_clip_once_per_epoch(shards, ach):
    def make(rank, world):
        ds = ShardStream(shards, ach, num_samples=4000, seed=7, rank=rank, world_size=world)
        ds.clip_counts()
        return ds

    expected = sorted(f"s3-{i:08d}" for i in range(N))
    orders = []
    for epoch in (0, 1):
        per_rank = read_epoch(make, epoch)
        ids = per_rank[0] + per_rank[1]
        assert sorted(ids) == expected  # every clip, exactly once
        assert [len(r) for r in per_rank] == [sum(make(r, 2).worker_clips(epoch, r, 2))
                                              for r in range(2)]
        orders.append(ids)
    assert orders[0] != orders[1]  # a new shard order per epoch
    assert read_epoch(make, 1) == read_epoch(make, 1)  # ... seeded


def test_decoded_clip_matches_the_generator(shards, ach):
    item = next(iter(ShardStream(shards[:1], ach, num_samples=None)))
    audio, _ = generate(3, int(item["id"].split("-")[1]), CFG)
    assert item["audio"].dtype == torch.float32 and item["audio"].shape == (4000,)
    assert np.abs(item["audio"].numpy() - audio).max() < 1e-4  # 16-bit PCM
    assert torch.equal(item["target"], labels_to_target(item["labels"], ach))
    assert item["target"].sum() >= 2


def test_bank_shards_resample_fit_and_keep_dotted_keys(bank_shards, ach):
    with tarfile.open(bank_shards[0]) as tar:
        assert tar.getnames() == ["pkg-1.16-data-00-0.wav", "pkg-1.16-data-00-0.json"]
    assert [k for k, _ in iter_tar_samples(bank_shards[0])] == ["pkg-1.16-data-00-0"]
    items = list(ShardStream(bank_shards, ach, sample_rate=16000, num_samples=4000))
    assert sorted(x["id"] for x in items) == [f"pkg-1.16-data-{i:02d}-0" for i in range(3)]
    assert all(x["audio"].shape == (4000,) for x in items)
    short = next(x for x in items if x["id"].endswith("00-0"))  # 0.1 s: padded with zeros
    assert short["audio"][1700:].abs().max() == 0 and short["audio"][:1500].abs().max() > 0.2


def test_mixed_stream_covers_generated_and_bank_clips_once(bank_shards, ach):
    def make(rank, world):
        synth = SyntheticStream(seed=4, num_clips=6, config=CFG, ach=ach, rank=rank,
                                world_size=world)
        bank = ShardStream(bank_shards, ach, num_samples=4000, seed=4, rank=rank,
                           world_size=world)
        return MixedStream([synth, bank], seed=4)

    per_rank = read_epoch(make, 0)
    ids = Counter(per_rank[0] + per_rank[1])
    assert set(ids.values()) == {1} and len(ids) == 9
    assert sum(1 for i in ids if i.startswith("pkg-")) == 3
    assert [len(r) for r in per_rank] == [sum(worker_clip_counts(make(r, 2), 0, r, 2))
                                          for r in range(2)]


def test_list_shards(shards, tmp_path):
    folder = str(shards[0].parent)
    assert list_shards([folder, str(shards[0]), folder + "/shard-00000[01].tar"]) == shards
    with pytest.raises(UserError, match="names no .tar shard"):
        list_shards([str(tmp_path / "nothing-*.tar")])
