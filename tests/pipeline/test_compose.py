"""Every config composes, and every group's options instantiate at tiny size."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from hacd_graph.errors import ConfigError
from hacd_graph.gnn import ConceptEncoder, GNNConfig
from hacd_graph.pipeline import DataConfig, compose_config, config_groups
from hacd_graph.pipeline.compose import CONFIG_DIR
from hacd_graph.teacher import TeacherConfig, TeacherModel
from hacd_graph.training import TrainerConfig, config_from_mapping
from hacd_graph.training.engine import deepspeed_config

GROUPS = config_groups()
TOP = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def _c(cfg, key):
    return OmegaConf.to_container(cfg[key], resolve=True)


def test_groups_present():
    for group in ("ach", "gnn", "teacher", "data", "trainer", "deepspeed", "experiment",
                  "bridge", "llm"):
        assert GROUPS.get(group), f"config group {group} is missing"
    assert "distill_gnn" in TOP


@pytest.mark.parametrize("name", TOP)
def test_top_configs_compose_and_resolve(name):
    cfg = compose_config(name)
    OmegaConf.to_container(cfg, resolve=True)
    assert {"ach", "gnn", "teacher", "data", "trainer", "deepspeed", "bridge", "llm",
            "run"} <= set(cfg)


@pytest.mark.parametrize("option", GROUPS["experiment"])
def test_experiments_compose(option):
    cfg = compose_config("distill_gnn", [f"experiment={option}"])
    config_from_mapping(TrainerConfig, _c(cfg, "trainer"), "trainer")
    config_from_mapping(DataConfig, _c(cfg, "data"), "data")


@pytest.mark.parametrize("option", GROUPS["gnn"])
def test_gnn_group_instantiates(option, tiny_ach):
    cfg = compose_config("distill_gnn", [f"gnn={option}", "experiment=tiny"])
    gnn = config_from_mapping(GNNConfig, _c(cfg, "gnn"), "gnn")
    assert ConceptEncoder(tiny_ach, gnn)().shape == (len(tiny_ach), gnn.out_dim)


@pytest.mark.parametrize("option", GROUPS["teacher"])
def test_teacher_group_instantiates(option, tiny_ach):
    overrides = [f"teacher={option}", "experiment=tiny"]
    if option == "ast":  # tiny transformer
        overrides += ["teacher.ast.hidden_size=16", "teacher.ast.num_hidden_layers=1",
                      "teacher.ast.num_attention_heads=2", "teacher.ast.intermediate_size=32",
                      "teacher.ast.max_length=32", "teacher.frontend.n_mels=32"]
    cfg = compose_config("distill_gnn", overrides)
    teacher = config_from_mapping(TeacherConfig, _c(cfg, "teacher"), "teacher")
    gnn = config_from_mapping(GNNConfig, _c(cfg, "gnn"), "gnn")
    model = TeacherModel(tiny_ach, teacher, gnn).eval()
    out = model(waveform=torch.randn(2, 4000))
    assert out.probs.shape == (2, len(tiny_ach))


@pytest.mark.parametrize("option", GROUPS["ach"])
def test_ach_group_builds(option, audioset_ontology_path, tmp_path):
    from hacd_graph.pipeline.stages import run_ach
    from hacd_graph.training import DistributedContext

    overrides = [f"ach={option}"]
    if option == "audioset":
        overrides.append(f"ach.audioset_ontology={audioset_ontology_path}")
    cfg = compose_config("distill_gnn", overrides)
    ach = run_ach(cfg, tmp_path, DistributedContext())
    assert len(ach) > 100 and (tmp_path / "ach.json").exists()


@pytest.mark.parametrize("option", GROUPS["deepspeed"])
def test_deepspeed_group(option):
    cfg = compose_config("distill_gnn", [f"deepspeed={option}"])
    ds = _c(cfg, "deepspeed")
    trainer = config_from_mapping(TrainerConfig, _c(cfg, "trainer"), "trainer")
    full = deepspeed_config(trainer, ds["config"])
    assert full["train_micro_batch_size_per_gpu"] == trainer.batch_size
    if ds["enabled"]:
        assert full["zero_optimization"]["stage"] in (2, 3)


def test_unknown_config_and_key_are_named():
    with pytest.raises(ConfigError, match="--config nope: no configs/nope.yaml .* distill_gnn"):
        compose_config("nope")
    cfg = compose_config("distill_gnn", ["+trainer.max_stepz=3"])
    with pytest.raises(ValueError, match="max_stepz"):
        config_from_mapping(TrainerConfig, _c(cfg, "trainer"), "trainer")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("gnn=foo", "In 'distill_gnn': Could not find 'gnn/foo'; Available options in 'gnn': "
                    "gatv2, gcn, none, sage"),
        ("trainer.foo=1", "unknown config key 'trainer.foo': the config has no such setting; "
                          "keys under trainer: batch_size, betas,"),
        ("nosuch.key=1", "unknown config key 'nosuch.key': the config has no such setting; "
                         "keys under the top level: ach, bridge,"),
        ("trainer.max_steps=[1", "cannot parse the override 'trainer.max_steps=[1': "
                                 "no viable alternative at input '[1'"),
        ("experiment=nope", "Could not find 'experiment/nope'; Available options in 'experiment'"),
    ],
)
def test_hydra_errors_are_one_line(override, message):
    with pytest.raises(ConfigError) as info:
        compose_config("distill_gnn", [override])
    assert message in str(info.value) and "\n" not in str(info.value)
