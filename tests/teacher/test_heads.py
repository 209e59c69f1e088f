"""Graph-conditioned head: the logit formula, and a new concept needs no new weights."""

from __future__ import annotations

import torch

from hacd_graph.gnn import ConceptEncoder, GNNConfig
from hacd_graph.teacher.heads import FlatHead, GraphConditionedHead


def _cfg():
    return GNNConfig(encoder="sage", hidden_dim=8, out_dim=6, num_layers=1,
                     features={"text": False})


def test_logits_are_inner_products_plus_bias(tiny_ach):
    torch.manual_seed(0)
    head = GraphConditionedHead(10, ConceptEncoder(tiny_ach, _cfg()))
    a = torch.randn(3, 10)
    logits, nodes = head(a)
    ref = a @ head.proj(nodes).t() / 10**0.5 + head.bias(nodes).t()
    torch.testing.assert_close(logits, ref)
    assert logits.shape == (3, 7) and nodes.shape == (7, 6)


def test_new_concept_needs_no_new_head_weights(tiny_ach):
    from hacd_graph.ach import Concept, ConceptHierarchy

    bigger = ConceptHierarchy([*tiny_ach.concepts, Concept(
        "hacd:cat", "Cat", "a cat", facet="sound_source", parents=("hacd:animal",))])
    torch.manual_seed(0)
    small = GraphConditionedHead(10, ConceptEncoder(tiny_ach, _cfg()))
    large = GraphConditionedHead(10, ConceptEncoder(bigger, _cfg()))
    large.load_state_dict(small.state_dict())  # same weights fit both hierarchies
    assert large(torch.randn(2, 10))[0].shape == (2, 8)


def test_flat_head():
    logits, nodes = FlatHead(10, 7)(torch.randn(2, 10))
    assert logits.shape == (2, 7) and nodes is None


def test_residual_starts_at_zero_and_adds_a_free_classifier(tiny_ach):
    torch.manual_seed(0)
    plain = GraphConditionedHead(10, ConceptEncoder(tiny_ach, _cfg()))
    torch.manual_seed(0)
    residual = GraphConditionedHead(10, ConceptEncoder(tiny_ach, _cfg()), residual=True)
    a = torch.randn(3, 10)
    torch.testing.assert_close(residual(a)[0], plain(a)[0])  # zero at the start
    with torch.no_grad():
        residual.residual.weight.normal_()
        residual.residual.bias.fill_(0.5)
    expected = plain(a)[0] + a @ residual.residual.weight.t() + 0.5
    torch.testing.assert_close(residual(a)[0], expected)
    assert residual.residual.weight.shape == (7, 10)


def test_residual_needs_the_graph_head():
    import pytest

    from hacd_graph.teacher.model import TeacherConfig

    with pytest.raises(ValueError, match="head_residual=true needs teacher.head=graph"):
        TeacherConfig(head="flat", loss="bce", head_residual=True)
