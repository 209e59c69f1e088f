import math

import pytest
import torch

from hacd_graph.bridge import ConceptHeadConfig, GraphConceptHead


def test_logits_follow_the_formula():
    torch.manual_seed(0)
    head = GraphConceptHead(ConceptHeadConfig(hidden_size=16, concept_dim=6))
    h, e = torch.randn(3, 16), torch.randn(7, 6)
    z = head(h, e)
    assert z.shape == (3, 7)
    normed = torch.nn.functional.layer_norm(h, (16,), head.norm.weight, head.norm.bias)
    expected = normed @ (e @ head.concept_projection.weight.T).T / math.sqrt(16)
    expected = expected + e @ head.concept_bias.weight[0] + head.concept_bias.bias
    torch.testing.assert_close(z, expected)
    # graph-conditioned: any number of concepts, and a concept's logit depends on its e_c only
    z2 = head(h, torch.cat([e, torch.randn(5, 6)]))
    torch.testing.assert_close(z2[:, :7], z)


def test_free_bias_gradients_and_errors(tmp_path):
    head = GraphConceptHead(ConceptHeadConfig(hidden_size=8, concept_dim=4, num_concepts=5))
    with torch.no_grad():
        head.free_bias.copy_(torch.arange(5.0))
    e = torch.randn(5, 4, requires_grad=True)
    z = head(torch.randn(2, 8), e)
    z.sum().backward()
    assert e.grad.abs().sum() > 0 and head.free_bias.grad.tolist() == [2.0] * 5
    with pytest.raises(ValueError, match="built for 5 concepts"):
        head(torch.randn(2, 8), torch.randn(4, 4))
    with pytest.raises(ValueError, match="hidden must be"):
        head(torch.randn(2, 9), e)
    with pytest.raises(ValueError, match="concept_embeddings must be"):
        head(torch.randn(2, 8), torch.randn(5, 3))
    head.save_pretrained(tmp_path / "h")
    loaded = GraphConceptHead.from_pretrained(tmp_path / "h")
    h = torch.randn(2, 8)
    assert loaded.config == head.config and torch.equal(loaded(h, e), head(h, e))
