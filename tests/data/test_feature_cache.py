import numpy as np
import pytest
import torch

from hacd_graph.data.feature_cache import CachedFeatures, FeatureCache


class _Toy(torch.utils.data.Dataset):
    def __init__(self):
        self.reads = 0

    def __len__(self):
        return 5

    def metadata(self, i):
        return {"id": str(i), "target": torch.zeros(2)}

    def __getitem__(self, i):
        self.reads += 1
        return {**self.metadata(i), "audio": torch.full((8,), float(i))}


def test_put_get_and_rebuild_on_new_settings(tmp_path):
    cache = FeatureCache(tmp_path, "logmel n_mels=4", 5, (2, 4), shard_size=2)
    assert cache.get(3) is None
    cache.put(3, np.ones((2, 4)))
    assert np.array_equal(cache.get(3), np.ones((2, 4)))
    assert FeatureCache(tmp_path, "logmel n_mels=4", 5, (2, 4), shard_size=2).get(3) is not None
    other = FeatureCache(tmp_path, "logmel n_mels=8", 5, (2, 8), shard_size=2)
    assert other.dir != cache.dir and other.num_cached() == 0
    changed = FeatureCache(
        tmp_path, "logmel n_mels=4", 5, (2, 4), shard_size=3
    )  # same key, new layout
    assert changed.num_cached() == 0
    with pytest.raises(ValueError, match="shape"):
        changed.put(0, np.ones((3, 4)))
    with pytest.raises(IndexError, match="out of range"):
        changed.get(5)


def test_second_epoch_reads_the_cache(tmp_path):
    data = _Toy()
    calls = []

    def extract(audio):
        calls.append(1)
        return audio.reshape(2, 4) * 2

    ds = CachedFeatures(data, extract, FeatureCache(tmp_path, "toy", 5, (2, 4)))
    first = [ds[i]["features"] for i in range(5)]
    reads = data.reads
    second = [ds[i]["features"] for i in range(5)]
    assert len(calls) == 5 and data.reads == reads  # no audio read, no recompute
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    assert torch.equal(second[3], torch.full((2, 4), 6.0))
