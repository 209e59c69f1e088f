"""The fine-tuning stage on the tiny distillation problem: it starts from the distilled
weights, mixes the three tasks with the prompt masked, learns the retrieval space, exports."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F

from hacd_graph.distill.finetune import (
    ContrastiveHeads,
    FinetuneConfig,
    FinetuneData,
    FinetuneStage,
    info_nce,
)
from hacd_graph.training import DistributedContext, TrainerConfig, fit
from tests.distill.student_fixtures import fake_split, make_stage, save_tiny_llm

CAPTIONS = {"dog": "a dog barks", "guitar": "a guitar strums", "bird": "birds chirp",
            "birdsong": "birdsong over a guitar"}


@pytest.fixture(scope="module")
def llm_dir(tmp_path_factory):
    return save_tiny_llm(tmp_path_factory.mktemp("tiny_llm"))


@pytest.fixture(scope="module")
def distilled(tiny_ach, llm_dir, tmp_path_factory):
    """A distillation stage trained for a few steps, and its folder."""
    stage = make_stage(tiny_ach, llm_dir, lr={"head": 0.05, "bridge": 0.02})
    out = tmp_path_factory.mktemp("run") / "distill"
    cfg = TrainerConfig(max_steps=8, batch_size=4, lr=5e-3, warmup_steps=1, eval_every=0,
                        ckpt_every=0, progress=False)
    result = fit(stage, cfg, out, DistributedContext())
    return stage, out, result.metrics["eval"]


def _texts(split):
    """FinetuneData from a fake distillation split: captions and questions per clip."""
    captions, qa = [], []
    for text in split.descriptions:
        key = next(k for k in ("birdsong", "dog", "guitar", "bird") if k in text)
        captions.append([CAPTIONS[key], CAPTIONS[key].replace("a ", "one ")])
        qa.append([{"question": "Is there music?", "answer": "yes" if "guitar" in text
                    else "no", "level": "general", "type": "yes_no", "concept": "music"}])
    return FinetuneData(split.teacher, split.descriptions, split.targets, captions=captions,
                        qa=qa)


def _finetune_stage(ach, distill_stage, folder, **settings):
    config = FinetuneConfig(**{"max_target_tokens": 24, "eval_batch_size": 4,
                               "backend": "torch", "contrastive_dim": 8, **settings})
    return FinetuneStage(ach, distill_stage.loss_table, distill_stage.student, config,
                         _texts(fake_split(ach, 16, 0)), _texts(fake_split(ach, 8, 1)),
                         batch_size=4, distilled=folder / "model.pt")


def test_info_nce_matches_the_two_cross_entropies():
    g = torch.Generator().manual_seed(0)
    a = F.normalize(torch.randn(5, 4, generator=g), dim=-1)
    t = F.normalize(torch.randn(5, 4, generator=g), dim=-1)
    scale = torch.tensor(math.log(10.0))
    logits = 10.0 * a @ t.T
    expected = sum(-torch.log_softmax(logits, 1)[i, i] - torch.log_softmax(logits, 0)[i, i]
                   for i in range(5)) / 10
    torch.testing.assert_close(info_nce(a, t, scale), expected)
    assert float(info_nce(a, a, torch.tensor(math.log(100.0)))) < 1e-3  # aligned pairs


def test_every_parameter_has_a_dimension():
    # DeepSpeed's start-up broadcast views each parameter as bytes, which a 0-d tensor refuses
    heads = ContrastiveHeads(hidden_size=8, dim=4, temperature=0.07)
    assert all(p.dim() >= 1 for p in heads.parameters())
    a = F.normalize(torch.randn(3, 4), dim=-1)
    assert info_nce(a, a, heads.logit_scale).shape == ()


def test_config_rejects_unknown_tasks_and_a_prompt_without_the_question():
    with pytest.raises(ValueError, match="unknown key"):
        FinetuneConfig(tasks={"translation": 1.0})
    with pytest.raises(ValueError, match="question"):
        FinetuneConfig(prompts={"aqa": "<audio> Answer:"})
    with pytest.raises(ValueError, match="positive sum"):
        FinetuneConfig(tasks={"caption": 0.0, "aqa": 0.0, "description": 0.0})


def test_starts_from_the_distilled_weights(tiny_ach, distilled):
    stage, folder, metrics = distilled
    finetune = _finetune_stage(tiny_ach, stage, folder)
    model = finetune.build_model().eval()
    start = finetune.evaluate(model)
    assert start["hdl"] == pytest.approx(metrics["hdl"], rel=1e-5)
    assert start["lm_loss/description"] == pytest.approx(metrics["lm_loss"], rel=1e-5)
    assert start["mAP_macro"] == pytest.approx(metrics["mAP_macro"], rel=1e-6)


def test_batches_mix_the_tasks_and_mask_every_prompt(tiny_ach, distilled):
    stage, folder, _ = distilled
    finetune = _finetune_stage(tiny_ach, stage, folder)
    finetune.build_model()
    batches = list(finetune.train_batches(0, 0, 1))
    again = list(finetune.train_batches(0, 0, 1))
    assert all(torch.equal(a["input_ids"], b["input_ids"]) for a, b in zip(batches, again,
                                                                           strict=True))
    tokenizer = finetune.tokenizer
    seen = set()
    for batch in batches:
        assert batch["caption_ids"].shape[0] == batch["input_ids"].shape[0]
        for ids, labels in zip(batch["input_ids"], batch["labels"], strict=True):
            target = tokenizer.decode(ids[labels != -100], skip_special_tokens=True).strip()
            prompt = tokenizer.decode(ids[labels == -100], skip_special_tokens=True)
            assert target and target not in prompt
            if "Question:" in prompt:
                seen.add("aqa")
                assert target in ("yes", "no")
            elif "caption" in prompt:
                seen.add("caption")
                assert any(target in c for caps in CAPTIONS.values() for c in [caps])  \
                    or target.startswith("one ")
            else:
                seen.add("description")
                assert target.startswith("General category")
    assert seen == {"aqa", "caption", "description"}


def test_fit_learns_retrieval_and_exports(tiny_ach, distilled, tmp_path):
    stage, folder, _ = distilled
    finetune = _finetune_stage(tiny_ach, stage, folder, lr={"retrieval": 0.05, "lora": 0.02})
    before = finetune.evaluate(finetune.build_model().eval())
    cfg = TrainerConfig(max_steps=25, batch_size=4, lr=5e-3, warmup_steps=1, eval_every=0,
                        ckpt_every=0, progress=False)
    result = fit(finetune, cfg, tmp_path / "finetune", DistributedContext())
    after = result.metrics["eval"]
    assert after["contrastive_loss"] < before["contrastive_loss"] - 0.1
    tasks = ("lm_loss/caption", "lm_loss/aqa", "lm_loss/description")
    assert sum(after[k] for k in tasks) < sum(before[k] for k in tasks)
    assert after["lm_loss/caption"] < before["lm_loss/caption"]
    assert {"contrastive", "lm", "hdl"} <= set(result.metrics["train"])
    out = tmp_path / "finetune"
    for name in ("audio_lm/bridge", "audio_lm/adapter", "audio_lm/tokenizer", "retrieval.pt",
                 "concept_embeddings.pt", "model.pt"):
        assert (out / name).exists(), name
    info = json.loads((out / "finetune.json").read_text())
    assert info["retrieval"]["dim"] == 8 and info["loss_table"] == "ancestors"
