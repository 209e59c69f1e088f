"""The teacher stage through the one training loop: both feature modes, export, reload."""

from __future__ import annotations

import json

import pytest
import torch

from hacd_graph.ach import build_ach
from hacd_graph.gnn import GNNConfig
from hacd_graph.teacher import TeacherConfig
from hacd_graph.teacher.stage import TeacherStage, load_teacher
from hacd_graph.training import DistributedContext, Stage, TrainerConfig, fit

GNN = GNNConfig(encoder="sage", hidden_dim=8, out_dim=8, num_layers=1, features={"text": False})
TEACHER = TeacherConfig(frontend={"n_mels": 16}, cnn={"channels": [4, 8], "embed_dim": 8})


@pytest.mark.parametrize("features", ["cached", "on_the_fly"])
def test_stage_trains_exports_and_reloads(tiny_clips, tmp_path, features):
    ach = build_ach()
    stage = TeacherStage(ach, TEACHER, GNN, tiny_clips / "train", tiny_clips / "eval",
                         batch_size=4, features=features, show_progress=False)
    assert isinstance(stage, Stage)
    cfg = TrainerConfig(max_steps=4, batch_size=4, warmup_steps=1, log_every=2,
                        ckpt_every=0, progress=False)
    result = fit(stage, cfg, tmp_path / "teacher", DistributedContext())
    m = json.loads((tmp_path / "teacher" / "metrics.json").read_text())
    assert m["step"] == 4 and m["train"]["examples"] == 16
    for key in ("mAP_macro", "hF1", "level3/mAP", "facet/sound_source/F1", "bce"):
        assert key in m["eval"]
    assert m["eval"]["violation_rate"] == 0  # conditional logits cannot violate
    teacher = load_teacher(tmp_path / "teacher", ach)
    probs = stage.predict(teacher, stage.eval_features)
    reloaded_bce = stage.evaluate(teacher)["bce"]
    assert probs.shape == (6, len(ach))
    assert reloaded_bce == pytest.approx(m["eval"]["bce"], rel=1e-5)
    assert result.weights.exists()


def test_bad_feature_mode(tiny_clips):
    with pytest.raises(ValueError, match="data.features"):
        TeacherStage(build_ach(), TEACHER, GNN, tiny_clips / "train", tiny_clips / "eval", 4,
                     features="streamed")


def test_load_teacher_checks_the_hierarchy(tiny_clips, tmp_path, tiny_ach):
    with pytest.raises(FileNotFoundError, match="no finished teacher"):
        load_teacher(tmp_path, tiny_ach)
    (tmp_path / "teacher.json").write_text(json.dumps(
        {"teacher": {}, "gnn": {}, "num_concepts": 712}))
    torch.save({}, tmp_path / "model.pt")
    with pytest.raises(ValueError, match="712 concepts"):
        load_teacher(tmp_path, tiny_ach)
