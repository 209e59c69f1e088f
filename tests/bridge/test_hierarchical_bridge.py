import pytest
import torch

from hacd_graph.bridge import BridgeOutput, HierarchicalBridge

from .conftest import AUDIO_DIM, CONCEPT_DIM, make_audio, make_bridge


def test_shapes_and_attention_weights():
    bridge = make_bridge(llm_hidden=20)
    audio, concepts, probs = make_audio(3, frames=7, concepts=11)
    mask = torch.ones(3, 7, dtype=torch.bool)
    mask[2, 5:] = False
    out = bridge(audio, concepts, probs, audio_mask=mask, output_attentions=True)
    assert isinstance(out, BridgeOutput)
    assert out.embeddings.shape == (3, 4, 20)
    assert len(out.audio_attentions) == len(out.concept_attentions) == 2
    for a, c in zip(out.audio_attentions, out.concept_attentions, strict=True):
        assert a.shape == (3, 2, 4, 7) and c.shape == (3, 2, 4, 11)
        torch.testing.assert_close(a.sum(-1), torch.ones(3, 2, 4))
        assert a[2, ..., 5:].abs().max() == 0
        # the rest of each row went to the null concept
        assert (c.sum(-1) <= 1 + 1e-6).all() and (c.sum(-1) > 0).all()
    plain = bridge(audio, concepts, probs, audio_mask=mask)
    torch.testing.assert_close(plain, out.embeddings, rtol=1e-5, atol=1e-5)


def test_padded_frames_do_not_matter():
    bridge = make_bridge()
    audio, concepts, probs = make_audio(2, frames=6)
    mask = torch.tensor([[1] * 6, [1] * 4 + [0] * 2], dtype=torch.bool)
    noisy = audio.clone()
    noisy[1, 4:] = 100.0
    torch.testing.assert_close(bridge(audio, concepts, probs, mask),
                               bridge(noisy, concepts, probs, mask))
    # and the clip alone, unpadded, gives the same soft tokens
    alone = bridge(audio[1:, :4], concepts, probs[1:])
    torch.testing.assert_close(bridge(audio, concepts, probs, mask)[1:], alone,
                               rtol=1e-5, atol=1e-5)


def test_improbable_concepts_are_not_read():
    bridge = make_bridge()
    audio, concepts, probs = make_audio(2, concepts=9)
    probs[:, 5:] = 0.0
    out = bridge(audio, concepts, probs, output_attentions=True)
    for weights in out.concept_attentions:
        assert weights[..., 5:].max() < 1e-4
    changed = concepts.clone()
    changed[5:] = torch.randn(4, CONCEPT_DIM) * 10
    torch.testing.assert_close(bridge(audio, changed, probs), out.embeddings,
                               rtol=1e-3, atol=1e-4)


def test_concept_order_does_not_matter():
    bridge = make_bridge()
    audio, concepts, probs = make_audio(2, concepts=13)
    perm = torch.randperm(13, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(bridge(audio, concepts, probs),
                               bridge(audio, concepts[perm], probs[:, perm]),
                               rtol=1e-5, atol=1e-5)


def test_top_k_equals_full_when_k_covers_all_and_scales_to_thousands():
    full = make_bridge()
    top = make_bridge(concept_top_k=9)
    top.load_state_dict(full.state_dict())
    audio, concepts, probs = make_audio(2, concepts=9)
    torch.testing.assert_close(top(audio, concepts, probs), full(audio, concepts, probs))

    big = make_bridge(concept_top_k=16)
    audio, concepts, probs = make_audio(3, concepts=4099)
    out = big(audio, concepts, probs, output_attentions=True)
    assert out.embeddings.shape == (3, 4, 32)
    weights = out.concept_attentions[0]
    assert weights.shape == (3, 2, 4, 4099)
    assert int((weights[0, 0, 0] > 0).sum()) == 16
    top16 = probs[0].topk(16).indices
    assert set(weights[0, 0, 0].nonzero().flatten().tolist()) == set(top16.tolist())


def test_gradients_reach_every_parameter_and_the_concept_embeddings():
    bridge = make_bridge().train()
    audio, concepts, probs = make_audio(2)
    concepts.requires_grad_(True)
    bridge(audio, concepts, probs).square().sum().backward()
    for name, p in bridge.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert concepts.grad.abs().sum() > 0


def test_without_null_concept_and_zero_layers():
    bridge = make_bridge(null_concept=False)
    audio, concepts, probs = make_audio(2)
    out = bridge(audio, concepts, probs, output_attentions=True)
    torch.testing.assert_close(out.concept_attentions[0].sum(-1), torch.ones(2, 2, 4))
    assert make_bridge(num_layers=0)(audio, concepts, probs).shape == (2, 4, 32)


@pytest.mark.parametrize("args, message", [
    (lambda a, c, p: (a[0], c, p), "audio_features must be"),
    (lambda a, c, p: (a[..., :3], c, p), f"audio_features must be \\[B, T, {AUDIO_DIM}\\]"),
    (lambda a, c, p: (a, c[:, :3], p), "concept_embeddings must be"),
    (lambda a, c, p: (a, c, p[:, :4]), "concept_probs must be"),
    (lambda a, c, p: (a, c, p[:1]), "concept_probs must be"),
])
def test_bad_shapes_are_named(args, message):
    bridge = make_bridge()
    with pytest.raises(ValueError, match=message):
        bridge(*args(*make_audio(2)))


def test_empty_audio_mask_is_an_error():
    bridge = make_bridge()
    audio, concepts, probs = make_audio(2)
    mask = torch.ones(2, 6, dtype=torch.bool)
    mask[1] = False
    with pytest.raises(ValueError, match=r"no valid frame for samples \[1\]"):
        bridge(audio, concepts, probs, mask)


def test_wrong_type_config_is_refused():
    config = make_bridge().config.replace(bridge_type="mlp")
    with pytest.raises(ValueError, match="bridge_type"):
        HierarchicalBridge(config)


def test_bfloat16_bridge_matches_float32():
    """The bfloat16 bridge computes what the float32 one does, to bfloat16 precision."""
    bridge = make_bridge().eval()
    audio, concepts, probs = make_audio(2)
    with torch.no_grad():
        expected = bridge(audio, concepts, probs)
        out = bridge.to(torch.bfloat16)(audio.bfloat16(), concepts.bfloat16(), probs.bfloat16())
    assert out.dtype == torch.bfloat16
    # a few bfloat16 roundings (2^-8 each) through two layers, relative to the output's scale
    scale = expected.abs().max().item()
    torch.testing.assert_close(out.float(), expected, rtol=0.02, atol=0.02 * scale)  # seen: 0.8 %
