import torch

from hacd_graph.bridge.attention import BridgeAttention


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(3, 5, 8, generator=g), torch.randn(7, 8, generator=g)


def test_fused_and_plain_paths_agree_with_bias_and_mask():
    torch.manual_seed(0)
    attn = BridgeAttention(8, 2).eval()
    x, memory = _inputs()
    bias = torch.randn(3, 7).clamp(max=0)
    bias[1, 4:] = float("-inf")
    fused, none = attn(x, memory, bias)
    plain, weights = attn(x, memory, bias, need_weights=True)
    assert none is None
    torch.testing.assert_close(fused, plain, rtol=1e-5, atol=1e-5)
    assert weights.shape == (3, 2, 5, 7)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 2, 5))
    assert weights[1, :, :, 4:].abs().max() == 0


def test_shared_memory_equals_expanded_memory():
    torch.manual_seed(0)
    attn = BridgeAttention(8, 4).eval()
    x, memory = _inputs(1)
    shared = attn(x, memory)[0]
    expanded = attn(x, memory.expand(3, -1, -1))[0]
    torch.testing.assert_close(shared, expanded)


def test_log_prior_bias_multiplies_attention():
    # softmax(s + log p) = p * exp(s) / sum: with equal scores the weights are p normalised
    attn = BridgeAttention(4, 1).eval()
    with torch.no_grad():
        attn.k_proj.weight.zero_()
        attn.k_proj.bias.zero_()
    p = torch.tensor([[0.1, 0.3, 0.6]])
    _, w = attn(torch.randn(1, 2, 4), torch.randn(3, 4), p.log(), need_weights=True)
    torch.testing.assert_close(w[0, 0], p.expand(2, 3))
