import pytest
import torch

from hacd_graph.data.features import (
    FbankConfig,
    LogMel,
    LogMelConfig,
    SpecAugmentConfig,
    kaldi_fbank,
    spec_augment,
)


def test_log_mel_shapes_and_values():
    cfg = LogMelConfig()
    front = LogMel(cfg)
    wave = torch.randn(3, 16000) * 0.1
    out = front(wave)
    assert out.shape == (3, cfg.num_frames(16000), cfg.n_mels)
    assert torch.isfinite(out).all()
    assert front(wave[0]).shape == out.shape[1:]
    assert torch.allclose(front(wave[1]), out[1], atol=1e-4)
    silence = front(torch.zeros(16000))
    assert torch.allclose(
        silence, torch.full_like(silence, torch.log(torch.tensor(cfg.log_offset)))
    )
    with pytest.raises(ValueError, match="shape"):
        front(torch.zeros(1, 1, 10))


def test_log_mel_config_key_changes_with_settings():
    assert LogMelConfig().key() != LogMelConfig(n_mels=128).key()
    assert LogMelConfig().key() == LogMelConfig().key()


def test_kaldi_fbank_for_ast():
    fb = kaldi_fbank(torch.randn(16000) * 0.1, FbankConfig(target_length=128))
    assert fb.shape == (128, 128) and torch.isfinite(fb).all()
    assert kaldi_fbank(torch.randn(16000) * 0.1).shape == (98, 128)


def test_spec_augment_masks_and_is_reproducible():
    x = torch.randn(4, 100, 64)
    cfg = SpecAugmentConfig(
        freq_masks=1, freq_width=10, time_masks=1, time_width=20, mask_value=0.0
    )
    a = spec_augment(x, cfg, torch.Generator().manual_seed(0))
    b = spec_augment(x, cfg, torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and a.shape == x.shape
    masked = (a == 0).float().mean()
    assert 0 < masked < 0.5
    assert not torch.equal(a, x) and torch.equal(x, x.clone())  # input untouched
    assert spec_augment(x[0], cfg).shape == (100, 64)
