"""A convolutional audio backbone of the PANNs family, sized to train on CPU.

PANNs (Kong et al. 2020, https://arxiv.org/abs/1912.10211): log-mel input, batch norm over
mel bins, blocks of two 3x3 conv-BN-ReLU layers with 2x2 average pooling, frequency averaged
away, then max + mean pooling over time and a fully connected embedding layer. ``Cnn14`` has
six blocks of 64-2048 channels; the default here has three blocks of 32-128.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class CNNConfig:
    """Settings of :class:`CNNBackbone`.

    Args:
        channels: output channels of each conv block (one 2x2 pooling per block).
        embed_dim: width D of the clip embedding and frame features.
        dropout: dropout before the embedding layer.
        mask_silence: pool the clip embedding over non-silent frames only, so padding a
            clip with digital silence does not move it (needs ``silence_floor``; default
            ``True``).
    """

    channels: tuple[int, ...] = (32, 64, 128)
    embed_dim: int = 128
    dropout: float = 0.2
    mask_silence: bool = True


class ConvBlock(nn.Module):
    """Two 3x3 conv-BN-ReLU layers and a 2x2 average pooling (PANNs ``ConvBlock``)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return F.avg_pool2d(x, 2, ceil_mode=True)


class CNNBackbone(nn.Module):
    """Log-mel frames -> clip embedding and frame features.

    Args:
        n_mels: mel bins M of the input.
        config: the network's settings.
        silence_floor: the front end's value for digital silence (for ``mask_silence``;
            ``None`` pools over every frame).

    Shapes:
        features: ``[B, T, M]`` -> (embedding ``[B, D]``, frames ``[B, T', D]``) with
        ``T' = ceil(T / 2^len(channels))``.
    """

    def __init__(self, n_mels: int, config: CNNConfig | None = None,
                 silence_floor: float | None = None):
        super().__init__()
        config = config or CNNConfig()
        self.config = config
        self.silence_floor = silence_floor if config.mask_silence else None
        self.bn0 = nn.BatchNorm1d(n_mels)
        chans = (1, *config.channels)
        self.blocks = nn.ModuleList(ConvBlock(a, b) for a, b in zip(chans, chans[1:], strict=False))
        self.frame_proj = nn.Linear(chans[-1], config.embed_dim)
        self.fc = nn.Linear(chans[-1], config.embed_dim)
        self.dropout = nn.Dropout(config.dropout)
        self.out_dim = config.embed_dim

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        active = None
        if self.silence_floor is not None:  # [B, T]: frames that are not digital silence
            active = (features.amax(dim=2) > self.silence_floor + 1e-3).float()
        x = self.bn0(features.transpose(1, 2)).transpose(1, 2)  # normalise each mel bin
        x = x.unsqueeze(1)  # [B, 1, T, M]
        for block in self.blocks:
            x = block(x)
            if active is not None:  # follow the block's 2x pooling in time
                active = F.max_pool1d(active[:, None], 2, ceil_mode=True)[:, 0]
        x = x.mean(dim=3).transpose(1, 2)  # [B, T', C]
        frames = self.frame_proj(x)
        if active is None:
            pooled = x.max(dim=1).values + x.mean(dim=1)
        else:
            # an all-silent clip pools over every frame
            w = torch.where(active.sum(1, keepdim=True) > 0, active, torch.ones_like(active))
            mean = (x * w[..., None]).sum(1) / w.sum(1)[:, None]
            peak = x.masked_fill(w[..., None] == 0, float("-inf")).max(dim=1).values
            pooled = peak + mean
        embedding = F.relu(self.fc(self.dropout(pooled)))
        return embedding, frames
