"""Audio features: log-mel spectrograms, Kaldi-compatible fbank (for AST) and SpecAugment.

Dimension letters (DESIGN.md): B batch, S samples, T frames, M mel bins.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class LogMelConfig:
    """Settings of the log-mel front end (hashable; the feature cache is keyed by them).

    Args:
        sample_rate: rate of the input waveform in Hz (default 16000).
        n_fft: FFT size in samples (default 512).
        win_length: analysis window in samples (default 400 = 25 ms at 16 kHz).
        hop_length: frame shift in samples (default 160 = 10 ms at 16 kHz).
        n_mels: number of mel bins M (default 64).
        f_min: lowest mel filter edge in Hz (default 50).
        f_max: highest mel filter edge in Hz; ``None`` = Nyquist (default ``None``).
        log_offset: added before the log, so silence maps to ``log(log_offset)``
            (default 1e-6).
        center: pad the waveform so frame t is centred on sample ``t * hop_length``
            (default ``True``).
    """

    sample_rate: int = 16000
    n_fft: int = 512
    win_length: int = 400
    hop_length: int = 160
    n_mels: int = 64
    f_min: float = 50.0
    f_max: float | None = None
    log_offset: float = 1e-6
    center: bool = True

    @property
    def min_samples(self) -> int:
        """The shortest input the transform takes; shorter clips are zero-padded to it
        (``n_fft // 2 + 1`` when centred, for the reflection padding; else ``n_fft``)."""
        return self.n_fft // 2 + 1 if self.center else self.n_fft

    def num_frames(self, num_samples: int) -> int:
        """Number of frames T the front end makes from ``num_samples`` samples (>= 1)."""
        num_samples = max(num_samples, self.min_samples)
        if self.center:
            return num_samples // self.hop_length + 1
        return (num_samples - self.n_fft) // self.hop_length + 1

    def key(self) -> str:
        """A stable string naming these settings (used to key on-disk caches)."""
        return ",".join(f"{k}={v}" for k, v in sorted(asdict(self).items()))


class LogMel(nn.Module):
    """Log-mel spectrogram front end (torchaudio ``MelSpectrogram`` + natural log).

    Args:
        config: the settings (default ``LogMelConfig()``).

    Shapes:
        input: waveform ``[B, S]`` or ``[S]`` (float, mono, at ``config.sample_rate``).
        output: ``[B, T, M]`` (or ``[T, M]`` for an unbatched input), with
        ``T = config.num_frames(S)`` and ``M = config.n_mels``.

    A clip shorter than ``config.min_samples`` (the analysis window) is zero-padded at the
    end to that length; an empty one (``S = 0``) is refused with a ``ValueError``.
    """

    def __init__(self, config: LogMelConfig | None = None) -> None:
        super().__init__()
        import torchaudio

        self.config = config or LogMelConfig()
        c = self.config
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=c.sample_rate,
            n_fft=c.n_fft,
            win_length=c.win_length,
            hop_length=c.hop_length,
            f_min=c.f_min,
            f_max=c.f_max,
            n_mels=c.n_mels,
            center=c.center,
            power=2.0,
        )

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        unbatched = waveform.dim() == 1
        if unbatched:
            waveform = waveform.unsqueeze(0)
        if waveform.dim() != 2:
            raise ValueError(f"LogMel expects [B, S] or [S], got shape {tuple(waveform.shape)}")
        short = self.config.min_samples - waveform.shape[-1]
        if waveform.shape[-1] == 0:
            raise ValueError("LogMel: the waveform is empty (0 samples); no frame to compute")
        if short > 0:  # shorter than one analysis window: pad with silence
            waveform = torch.nn.functional.pad(waveform, (0, short))
        spec = self.mel(waveform.float())  # [B, M, T]
        out = torch.log(spec + self.config.log_offset).transpose(1, 2).contiguous()
        return out[0] if unbatched else out


@dataclass(frozen=True)
class FbankConfig:
    """Kaldi-compatible fbank settings as the Audio Spectrogram Transformer (AST) uses them.

    Args:
        sample_rate: input rate in Hz (default 16000).
        num_mel_bins: M (default 128, AST's value).
        frame_shift_ms: frame shift (default 10).
        frame_length_ms: window length (default 25).
        target_length: frames after pad/crop; ``None`` keeps the natural length
            (AST uses 1024 for 10 s clips; default ``None``).
        norm_mean: AST's dataset mean subtracted from the fbank (default -4.2677393).
        norm_std: AST's dataset std; features are ``(x - mean) / (2 * std)`` (default 4.5689974).
    """

    sample_rate: int = 16000
    num_mel_bins: int = 128
    frame_shift_ms: float = 10.0
    frame_length_ms: float = 25.0
    target_length: int | None = None
    norm_mean: float = -4.2677393
    norm_std: float = 4.5689974

    def key(self) -> str:
        """A stable string naming these settings (used to key on-disk caches)."""
        return ",".join(f"{k}={v}" for k, v in sorted(asdict(self).items()))


def kaldi_fbank(waveform: torch.Tensor, config: FbankConfig | None = None) -> torch.Tensor:
    """AST-style Kaldi fbank of one mono waveform, normalised as AST normalises it.

    Args:
        waveform: ``[S]`` mono samples in [-1, 1] at ``config.sample_rate``.
        config: settings (default ``FbankConfig()``).

    Returns:
        ``[T, M]`` normalised log-mel filterbank energies (``T = target_length`` if set).
        A clip shorter than one window (``frame_length_ms``) is zero-padded to one window
        after its mean is removed, giving ``T = 1``; an empty one raises ``ValueError``.
    """
    from torchaudio.compliance import kaldi

    c = config or FbankConfig()
    if waveform.dim() != 1:
        raise ValueError(f"kaldi_fbank expects a mono [S] waveform, got {tuple(waveform.shape)}")
    if waveform.numel() == 0:
        raise ValueError("kaldi_fbank: the waveform is empty (0 samples); no frame to compute")
    wav = waveform.float().unsqueeze(0)
    wav = wav - wav.mean()
    window = int(c.sample_rate * c.frame_length_ms / 1000)  # kaldi's window in samples
    if wav.shape[1] < window:  # shorter than one window: pad with silence
        wav = torch.nn.functional.pad(wav, (0, window - wav.shape[1]))
    fb = kaldi.fbank(
        wav,
        htk_compat=True,
        sample_frequency=c.sample_rate,
        use_energy=False,
        window_type="hanning",
        num_mel_bins=c.num_mel_bins,
        dither=0.0,
        frame_shift=c.frame_shift_ms,
        frame_length=c.frame_length_ms,
    )
    if c.target_length is not None:
        t = fb.shape[0]
        if t < c.target_length:
            fb = torch.nn.functional.pad(fb, (0, 0, 0, c.target_length - t))
        else:
            fb = fb[: c.target_length]
    return (fb - c.norm_mean) / (2.0 * c.norm_std)


@dataclass(frozen=True)
class SpecAugmentConfig:
    """SpecAugment masking (Park et al. 2019, https://arxiv.org/abs/1904.08779).

    Args:
        freq_masks: number of frequency masks (default 2).
        freq_width: largest frequency-mask width in bins (default 8).
        time_masks: number of time masks (default 2).
        time_width: largest time-mask width in frames (default 40).
        mask_value: value written into masked cells; ``None`` = the item's mean (default).
    """

    freq_masks: int = 2
    freq_width: int = 8
    time_masks: int = 2
    time_width: int = 40
    mask_value: float | None = None


def spec_augment(
    features: torch.Tensor,
    config: SpecAugmentConfig | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Return a copy of ``features`` with random time and frequency bands masked, by
    torchaudio's ``FrequencyMasking`` and ``TimeMasking`` (``iid_masks``: each item its own
    masks; each of the ``freq_masks`` / ``time_masks`` bands has a width drawn uniformly
    from ``[0, width)``).

    torchaudio draws from torch's global generator; with ``generator`` given, a seed is
    drawn from it and the masks are drawn under ``torch.random.fork_rng``, so a seeded
    generator gives reproducible masks and the global state is left as it was.

    Args:
        features: ``[B, T, M]`` or ``[T, M]`` features.
        config: masking settings (default ``SpecAugmentConfig()``).
        generator: random source (default: torch's global generator).

    Returns:
        Tensor of the same shape and dtype.
    """
    import torchaudio

    c = config or SpecAugmentConfig()
    unbatched = features.dim() == 2
    x = features.unsqueeze(0) if unbatched else features
    if x.dim() != 3:
        raise ValueError(f"spec_augment expects [B, T, M] or [T, M], got {tuple(features.shape)}")
    # the masks are drawn on ones ([B, 1, M, T], as torchaudio lays spectrograms out) and
    # applied with torch.where, so unmasked cells stay bit-exact
    ones = torch.ones(x.shape[0], 1, x.shape[2], x.shape[1], device=x.device)
    steps = [torchaudio.transforms.FrequencyMasking(c.freq_width, iid_masks=True)] * (
        c.freq_masks if c.freq_width > 0 else 0)
    steps += [torchaudio.transforms.TimeMasking(c.time_width, iid_masks=True)] * (
        c.time_masks if c.time_width > 0 else 0)

    def mask(s: torch.Tensor) -> torch.Tensor:
        for step in steps:
            s = step(s, 0.0)
        return s

    if generator is None:
        keep = mask(ones)
    else:
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        devices = [x.device] if x.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            keep = mask(ones)
    masked = keep.squeeze(1).transpose(1, 2) == 0  # [B, T, M]
    fill = x.mean(dim=(1, 2), keepdim=True) if c.mask_value is None else c.mask_value
    x = torch.where(masked, torch.as_tensor(fill, dtype=x.dtype, device=x.device), x)
    return x[0] if unbatched else x
