import torch

from hacd_graph.bridge import BridgeConfig, MLPBridge
from hacd_graph.bridge.mlp_bridge import segment_pooling_weights

from .conftest import AUDIO_DIM, make_audio


def _bridge(queries=4):
    torch.manual_seed(0)
    return MLPBridge(BridgeConfig(audio_dim=AUDIO_DIM, concept_dim=3, llm_hidden_size=20,
                                  num_queries=queries, hidden_size=16, num_heads=2,
                                  bridge_type="mlp"))


def test_pooling_weights_cover_valid_frames_once():
    mask = torch.tensor([[1] * 10, [1] * 3 + [0] * 7, [0, 1] * 5], dtype=torch.bool)
    w = segment_pooling_weights(4, 10, mask, 3, torch.device("cpu"))
    assert w.shape == (3, 4, 10)
    torch.testing.assert_close(w.sum(-1), torch.ones(3, 4))
    assert w[1, :, 3:].abs().max() == 0 and w[2, :, 0::2].abs().max() == 0
    # 10 frames into 4 segments: 2, 3, 2, 3 frames
    assert (w[0] > 0).sum(-1).tolist() == [2, 3, 2, 3]
    # fewer valid frames (3) than segments (4): every segment still reads a frame
    assert ((w[1] > 0).sum(-1) >= 1).all()


def test_mlp_bridge_matches_its_definition_and_ignores_concepts():
    bridge = _bridge()
    audio, concepts, probs = make_audio(2, frames=8)
    out = bridge(audio, concepts, probs, output_attentions=True)
    pooled = audio.view(2, 4, 2, AUDIO_DIM).mean(2)
    expected = bridge.output_projection(bridge.activation(bridge.input_projection(pooled)))
    torch.testing.assert_close(out.embeddings, expected)
    assert out.audio_attentions[0].shape == (2, 1, 4, 8) and out.concept_attentions is None
    torch.testing.assert_close(bridge(audio), out.embeddings)


def test_mlp_bridge_masks_and_backpropagates():
    bridge = _bridge(queries=3)
    audio = torch.randn(2, 6, AUDIO_DIM, requires_grad=True)
    mask = torch.tensor([[1] * 6, [1] * 3 + [0] * 3], dtype=torch.bool)
    out = bridge(audio, audio_mask=mask)
    torch.testing.assert_close(out[1:], bridge(audio[1:, :3].detach()))
    out.sum().backward()
    assert audio.grad[1, 3:].abs().max() == 0 and audio.grad[1, :3].abs().sum() > 0
