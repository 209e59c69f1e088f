"""The recipe of hacd_graph/bridge/transfer.py: a bridge trained with a Llama (hidden 32)
imported into a GPT-2 of hidden 48, its new output projection re-aligned in a few steps."""

import json

import pytest
import torch

from hacd_graph.bridge import (
    AudioPromptProcessor,
    attach_bridge,
    load_bridge,
    realign_bridge,
    reproject_bridge,
)
from hacd_graph.bridge.transfer import RealignStage
from hacd_graph.training import Stage

from .conftest import make_audio, make_bridge, make_llm


def test_import_bridge_into_llm_of_another_hidden_size(tmp_path, tiny_tokenizer_factory):
    make_bridge(llm_hidden=32).save_pretrained(tmp_path / "bridge")

    # 1. load and reproject
    saved = load_bridge(tmp_path / "bridge")
    bridge = reproject_bridge(saved, 48)
    assert bridge.config.llm_hidden_size == 48
    assert bridge.output_projection.weight.shape == (48, 16)
    old, new = saved.state_dict(), bridge.state_dict()
    for name in old:
        if not name.startswith("output_projection."):
            assert torch.equal(old[name], new[name]), name
    assert reproject_bridge(saved, 32) is saved

    # 2. attach to the new LLM
    tok = tiny_tokenizer_factory()
    llm = make_llm("gpt2", len(tok), hidden=48, bos=tok.bos_token_id, eos=tok.eos_token_id,
                   pad=tok.pad_token_id)
    model = attach_bridge(llm, bridge, tokenizer=tok)
    processor = AudioPromptProcessor.from_model(tok, model)
    audio, concepts, probs = make_audio(4, seed=5)
    # the clip's first word is predicted right after its soft tokens: the projection
    # has to map each clip's features to the right part of the new embedding space
    batch = processor(["<audio>"] * 4, ["dog", "rain", "car", "birds"])
    batch.update(audio_features=audio, concept_embeddings=concepts, concept_probs=probs)

    # 3. re-align only the output projection
    frozen = {n: p.detach().clone() for n, p in model.named_parameters()
              if not n.startswith("bridge.output_projection.")}
    model.eval()
    losses = realign_bridge(model, [batch], steps=10, lr=1e-1, work_dir=tmp_path / "realign")
    # (a random tiny LM's logits are small, so its loss cannot fall far below log V = 6)
    assert len(losses) == 10 and losses[-1] < losses[0] - 0.1
    # through the one training loop: its record, one optimiser group at a constant lr
    record = json.loads((tmp_path / "realign" / "metrics.json").read_text())
    assert record["stage"] == "realign" and record["step"] == 10
    assert record["train"]["lr"] == pytest.approx(1e-1)
    assert not model.training
    for n, p in model.named_parameters():
        if n in frozen:
            assert torch.equal(p, frozen[n]), n
    assert all(p.requires_grad for p in model.parameters())

    # 4. save the re-aligned bridge: it now loads as a 48-wide bridge
    model.bridge.save_pretrained(tmp_path / "bridge48")
    assert load_bridge(tmp_path / "bridge48").config.llm_hidden_size == 48


def test_realign_stage_is_a_stage_and_needs_labels(tiny_tokenizer_factory):
    tok = tiny_tokenizer_factory()
    llm = make_llm("llama", len(tok), hidden=32, bos=tok.bos_token_id, eos=tok.eos_token_id,
                   pad=tok.pad_token_id)
    model = attach_bridge(llm, make_bridge(llm_hidden=32), tokenizer=tok)
    assert isinstance(RealignStage(model, [{}]), Stage)
    batch = AudioPromptProcessor.from_model(tok, model)(["<audio>"], None)
    audio, concepts, probs = make_audio(1)
    batch.update(audio_features=audio, concept_embeddings=concepts, concept_probs=probs)
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    with pytest.raises(ValueError, match="needs batches with labels"):
        realign_bridge(model, [batch], steps=2)
    assert flags == {n: p.requires_grad for n, p in model.named_parameters()}
