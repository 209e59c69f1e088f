"""The teacher's front ends: the project's log-mel (CNN) or AST's Kaldi fbank (AST).

Pretrained AST checkpoints expect what ``transformers.ASTFeatureExtractor`` produces:
Kaldi-compatible fbank (25 ms Hann windows every 10 ms, 128 mel bins, natural log) with
AST's dataset normalisation ``(x - mean) / (2 * std)``. :class:`ASTFbank` computes exactly
that (``hacd_graph.data.features.kaldi_fbank``) for a batch; ``tests/teacher`` compares it
with the extractor on the same audio.
"""

from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import nn

from hacd_graph.data.features import FbankConfig, LogMel, LogMelConfig, kaldi_fbank

FrontendConfig = LogMelConfig | FbankConfig


class ASTFbank(nn.Module):
    """Batched AST input features.

    Args:
        config: fbank settings (``target_length`` is ignored: the backbone pads).

    Shapes:
        waveform ``[B, S]`` or ``[S]`` -> ``[B, T, M]`` (or ``[T, M]``), ``T = 1 + (S - W) //
        H`` for window W and hop H samples (a clip shorter than one window is zero-padded
        to it).
    """

    def __init__(self, config: FbankConfig | None = None) -> None:
        super().__init__()
        self.config = replace(config or FbankConfig(), target_length=None)
        self.window = int(round(self.config.frame_length_ms * self.config.sample_rate / 1000))

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        unbatched = waveform.dim() == 1
        wav = waveform[None] if unbatched else waveform
        if wav.shape[-1] < self.window:
            wav = F.pad(wav, (0, self.window - wav.shape[-1]))
        out = torch.stack([kaldi_fbank(w, self.config) for w in wav])
        return out[0] if unbatched else out


def fbank_from_logmel(c: LogMelConfig) -> FbankConfig:
    """AST fbank settings matching a log-mel config's rate, bins, window and hop."""
    return FbankConfig(sample_rate=c.sample_rate, num_mel_bins=c.n_mels,
                       frame_shift_ms=1000.0 * c.hop_length / c.sample_rate,
                       frame_length_ms=1000.0 * c.win_length / c.sample_rate)


def make_frontend(config: FrontendConfig) -> nn.Module:
    """The front-end module of ``config`` (``LogMel`` or ``ASTFbank``)."""
    return ASTFbank(config) if isinstance(config, FbankConfig) else LogMel(config)


def num_mels(config: FrontendConfig) -> int:
    """Bins M of the front end's output."""
    return config.num_mel_bins if isinstance(config, FbankConfig) else config.n_mels


def frames_per_second(config: FrontendConfig) -> float:
    """Frame rate of the front end's output."""
    if isinstance(config, FbankConfig):
        return 1000.0 / config.frame_shift_ms
    return config.sample_rate / config.hop_length


def num_frames(config: FrontendConfig, num_samples: int) -> int:
    """Frames T the front end makes from ``num_samples`` samples."""
    if isinstance(config, FbankConfig):
        window = int(round(config.frame_length_ms * config.sample_rate / 1000))
        hop = int(round(config.frame_shift_ms * config.sample_rate / 1000))
        return 1 + (max(num_samples, window) - window) // hop
    return config.num_frames(num_samples)


def bin_centres_hz(config: FrontendConfig) -> torch.Tensor:
    """Centre frequency ``[M]`` of each mel bin (HTK mel, as both front ends use)."""
    from hacd_graph.teacher.robustness import mel_centres_hz

    if isinstance(config, FbankConfig):  # Kaldi: 20 Hz to Nyquist
        return mel_centres_hz(config.num_mel_bins, 20.0, config.sample_rate / 2)
    return mel_centres_hz(config.n_mels, config.f_min, config.f_max or config.sample_rate / 2)


@torch.no_grad()
def silence_value(frontend: nn.Module, sample_rate: int) -> float:
    """The front end's output for digital silence (what zero padding turns into)."""
    return float(frontend(torch.zeros(1, sample_rate // 2)).max())
