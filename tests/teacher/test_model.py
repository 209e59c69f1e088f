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
    """What reaches the backbone: masked bands in training mode, the features untouched in
    eval mode or with SpecAugment off (robustness off, so nothing else varies them)."""
    feats = torch.randn(2, 51, 16)
    seen = []

    def backbone_input(model):
        seen.clear()
        model(features=feats)
        return seen[0]

    def build(specaugment):
        model = TeacherModel(tiny_ach, _teacher(robustness={"enabled": False},
                                                specaugment=specaugment), TINY_GNN)
        model.backbone.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
        return model

    model = build(True).train()
    torch.manual_seed(0)
    masked = backbone_input(model) != feats
    assert masked.any(), "training mode with SpecAugment left the features untouched"
    for i in range(2):  # whole time steps and whole bands, as SpecAugment masks
        rows, cols = masked[i].all(dim=1), masked[i].all(dim=0)
        assert torch.equal(masked[i], rows[:, None] | cols[None, :])
    assert torch.equal(backbone_input(model.eval()), feats)
    assert torch.equal(backbone_input(build(False).train()), feats)


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


def _chirp(seconds: float, sr: int = 16000) -> torch.Tensor:
    t = torch.arange(int(seconds * sr)) / sr
    return 0.3 * torch.sin(2 * torch.pi * (300 + 900 * t) * t) * torch.hann_window(t.numel())


def test_padding_does_not_move_the_prediction(tiny_ach):
    """The same sound zero-padded to 1-10 s gives the same top concepts and (silence-masked
    pooling) the same embedding; without the mask the embedding drifts with the length."""
    sound = torch.nn.functional.pad(_chirp(0.6), (4000, 2400))  # 1 s: silence both sides

    def run(mask: bool) -> list:
        torch.manual_seed(0)
        cnn = {"channels": [4, 8], "embed_dim": 12, "mask_silence": mask}
        model = TeacherModel(tiny_ach, _teacher(cnn=cnn), TINY_GNN).eval()
        with torch.no_grad():
            return [model(waveform=torch.nn.functional.pad(
                sound, (0, int(s * 16000) - sound.numel()))[None]) for s in (1, 2, 4, 10)]

    outs = run(True)
    ref = outs[0]
    for o in outs[1:]:
        assert o.logits[0].topk(5).indices.tolist() == ref.logits[0].topk(5).indices.tolist()
        assert o.probs[0].topk(5).indices.tolist() == ref.probs[0].topk(5).indices.tolist()
        torch.testing.assert_close(o.embedding, ref.embedding, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(o.probs, ref.probs, atol=1e-5, rtol=1e-4)
    unmasked = run(False)
    drift = (unmasked[-1].embedding - unmasked[0].embedding).abs().max()
    assert drift > 1e-3  # what the mask removes


def test_robust_variation_only_in_training(tiny_ach):
    model = TeacherModel(tiny_ach, _teacher(), TINY_GNN)
    feats = torch.randn(3, 51, 16)
    model.train()
    torch.manual_seed(0)
    lengths = {model(features=feats).frames.shape[1] for _ in range(6)}
    assert len(lengths) > 1  # the canvas length is drawn per batch
    model.eval()
    torch.testing.assert_close(model(features=feats).logits, model(features=feats).logits)
    off = TeacherModel(tiny_ach, _teacher(robustness={"enabled": False}, specaugment=False),
                       TINY_GNN).train()
    assert off(features=feats).frames.shape[1] == 13


def test_ast_reads_ast_fbank_and_pads_like_the_extractor(tiny_ach):
    cfg = _teacher(backbone="ast", frontend={"n_mels": 32, "hop_length": 160},
                   ast={"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
                        "intermediate_size": 32, "max_length": 64})
    model = TeacherModel(tiny_ach, cfg, TINY_GNN).eval()
    from hacd_graph.data.features import FbankConfig
    from hacd_graph.teacher.frontend import ASTFbank

    assert isinstance(model.frontend, ASTFbank) and isinstance(cfg.logmel, FbankConfig)
    fb = cfg.logmel
    assert abs(model.backbone.pad_value - (-fb.norm_mean / (2 * fb.norm_std))) < 1e-6
    out = model(waveform=torch.randn(2, 4000) * 0.1)
    assert out.probs.shape == (2, len(tiny_ach))
    with pytest.raises(ValueError, match="ast_input"):
        _teacher(ast_input="mfcc")
