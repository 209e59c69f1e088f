"""The distillation stage on a tiny problem: its loss, batches, evaluation, probe mode,
export, and training through the one loop."""

from __future__ import annotations

import json

import pytest
import torch

from hacd_graph.distill import hierarchical_distillation_loss
from hacd_graph.distill.stage import DistillConfig
from hacd_graph.training import DistributedContext, TrainerConfig, fit
from tests.distill.student_fixtures import make_stage, save_tiny_llm


@pytest.fixture(scope="module")
def llm_dir(tmp_path_factory):
    return save_tiny_llm(tmp_path_factory.mktemp("tiny_llm"))


def test_batches_shard_without_duplicates_and_mask_the_prompt(tiny_ach, llm_dir):
    stage = make_stage(tiny_ach, llm_dir)
    stage.build_model()
    one = [b for b in stage.train_batches(0, 0, 1)]
    assert len(one) == 4 and all(len(b["input_ids"]) == 4 for b in one)
    seen = []
    for rank in (0, 1):
        batches = list(stage.train_batches(0, rank, 2))
        assert len(batches) == 2
        seen += [tuple(t.tolist()) for b in batches for t in b["teacher_logits"]]
    assert len(set(seen)) == 16  # the two ranks' shards are disjoint and cover every clip
    batch = one[0]
    prompt_len = len(stage.processor.encode(stage.config.prompt)[0])
    assert (batch["labels"][:, :prompt_len] == -100).all()
    assert (batch["labels"][:, prompt_len:] != -100).any()


def test_training_step_is_hdl_plus_lambda_lm(tiny_ach, llm_dir):
    stage = make_stage(tiny_ach, llm_dir, lm_weight=0.25)
    model = stage.build_model()
    batch = next(iter(stage.train_batches(0, 0, 1)))
    out = stage.training_step(model, batch)
    raw = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                audio_features=batch["audio_features"], concept_probs=batch["concept_probs"],
                labels=batch["labels"])
    hdl = hierarchical_distillation_loss(raw.concept_logits, batch["teacher_logits"],
                                         tiny_ach.ancestor_table(), backend="torch")
    torch.testing.assert_close(out.loss, hdl + 0.25 * raw.loss)
    assert out.logs["hdl"] == pytest.approx(float(hdl.detach()), rel=1e-5)


def test_probe_mode_sends_no_concept_gradient_into_the_llm(tiny_ach, llm_dir):
    stage = make_stage(tiny_ach, llm_dir, hdl=False, lm_weight=0.0)
    model = stage.build_model()
    out = stage.training_step(model, next(iter(stage.train_batches(0, 0, 1))))
    out.loss.backward()
    groups = model.parameter_groups()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in groups["head"])
    for part in ("bridge", "lora"):
        assert all(p.grad is None or p.grad.abs().sum() == 0 for p in groups[part]), part


def test_optimizer_groups_carry_their_learning_rates(tiny_ach, llm_dir):
    stage = make_stage(tiny_ach, llm_dir, lr={"bridge": 0.1, "head": 0.3})
    model = stage.build_model()
    groups = {g["name"]: g for g in stage.optimizer_groups(model)}
    assert set(groups) == {"bridge", "lora", "head"}
    assert groups["bridge"]["lr"] == 0.1 and groups["head"]["lr"] == 0.3
    assert "lr" not in groups["lora"]  # trainer.lr
    lora = {n for n, p in model.named_parameters() if p.requires_grad and "lora_" in n}
    assert lora and all("lora_" in n for n, p in model.audio_lm.llm.named_parameters()
                        if p.requires_grad)


def test_config_rejects_unknown_parts_and_bad_values():
    with pytest.raises(ValueError, match="unknown part"):
        DistillConfig(lr={"decoder": 1e-3})
    with pytest.raises(ValueError, match="hdl"):
        DistillConfig(hdl="maybe")
    with pytest.raises(ValueError):
        DistillConfig(temperature=0)


@pytest.mark.parametrize("flat", [False, True])
def test_fit_learns_the_teacher_and_exports(tiny_ach, llm_dir, tmp_path, flat):
    stage = make_stage(tiny_ach, llm_dir, flat=flat, lr={"head": 0.05, "bridge": 0.02})
    before = stage.evaluate(stage.build_model().eval())
    cfg = TrainerConfig(max_steps=30, batch_size=4, lr=5e-3, warmup_steps=2, eval_every=0,
                        ckpt_every=0, progress=False)
    result = fit(stage, cfg, tmp_path / "distill", DistributedContext())
    after = result.metrics["eval"]
    assert after["hdl"] < 0.5 * before["hdl"]
    assert after["agreement/kl"] < before["agreement/kl"]
    assert after["mAP_macro"] > before["mAP_macro"] and after["mAP_macro"] > 0.75
    for key in ("level1/mAP", "level3/F1", "hF1", "violation_rate", "agreement/level2/top3",
                "lm_loss"):
        assert key in after
    if not flat:
        assert after["violation_rate"] == 0  # marginals from conditionals never violate
    out = tmp_path / "distill"
    for name in ("audio_lm/bridge", "audio_lm/adapter", "audio_lm/concept_head",
                 "audio_lm/tokenizer", "concept_embeddings.pt", "metrics.json"):
        assert (out / name).exists(), name
    info = json.loads((out / "distill.json").read_text())
    assert info["loss_table"] == ("flat" if flat else "ancestors")
    assert result.metrics["train"]["examples_per_s"] > 0
