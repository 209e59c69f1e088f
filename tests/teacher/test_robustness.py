"""Training-time variation of features and windowed inference of long files."""

from __future__ import annotations

import math

import torch

from hacd_graph.teacher.robustness import (
    RobustnessConfig,
    mel_centres_hz,
    vary_features,
    windowed_probs,
)

FLOOR = math.log(1e-6)


def test_vary_features_lengths_gain_silence_bandwidth():
    x = torch.randn(4, 50, 16)  # 1 s at 50 frames/s
    centres = mel_centres_hz(16, 50.0, 8000.0)
    g = torch.Generator().manual_seed(0)
    cfg = RobustnessConfig(length_prob=1.0, silence_prob=0.0, bandlimit_prob=0.0,
                           gain_db=(0.0, 0.0), min_seconds=0.5, max_seconds=4.0)
    seen = set()
    for _ in range(8):
        y = vary_features(x, FLOOR, 50.0, centres, cfg, g)
        seen.add(y.shape[1])
        assert 25 <= y.shape[1] <= 200
        for i in range(4):  # each item: a contiguous span of its own frames, floor elsewhere
            live = (y[i] > FLOOR + 1e-4).any(dim=1).nonzero().flatten()
            assert live.numel() >= min(25, y.shape[1]) or live.numel() == y.shape[1]
    assert len(seen) > 3
    gain = RobustnessConfig(length_prob=0.0, silence_prob=0.0, bandlimit_prob=0.0,
                            gain_db=(10.0, 10.0))
    y = vary_features(x.abs(), FLOOR, 50.0, centres, gain, g)
    torch.testing.assert_close(y, x.abs() + math.log(10.0))  # +10 dB power = +ln 10
    band = RobustnessConfig(length_prob=0.0, silence_prob=0.0, bandlimit_prob=1.0,
                            bandlimit_rates=(8000,), gain_db=(0.0, 0.0))
    y = vary_features(x, FLOOR, 50.0, centres, band, g)
    assert (y[:, :, centres > 4000] == FLOOR).all()
    assert torch.equal(y[:, :, centres <= 4000], x[:, :, centres <= 4000])


class _Peak(torch.nn.Module):
    """A stand-in teacher: concept 0 = the window's peak, concept 1 = its mean level."""

    def forward(self, waveform):
        class Out:
            pass

        o = Out()
        o.probs = torch.stack([waveform.abs().amax(1), waveform.abs().mean(1)], dim=1)
        return o


def test_windowed_probs_takes_the_max_over_windows():
    wav = torch.zeros(10000)
    wav[9500] = 0.9  # only in the last window
    p = windowed_probs(_Peak(), wav, window=4000, hop=3000)
    assert abs(float(p[0]) - 0.9) < 1e-6
    short = windowed_probs(_Peak(), wav[:3000], window=4000)
    assert float(short[0]) == 0.0 and short.shape == (2,)
