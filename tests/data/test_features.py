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


@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("samples", [1, 100, 256, 257, 399])
def test_clips_shorter_than_the_window_are_padded(samples, center):
    cfg = LogMelConfig(center=center)
    out = LogMel(cfg)(torch.randn(samples) * 0.1)
    assert out.shape == (cfg.num_frames(samples), cfg.n_mels) and out.shape[0] >= 1
    assert torch.isfinite(out).all()
    # the padding is silence: the first frame is the one of the clip padded much further
    tone = torch.ones(samples) * 0.1
    padded = torch.nn.functional.pad(tone, (0, 1024 - samples))
    assert torch.allclose(LogMel(cfg)(tone)[0], LogMel(cfg)(padded)[0], atol=1e-4)
    fb = kaldi_fbank(torch.randn(samples) * 0.1)
    assert fb.shape == (1, 128) and torch.isfinite(fb).all()


def test_empty_clips_are_refused():
    with pytest.raises(ValueError, match="LogMel: the waveform is empty"):
        LogMel()(torch.zeros(0))
    with pytest.raises(ValueError, match="kaldi_fbank: the waveform is empty"):
        kaldi_fbank(torch.zeros(0))


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


def test_spec_augment_masks_whole_bands_with_torchaudio():
    x = torch.randn(3, 80, 40)
    cfg = SpecAugmentConfig(freq_masks=1, freq_width=12, time_masks=1, time_width=30)
    a = spec_augment(x, cfg, torch.Generator().manual_seed(3))
    masked = a != x
    fill = x.mean(dim=(1, 2))
    for i in range(3):  # every masked cell lies in a fully masked row or column
        rows, cols = masked[i].all(dim=1), masked[i].all(dim=0)
        assert torch.equal(masked[i], rows[:, None] | cols[None, :])
        assert torch.allclose(a[i][masked[i]], fill[i].expand(int(masked[i].sum())))
    state = torch.get_rng_state()
    spec_augment(x, cfg, torch.Generator().manual_seed(3))
    assert torch.equal(state, torch.get_rng_state())  # the global generator is untouched
