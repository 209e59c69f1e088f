"""Making the teacher hold up on real files: training-time variation of length, offset,
silence, gain and bandwidth (in the feature domain, so it works with cached and
on-the-fly features alike), and windowed inference for long files.

Real recordings differ from the generator's clips in ways that have nothing to do with
their content: they are shorter or longer than the training length (and get padded with
digital silence or cropped), start at any offset, contain stretches of digital silence,
come at any level, and were often recorded at a lower sample rate (then resampled, with
nothing above the old Nyquist frequency). :func:`vary_features` draws all of these per
batch, on log-mel (or log-fbank) features, where they are cheap:

- length and offset: each item keeps a random span of its frames (at least
  ``min_seconds``) and is placed at a random offset in a canvas whose length is drawn
  per batch, log-uniformly in ``[min_seconds, max_seconds]``; the rest of the canvas is
  the front end's digital-silence value (what a zero-padded waveform gives);
- digital silence: with ``silence_prob``, a random stretch inside the item is silenced;
- gain: ``log(g^2 S + eps) ~ log S + 2 log g`` where ``S >> eps``, so a gain of ``g`` dB
  shifts the non-silent cells by ``g ln(10) / 10`` (clamped at the silence value);
- sample rate: with ``bandlimit_prob``, the mel bins above the Nyquist frequency of a rate
  drawn from ``bandlimit_rates`` are silenced (a recording made at that rate and resampled).

Paired with the backbone's silence-masked pooling (``CNNConfig.mask_silence``), padding
then no longer moves the prediction. :func:`windowed_probs` reads a long file in windows
of the training length and aggregates the windows' marginal probabilities by their maximum
(a concept is present in the file if it is present in any window).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class RobustnessConfig:
    """Settings of :func:`vary_features` (``teacher.robustness``).

    Args:
        enabled: apply in training mode (default ``True``).
        min_seconds: shortest content and canvas (default 0.5).
        max_seconds: longest canvas (default 10.0).
        length_prob: probability that a batch gets a new canvas length (default 0.8).
        silence_prob: probability of a silenced stretch per item (default 0.2).
        gain_db: range of the gain per item (default -24 to +12 dB).
        bandlimit_prob: probability of a lower original sample rate per item (default 0.2).
        bandlimit_rates: the rates drawn from (default 8000, 11025 Hz).
    """

    enabled: bool = True
    min_seconds: float = 0.5
    max_seconds: float = 10.0
    length_prob: float = 0.8
    silence_prob: float = 0.2
    gain_db: tuple[float, float] = (-24.0, 12.0)
    bandlimit_prob: float = 0.2
    bandlimit_rates: tuple[int, ...] = (8000, 11025)


def mel_centres_hz(n_mels: int, f_min: float, f_max: float) -> torch.Tensor:
    """Centre frequencies ``[M]`` of HTK-mel filters spaced evenly in mel."""
    def mel(f: float) -> float:
        return 2595.0 * math.log10(1.0 + f / 700.0)
    pts = torch.linspace(mel(f_min), mel(f_max), n_mels + 2)[1:-1]
    return 700.0 * (10 ** (pts / 2595.0) - 1.0)


def vary_features(features: torch.Tensor, floor: float, frames_per_second: float,
                  centres_hz: torch.Tensor, config: RobustnessConfig,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """A varied copy of ``features`` (see the module docstring).

    Args:
        features: ``[B, T, M]`` log-mel features.
        floor: the features' value for digital silence.
        frames_per_second: frame rate of the features.
        centres_hz: ``[M]`` centre frequency of each bin.
        config: what to vary.
        generator: random source (default torch's global one).

    Returns:
        ``[B, T', M]``: ``T'`` is the drawn canvas length (``T`` when it was not redrawn).
    """
    b, t, m = features.shape
    dev = features.device

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator).to(dev)

    x = features
    min_t = max(1, int(round(config.min_seconds * frames_per_second)))
    if float(rand(1)) < config.length_prob:
        lo, hi = math.log(min_t), math.log(max(min_t, config.max_seconds * frames_per_second))
        canvas_t = int(round(math.exp(lo + float(rand(1)) * (hi - lo))))
        out = torch.full((b, canvas_t, m), floor, dtype=x.dtype, device=dev)
        for i in range(b):
            keep = int(min_t + float(rand(1)) * (min(t, canvas_t) - min_t + 1))
            keep = max(1, min(keep, t, canvas_t))
            src = int(float(rand(1)) * (t - keep + 1))
            dst = int(float(rand(1)) * (canvas_t - keep + 1))
            out[i, dst : dst + keep] = x[i, src : src + keep]
        x = out
    else:
        x = x.clone()
    t = x.shape[1]
    silent = x <= floor + 1e-4
    gain = config.gain_db[0] + rand(b, 1, 1) * (config.gain_db[1] - config.gain_db[0])
    x = torch.where(silent, x, (x + gain * math.log(10.0) / 10.0).clamp_min(floor))
    for i in range(b):
        if float(rand(1)) < config.silence_prob and t > 2:
            width = 1 + int(float(rand(1)) * (t // 4))
            start = int(float(rand(1)) * (t - width + 1))
            x[i, start : start + width] = floor
        if config.bandlimit_rates and float(rand(1)) < config.bandlimit_prob:
            k = int(float(rand(1)) * len(config.bandlimit_rates))
            nyquist = config.bandlimit_rates[min(k, len(config.bandlimit_rates) - 1)] / 2
            x[i, :, centres_hz.to(dev) > nyquist] = floor
    return x


@torch.no_grad()
def windowed_probs(model: torch.nn.Module, waveform: torch.Tensor, window: int,
                   hop: int | None = None, batch_size: int = 16) -> torch.Tensor:
    """Marginal probabilities ``[N]`` of one long mono waveform ``[S]``.

    The waveform is cut into windows of ``window`` samples every ``hop`` (default
    ``window // 2``; the last window ends at the file's end), each window is scored by
    ``model`` (a :class:`TeacherModel`), and each concept takes its maximum over windows.
    A file no longer than one window is scored whole (no padding).
    """
    s = waveform.shape[-1]
    if s <= window:
        return model(waveform=waveform[None]).probs[0]
    hop = hop or window // 2
    starts = list(range(0, s - window + 1, hop))
    if starts[-1] != s - window:
        starts.append(s - window)
    chunks = torch.stack([waveform[a : a + window] for a in starts])
    probs = [model(waveform=chunks[i : i + batch_size]).probs
             for i in range(0, len(chunks), batch_size)]
    return torch.cat(probs).max(dim=0).values
