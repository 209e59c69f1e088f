import pytest
import torch

from hacd_graph.bridge import (
    AudioCausalLM,
    AudioPromptProcessor,
    ConceptHeadConfig,
    GraphConceptHead,
    attach_bridge,
    summary_positions,
)
from hacd_graph.llm.lora import LoraSettings, apply_lora

from .conftest import CONCEPT_DIM, FAMILIES, make_audio, make_bridge, make_llm

PROMPTS = ["<audio> Describe the sound.", "Listen carefully: <audio> What is making this sound?"]
TARGETS = ["A dog barks and a man speaks nearby.", "Rain falls."]


def _model(family, tokenizer, concept_head=False, seed=0):
    llm = make_llm(family, len(tokenizer), seed=seed, bos=tokenizer.bos_token_id,
                   eos=tokenizer.eos_token_id, pad=tokenizer.pad_token_id)
    head = GraphConceptHead(ConceptHeadConfig(32, CONCEPT_DIM)) if concept_head else None
    return attach_bridge(llm, make_bridge(seed=seed), tokenizer=tokenizer, concept_head=head)


@pytest.fixture(params=FAMILIES)
def family(request):
    return request.param


def test_attach_adds_placeholder_and_trains_end_to_end(family, tiny_tokenizer_factory):
    tok = tiny_tokenizer_factory()
    vocab = len(tok)
    model = _model(family, tok, concept_head=True)
    assert model.audio_token_id == tok.convert_tokens_to_ids("<audio>") == vocab
    assert model.llm.get_input_embeddings().num_embeddings == vocab + 1
    assert model.llm.get_output_embeddings().weight.shape[0] == vocab + 1
    batch = AudioPromptProcessor.from_model(tok, model)(PROMPTS, TARGETS)
    audio, concepts, probs = make_audio(2)
    model.train()
    out = model(**batch, audio_features=audio, concept_embeddings=concepts,
                concept_probs=probs, output_bridge_attentions=True, output_hidden_states=True)
    assert out.logits.shape[:2] == batch["input_ids"].shape
    assert out.hidden_states[-1].shape == (*batch["input_ids"].shape, 32)
    assert out.concept_logits.shape == (2, 9)
    assert out.bridge_output.concept_attentions[0].shape == (2, 2, 4, 9)
    (out.loss + out.concept_logits.sum()).backward()
    for name, p in model.bridge.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert all(p.grad is not None for p in model.concept_head.parameters())


def test_padding_side_does_not_change_the_outputs(family, tiny_tokenizer_factory):
    tok = tiny_tokenizer_factory()
    model = _model(family, tok)
    processor = AudioPromptProcessor.from_model(tok, model)
    audio, concepts, probs = make_audio(2)
    losses, logits = {}, {}
    for side in ("right", "left"):
        batch = processor(PROMPTS, TARGETS, padding_side=side)
        with torch.no_grad():
            out = model(**batch, audio_features=audio, concept_embeddings=concepts,
                        concept_probs=probs)
        losses[side] = out.loss
        keep = batch["attention_mask"].bool()
        logits[side] = [out.logits[b][keep[b]] for b in range(2)]
    torch.testing.assert_close(losses["left"], losses["right"], rtol=1e-4, atol=1e-4)
    for b in range(2):
        torch.testing.assert_close(logits["left"][b], logits["right"][b], rtol=1e-4,
                                   atol=1e-4)
    # each row equals the same prompt run alone (no padding at all)
    alone = processor(PROMPTS[1:], TARGETS[1:])
    with torch.no_grad():
        single = model(**alone, audio_features=audio[1:], concept_embeddings=concepts,
                       concept_probs=probs[1:]).logits[0]
    torch.testing.assert_close(logits["right"][1], single, rtol=1e-4, atol=1e-4)


def test_generate_with_audio_left_padded(family, tiny_tokenizer_factory):
    tok = tiny_tokenizer_factory()
    model = _model(family, tok)
    processor = AudioPromptProcessor.from_model(tok, model)
    audio, concepts, probs = make_audio(2)
    batch = processor(PROMPTS, padding_side="left")
    kwargs = dict(max_new_tokens=5, do_sample=False, pad_token_id=tok.pad_token_id,
                  eos_token_id=None)
    out = model.generate(**batch, audio_features=audio, concept_embeddings=concepts,
                         concept_probs=probs, **kwargs)
    width = batch["input_ids"].shape[1]
    assert out.shape == (2, width + 5)
    assert torch.equal(out[:, :width], batch["input_ids"])
    assert not (out[:, width:] == model.audio_token_id).any()
    # the shorter, left-padded prompt continues as it does alone
    one = processor(PROMPTS[:1])
    assert one["input_ids"].shape[1] < width
    alone = model.generate(**one, audio_features=audio[:1], concept_embeddings=concepts,
                           concept_probs=probs[:1], **kwargs)
    assert torch.equal(alone[0, one["input_ids"].shape[1]:], out[0, width:])


def test_placeholder_count_mismatch_is_a_value_error(tiny_tokenizer_factory):
    tok = tiny_tokenizer_factory()
    model = _model("llama", tok)
    batch = AudioPromptProcessor(tok, 3, model.audio_token_id)(PROMPTS)
    audio, concepts, probs = make_audio(2)
    with pytest.raises(ValueError, match="exactly 4 audio placeholders"):
        model(**batch, audio_features=audio, concept_embeddings=concepts, concept_probs=probs)
    with pytest.raises(ValueError, match="no audio_features"):
        model(**batch)


def test_hidden_size_mismatch_and_text_only_batches(tiny_tokenizer_factory):
    tok = tiny_tokenizer_factory()
    llm = make_llm("qwen2", len(tok), hidden=48)
    with pytest.raises(ValueError, match="llm_hidden_size=32 but the LLM's hidden size is 48"):
        attach_bridge(llm, make_bridge())
    model = attach_bridge(llm, make_bridge(llm_hidden=48))  # no tokenizer: a new last row
    assert model.audio_token_id == len(tok)
    ids = tok(["a dog barks"], return_tensors="pt")
    torch.testing.assert_close(model(**ids).logits[..., :-1], llm(**ids).logits[..., :-1])


def test_mlp_bridge_plugs_in_the_same_way(tiny_tokenizer_factory):
    from hacd_graph.bridge import BridgeConfig, MLPBridge

    tok = tiny_tokenizer_factory()
    llm = make_llm("llama", len(tok))
    bridge = MLPBridge(BridgeConfig(audio_dim=12, concept_dim=CONCEPT_DIM, llm_hidden_size=32,
                                    num_queries=4, num_heads=1, hidden_size=16,
                                    bridge_type="mlp"))
    head = GraphConceptHead(ConceptHeadConfig(32, CONCEPT_DIM))
    model = attach_bridge(llm, bridge, tokenizer=tok, concept_head=head, summary="last_token")
    batch = AudioPromptProcessor.from_model(tok, model)(PROMPTS, TARGETS)
    audio, concepts, probs = make_audio(2)
    out = model(**batch, audio_features=audio, concept_embeddings=concepts,
                concept_probs=probs)
    out.loss.backward()
    assert bridge.input_projection.weight.grad.abs().sum() > 0
    assert out.concept_logits.shape == (2, 9)


def test_summary_positions():
    ids = torch.tensor([[5, 9, 9, 3, 0], [0, 5, 9, 9, 3]])
    mask = torch.tensor([[1, 1, 1, 1, 0], [0, 1, 1, 1, 1]])
    assert summary_positions(ids, mask, 9, "last_audio").tolist() == [2, 3]
    assert summary_positions(ids, mask, 9, "last_token").tolist() == [3, 4]
    with pytest.raises(ValueError, match="summary mode"):
        summary_positions(ids, mask, 9, "first")


@pytest.mark.parametrize("family", ["llama", "gpt2"])
def test_save_and_load_with_lora_adapter(tmp_path, family, tiny_tokenizer_factory):
    tok = tiny_tokenizer_factory()
    model = _model(family, tok, concept_head=True)
    model.llm = apply_lora(model.llm, LoraSettings(r=4, alpha=8, dropout=0.0))
    trainable = {n for n, p in model.llm.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    with torch.no_grad():  # make the adapter non-trivial
        for n, p in model.llm.named_parameters():
            if "lora_B" in n:
                p.normal_()
    model.save_pretrained(tmp_path / "m", tokenizer=tok)
    assert (tmp_path / "m" / "adapter" / "adapter_config.json").is_file()
    assert not (tmp_path / "m" / "llm").exists()
    base = make_llm(family, len(tiny_tokenizer_factory()), bos=tok.bos_token_id,
                    eos=tok.eos_token_id, pad=tok.pad_token_id)
    loaded = AudioCausalLM.from_pretrained(tmp_path / "m", base, tokenizer=tiny_tokenizer_factory())
    batch = AudioPromptProcessor.from_model(tok, model)(PROMPTS, TARGETS)
    audio, concepts, probs = make_audio(2)
    model.eval()
    loaded.eval()
    with torch.no_grad():
        a = model(**batch, audio_features=audio, concept_embeddings=concepts,
                  concept_probs=probs)
        b = loaded(**batch, audio_features=audio, concept_embeddings=concepts,
                   concept_probs=probs)
    assert torch.equal(a.logits, b.logits) and torch.equal(a.concept_logits, b.concept_logits)
    other_tok = tiny_tokenizer_factory()
    other_tok.add_tokens(["<x>"], special_tokens=True)  # the placeholder would get another id
    with pytest.raises(ValueError, match="audio_token_id=.* was asked for"):
        AudioCausalLM.from_pretrained(tmp_path / "m", base, tokenizer=other_tok)
    prompt = AudioPromptProcessor.from_model(tok, model)(PROMPTS[:1], padding_side="left")
    kwargs = dict(audio_features=audio[:1], concept_embeddings=concepts,
                  concept_probs=probs[:1], max_new_tokens=3, do_sample=False,
                  pad_token_id=tok.pad_token_id, eos_token_id=None)
    assert torch.equal(model.generate(**prompt, **kwargs), loaded.generate(**prompt, **kwargs))


def test_save_and_load_full_llm(tmp_path, tiny_tokenizer_factory):
    tok = tiny_tokenizer_factory()
    model = _model("mistral", tok)
    model.llm = apply_lora(model.llm, LoraSettings(enabled=False))
    assert all(p.requires_grad for p in model.llm.parameters())
    model.save_pretrained(tmp_path / "m", tokenizer=tok)
    loaded = AudioCausalLM.from_pretrained(tmp_path / "m")
    assert loaded.audio_token_id == model.audio_token_id and loaded.concept_head is None
    batch = AudioPromptProcessor.from_model(tok, model)(PROMPTS, TARGETS)
    audio, concepts, probs = make_audio(2)
    with torch.no_grad():
        a = model(**batch, audio_features=audio, concept_embeddings=concepts,
                  concept_probs=probs).logits
        b = loaded.eval()(**batch, audio_features=audio, concept_embeddings=concepts,
                          concept_probs=probs).logits
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    with pytest.raises(ValueError, match="save_llm='adapter'"):
        model.save_pretrained(tmp_path / "x", save_llm="adapter")


def test_full_save_of_a_lora_model_leaves_the_live_model_training(tmp_path,
                                                                    tiny_tokenizer_factory):
    """save_llm="full" mid-run used to merge_and_unload() the live model, ending LoRA."""
    tok = tiny_tokenizer_factory()
    model = _model("llama", tok)
    model.llm = apply_lora(model.llm, LoraSettings(r=4, alpha=8, dropout=0.0))
    with torch.no_grad():  # a non-trivial adapter, so merging changes the weights
        for n, p in model.llm.named_parameters():
            if "lora_B" in n:
                p.normal_()
    lora_before = {n: p.detach().clone() for n, p in model.llm.named_parameters()}
    batch = AudioPromptProcessor.from_model(tok, model)(PROMPTS, TARGETS)
    audio, concepts, probs = make_audio(2)
    inputs = dict(**batch, audio_features=audio, concept_embeddings=concepts,
                  concept_probs=probs)
    model.eval()
    with torch.no_grad():
        before = model(**inputs).logits

    model.save_pretrained(tmp_path / "m", save_llm="full", tokenizer=tok)

    from peft import PeftModel

    assert isinstance(model.llm, PeftModel)
    trainable = {n for n, p in model.llm.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    after_params = dict(model.llm.named_parameters())
    assert set(after_params) == set(lora_before)
    for n, p in after_params.items():
        assert torch.equal(p, lora_before[n]), n
    with torch.no_grad():
        torch.testing.assert_close(model(**inputs).logits, before, rtol=0, atol=0)
    # the saved full LLM is the merged one: same outputs without peft
    loaded = AudioCausalLM.from_pretrained(tmp_path / "m").eval()
    assert not isinstance(loaded.llm, PeftModel)
    with torch.no_grad():
        torch.testing.assert_close(loaded(**inputs).logits, before, rtol=1e-4, atol=1e-4)
    # and training goes on: the LoRA parameters still get gradients
    model.train()
    model(**inputs).loss.backward()
    assert all(p.grad is not None for n, p in model.llm.named_parameters() if "lora_" in n)


def test_bfloat16_llm_with_float32_bridge(tiny_tokenizer_factory):
    tok = tiny_tokenizer_factory()
    llm = make_llm("qwen2", len(tok)).to(torch.bfloat16)
    model = attach_bridge(llm, make_bridge(), tokenizer=tok)
    batch = AudioPromptProcessor.from_model(tok, model)(PROMPTS, TARGETS)
    audio, concepts, probs = make_audio(2)
    out = model(**batch, audio_features=audio, concept_embeddings=concepts,
                concept_probs=probs)
    assert out.logits.dtype == torch.bfloat16 and torch.isfinite(out.loss)
    out.loss.backward()
    assert model.bridge.output_projection.weight.grad.dtype == torch.float32
    assert model.bridge.output_projection.weight.grad.abs().sum() > 0


def test_match_text_norm_gives_soft_tokens_the_text_embeddings_norm(tiny_tokenizer_factory):
    tok = tiny_tokenizer_factory()
    model = _model("llama", tok)
    batch = AudioPromptProcessor.from_model(tok, model)(PROMPTS, TARGETS)
    audio, concepts, probs = make_audio(2)
    ids = batch["input_ids"]
    plain, _ = model.embed(ids, audio, concepts, probs)
    model.bridge.config.match_text_norm = True
    scaled, _ = model.embed(ids, audio, concepts, probs)
    is_audio = ids == model.audio_token_id
    text = model.llm.get_input_embeddings()(ids)[~is_audio]
    norms = scaled[is_audio].norm(dim=-1)
    torch.testing.assert_close(norms, torch.full_like(norms, float(text.norm(dim=-1).mean())))
    torch.testing.assert_close(scaled[~is_audio], plain[~is_audio])  # text untouched
    cos = torch.nn.functional.cosine_similarity(scaled[is_audio], plain[is_audio], dim=-1)
    torch.testing.assert_close(cos, torch.ones_like(cos))  # direction kept
    model.train()
    model(**batch, audio_features=audio, concept_embeddings=concepts,
          concept_probs=probs).loss.backward()
    assert model.bridge.output_projection.weight.grad.abs().sum() > 0
