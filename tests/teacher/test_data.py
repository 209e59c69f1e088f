"""Teacher data: manifest targets, the log-mel cache, rank-sharded epoch orders."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hacd_graph.ach import build_ach
from hacd_graph.data.features import LogMel, LogMelConfig
from hacd_graph.teacher.data import (
    cached_batches,
    cached_features,
    epoch_order,
    open_clips,
    waveform_batches,
)


@pytest.fixture(scope="module")
def core():
    return build_ach()


def test_targets_follow_the_manifest(tiny_clips, core):
    clips = open_clips(tiny_clips / "train", core, 16000)
    assert len(clips) == 12 and clips.num_samples == 8000
    first = json.loads((tiny_clips / "train" / "manifest.jsonl").read_text().splitlines()[0])
    on = {core.ids[i] for i in torch.nonzero(clips.targets[0]).flatten().tolist()}
    assert on == set(first["labels"])
    anc = core.ancestor_table()
    for row in clips.targets:  # closed under ancestors
        idx = torch.nonzero(row).flatten()
        table = anc[idx]
        assert row[table[table >= 0]].all()


def test_cached_features_equal_the_front_end_and_are_reused(tiny_clips, core):
    cfg = LogMelConfig(n_mels=16)
    clips = open_clips(tiny_clips / "eval", core, 16000)
    feats = cached_features(clips, cfg, show_progress=False)
    assert feats.dtype == torch.float16 and feats.shape == (6, cfg.num_frames(8000), 16)
    direct = LogMel(cfg)(clips.dataset[3]["audio"])
    torch.testing.assert_close(feats[3].float(), direct, atol=0.02, rtol=0.01)
    again = cached_features(clips, cfg, show_progress=False)
    assert torch.equal(feats, again)


def test_cached_features_of_the_ast_input(tiny_clips, core):
    """For the AST backbone the cache holds AST's fbank, keyed apart from the log-mel."""
    from hacd_graph.data.features import FbankConfig
    from hacd_graph.teacher.frontend import ASTFbank, num_frames

    cfg = FbankConfig(num_mel_bins=16)
    clips = open_clips(tiny_clips / "eval", core, 16000)
    feats = cached_features(clips, cfg, show_progress=False)
    assert feats.shape == (6, num_frames(cfg, 8000), 16)
    direct = ASTFbank(cfg)(clips.dataset[2]["audio"])
    torch.testing.assert_close(feats[2].float(), direct, atol=0.01, rtol=0.01)
    logmel = cached_features(clips, LogMelConfig(n_mels=16), show_progress=False)
    assert logmel.shape[1] != feats.shape[1] or not torch.equal(logmel, feats)


def test_epoch_order_shards_ranks_evenly():
    a = epoch_order(23, seed=0, epoch=1, rank=0, world_size=2, batch_size=5)
    b = epoch_order(23, seed=0, epoch=1, rank=1, world_size=2, batch_size=5)
    assert len(a) == len(b) == 2
    seen = np.concatenate(a + b)
    assert len(set(seen.tolist())) == 20  # disjoint; the partial chunk is dropped
    assert not np.array_equal(np.concatenate(a), np.concatenate(
        epoch_order(23, 0, 2, 0, 2, 5)))  # a new order each epoch


def test_batches_of_both_modes(tiny_clips, core):
    clips = open_clips(tiny_clips / "train", core, 16000)
    order = epoch_order(len(clips), 0, 0, 0, 1, 4)
    feats = cached_features(clips, LogMelConfig(n_mels=16), show_progress=False)
    cb = list(cached_batches(feats, clips.targets, order))
    wb = list(waveform_batches(clips, order, num_workers=0))
    assert len(cb) == len(wb) == 3
    assert cb[0]["features"].shape == (4, 51, 16) and wb[0]["audio"].shape == (4, 8000)
    torch.testing.assert_close(cb[1]["target"], wb[1]["target"])


def test_missing_manifest_is_named(tmp_path, core):
    with pytest.raises(FileNotFoundError, match="manifest.jsonl"):
        open_clips(tmp_path, core, 16000)
