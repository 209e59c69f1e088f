import pytest
import torch
from torch.utils.data import DataLoader

from hacd_graph.data.datasets import (
    ManifestDataset,
    SyntheticStream,
    collate_examples,
    labels_to_target,
    resolve_rank,
    shard_indices,
)
from hacd_graph.data.export import write_synthetic
from hacd_graph.data.synth.scene import SceneConfig

CFG = SceneConfig(duration_s=0.5)


def test_shards_are_disjoint_and_cover_everything():
    seen = []
    for rank in range(3):
        for worker in range(2):
            seen += list(shard_indices(5, 41, rank, 3, worker, 2))
    assert sorted(seen) == list(range(5, 41))


def test_stream_across_ranks_and_dataloader_workers(ach):
    ids = []
    for rank in range(2):
        ds = SyntheticStream(seed=4, num_clips=12, config=CFG, ach=ach, rank=rank, world_size=2)
        loader = DataLoader(ds, batch_size=2, num_workers=2, collate_fn=collate_examples)
        for batch in loader:
            assert batch["audio"].shape == (len(batch["id"]), 8000)
            assert batch["target"].shape == (len(batch["id"]), len(ach))
            ids += batch["index"]
    assert sorted(ids) == list(range(12))


def test_stream_items_match_targets(ach):
    item = next(iter(SyntheticStream(seed=1, num_clips=1, config=CFG, ach=ach)))
    assert torch.equal(item["target"], labels_to_target(item["labels"], ach))
    assert item["target"][ach.index("hacd:audio")] == 1.0


def test_resolve_rank():
    assert resolve_rank() == (0, 1)
    assert resolve_rank(2, 4) == (2, 4)
    with pytest.raises(ValueError, match="rank 4"):
        resolve_rank(4, 4)


def test_manifest_dataset_and_skip_bad(tmp_path, ach):
    write_synthetic(tmp_path, 3, seed=0, config=CFG, progress=False)
    ds = ManifestDataset(tmp_path, ach, num_samples=9000)
    item = ds[0]
    assert item["audio"].shape == (9000,) and item["target"].sum() == len(set(item["labels"]))
    (tmp_path / ds.entries[1]["audio"]).write_bytes(b"")
    with pytest.raises(Exception, match="empty"):
        ds[1]
    skipping = ManifestDataset(tmp_path, ach, skip_bad=True)
    batch = collate_examples([skipping[i] for i in range(3)])
    assert len(batch["id"]) == 2 and skipping.report.counts == {"empty": 1}
    assert "skipped 1" in skipping.report.summary()
