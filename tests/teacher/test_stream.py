"""The teacher trained from streamed data: shards and the synthetic stream end to end through
the one loop, features as the cached path makes them, ranks stopping together, the config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from hacd_graph.ach import build_ach
from hacd_graph.data.datasets import SyntheticStream
from hacd_graph.data.shards import write_synthetic_shards
from hacd_graph.data.synth.scene import SceneConfig
from hacd_graph.gnn import GNNConfig
from hacd_graph.teacher import TeacherConfig
from hacd_graph.teacher.data import FeatureStream, StreamSource, open_stream, rank_batch_limit
from hacd_graph.teacher.frontend import make_frontend
from hacd_graph.teacher.stage import TeacherStage
from hacd_graph.training import DistributedContext, TrainerConfig, fit

GNN = GNNConfig(encoder="sage", hidden_dim=8, out_dim=8, num_layers=1, features={"text": False})
TEACHER = TeacherConfig(frontend={"n_mels": 16}, cnn={"channels": [4, 8], "embed_dim": 8})
SCENE = SceneConfig(duration_s=0.5)  # the tiny_clips fixture's length
CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.fixture(scope="module")
def ach():
    return build_ach()


@pytest.fixture(scope="module")
def shard_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("teacher_shards")
    write_synthetic_shards(out, 12, seed=5, config=SCENE, shard_size=3, progress=False)
    return out


def train(stage: TeacherStage, steps: int, out: Path) -> dict:
    cfg = TrainerConfig(max_steps=steps, batch_size=stage.batch_size, warmup_steps=1,
                        log_every=1, ckpt_every=0, progress=False)
    fit(stage, cfg, out, DistributedContext())
    return json.loads((out / "metrics.json").read_text())


def test_teacher_trains_from_shards_with_workers(ach, shard_dir, tiny_clips, tmp_path):
    source = StreamSource("shards", [str(shard_dir)], seed=5)
    stage = TeacherStage(ach, TEACHER, GNN, None, tiny_clips / "eval", batch_size=4,
                         num_workers=2, source=source, show_progress=False)
    # each worker reads 2 shards x 3 clips -> batches of 4 and 2; epoch 0 is 4 batches (12
    # clips), the 5th step is epoch 1's first batch (4 clips)
    m = train(stage, 5, tmp_path / "teacher")
    assert m["step"] == 5 and m["train"]["examples"] == 16
    assert m["epoch"] == 1 and m["eval"]["violation_rate"] == 0
    assert torch.isfinite(torch.tensor(m["train"]["loss"]))


def test_teacher_trains_from_the_stream(ach, tiny_clips, tmp_path):
    source = StreamSource("stream", stream_clips=8, seed=1, scene=SCENE)
    stage = TeacherStage(ach, TEACHER, GNN, None, tiny_clips / "eval", batch_size=4,
                         source=source, show_progress=False)
    batch = next(iter(stage.train_batches(0, 0, 1)))
    assert batch["features"].shape == (4, stage.eval_features.shape[1], 16)
    m = train(stage, 2, tmp_path / "teacher")
    assert m["step"] == 2 and m["train"]["examples"] == 8 and "mAP_macro" in m["eval"]


def test_stream_features_equal_the_cached_front_end(ach):
    clips = SyntheticStream(seed=1, num_clips=2, config=SCENE, ach=ach)
    logmel = TEACHER.logmel
    streamed = [x["features"] for x in FeatureStream(clips, logmel)]
    audio = torch.stack([x["audio"] for x in clips])
    with torch.no_grad():
        batched = make_frontend(logmel)(audio)  # what cached_features computes
    torch.testing.assert_close(torch.stack(streamed), batched, rtol=1e-5, atol=1e-4)


def test_ranks_stop_at_the_fewest_batches(ach, shard_dir):
    # 4 shards of 3 clips, 3 ranks x 1 worker: ranks read 2, 1, 1 shards -> 2, 1, 1 batches
    source = StreamSource("shards", [str(shard_dir)], seed=5)
    clips = open_stream(source, ach, 16000, 8000, rank=0, world_size=3)
    assert sorted(sum(-(-c // 3) for c in clips.worker_clips(0, r, 1)) for r in range(3)) == [
        1, 1, 2]
    assert rank_batch_limit(clips, 0, 3, 0, 3) == 1
    assert rank_batch_limit(open_stream(source, ach, 16000, 8000, 0, 1), 0, 1, 0, 3) == 4


def test_data_config_and_the_1m_preset():
    from hacd_graph.pipeline.stages import DataConfig

    with pytest.raises(ValueError, match="data.stream_clips"):
        DataConfig(source="stream")
    with pytest.raises(ValueError, match="data.shards"):
        DataConfig(source="shards")
    with pytest.raises(ValueError, match="data.source='web'"):
        DataConfig(source="web")
    source = DataConfig(source="stream", stream_clips=10, shards="BANK_SHARDS").stream_source()
    assert source.shards == ["BANK_SHARDS"] and source.seed == 1
    assert DataConfig().stream_source() is None

    preset = yaml.safe_load((CONFIGS / "data" / "stream_1m.yaml").read_text())
    data, trainer = preset["data"], preset["trainer"]
    DataConfig(**{k: v for k, v in data.items() if k != "defaults"})
    assert data["source"] == "stream" and data["stream_clips"] == 1_000_000
    assert trainer["max_steps"] * trainer["batch_size"] == data["stream_clips"]  # one pass
    from hacd_graph.pipeline import compose_config
    from hacd_graph.pipeline.validate import validate_config

    cfg = compose_config("distill_gnn", ["data=stream_1m", "run.dir=/tmp/stream_1m_unused"])
    validate_config(cfg)
    assert cfg.data.stream_clips == 1_000_000 and cfg.data.train_clips == 600  # synth's rest
