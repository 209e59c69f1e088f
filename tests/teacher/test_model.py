"""The teacher model: waveform and feature paths agree, backbones' shapes, config checks."""

from __future__ import annotations

import pytest
import torch

from hacd_graph.gnn import GNNConfig
from hacd_graph.teacher import TeacherConfig, TeacherModel
from hacd_graph.teacher.backbones import ASTBackbone, ASTBackboneConfig, CNNBackbone, CNNConfig

TINY_GNN = GNNConfig(encoder="gcn", hidden_dim=8, out_dim=8, num_layers=1,
                     features={"text": False})


def _teacher(**kw):
    base = dict(frontend={"n_mels": 16}, cnn={"channels": [4, 8], "embed_dim": 12})
    base.update(kw)
    return TeacherConfig(**base)


def test_waveform_and_features_paths_agree(tiny_ach):
    model = TeacherModel(tiny_ach, _teacher(), TINY_GNN).eval()
    wav = torch.randn(2, 8000)
    a = model(waveform=wav)
    b = model(features=model.frontend(wav))
    torch.testing.assert_close(a.logits, b.logits)
    assert a.frames.shape == (2, 13, 12)  # 51 frames / 2 / 2, rounded up
    assert a.concept_embeddings.shape == (7, 8)
    with pytest.raises(ValueError, match="exactly one"):
        model()


def test_specaugment_only_in_training(tiny_ach):
    model = TeacherModel(tiny_ach, _teacher(), TINY_GNN)
    feats = torch.randn(2, 51, 16)
    model.eval()
    torch.testing.assert_close(model(features=feats).logits, model(features=feats).logits)


def test_cnn_backbone_shapes():
    emb, frames = CNNBackbone(32, CNNConfig(channels=(4, 8, 8), embed_dim=20))(
        torch.randn(3, 50, 32))
    assert emb.shape == (3, 20) and frames.shape == (3, 7, 20)


def test_ast_backbone_shapes_and_local_weights(tmp_path):
    cfg = ASTBackboneConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                            intermediate_size=32, max_length=40)
    ast = ASTBackbone(32, cfg)
    emb, frames = ast(torch.randn(2, 30, 32))  # padded to 40 frames
    assert emb.shape == (2, 16) and frames.shape[0] == 2 and frames.shape[2] == 16
    ast.model.save_pretrained(tmp_path / "ast")
    loaded = ASTBackbone(32, ASTBackboneConfig(pretrained=str(tmp_path / "ast"))).eval()
    ast.eval()
    x = torch.randn(1, 40, 32)
    torch.testing.assert_close(loaded(x)[0], ast(x)[0])
    with pytest.raises(ValueError, match="mel bins"):
        ASTBackbone(64, ASTBackboneConfig(pretrained=str(tmp_path / "ast")))


def test_config_errors():
    with pytest.raises(ValueError, match="marginal_bce"):
        TeacherConfig(head="flat", loss="marginal_bce")
    with pytest.raises(ValueError, match="teacher.backbone"):
        TeacherConfig(backbone="resnet")
