"""The Audio Spectrogram Transformer backbone (Gong et al. 2021, https://arxiv.org/abs/2104.01778).

Built from ``transformers``' ``ASTConfig`` / ``ASTModel``. With ``pretrained`` set, the
weights load from a local folder (or a hub id the user has cached) with
``ASTModel.from_pretrained``; nothing is downloaded unless the user allows it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class ASTBackboneConfig:
    """Settings of :class:`ASTBackbone` (ignored but ``max_length`` when ``pretrained``).

    Args:
        pretrained: local folder or hub id of AST weights (``None``: random init).
        local_files_only: never download (default).
        hidden_size, num_hidden_layers, num_attention_heads, intermediate_size: model size.
        patch_size, frequency_stride, time_stride: patching of the spectrogram.
        max_length: input frames T the model takes (inputs are padded or cropped to it).
    """

    pretrained: str | None = None
    local_files_only: bool = True
    hidden_size: int = 192
    num_hidden_layers: int = 4
    num_attention_heads: int = 3
    intermediate_size: int = 768
    patch_size: int = 16
    frequency_stride: int = 10
    time_stride: int = 10
    max_length: int = 400


class ASTBackbone(nn.Module):
    """Log-mel frames -> pooled embedding and patch-token features.

    Args:
        n_mels: mel bins M of the input (must match the pretrained model's).
        config: the model's settings.
        pad_value: the value short inputs are padded with to ``max_length`` frames (for
            AST's fbank input: a zero fbank normalised, as ``ASTFeatureExtractor`` pads).

    Shapes:
        features: ``[B, T, M]`` -> (embedding ``[B, H]``, frames ``[B, P, H]``), P the
        number of spectrogram patches (the frame features of the bridge).
    """

    def __init__(self, n_mels: int, config: ASTBackboneConfig | None = None,
                 pad_value: float = 0.0):
        super().__init__()
        self.pad_value = pad_value
        from transformers import ASTConfig, ASTModel

        config = config or ASTBackboneConfig()
        self.config = config
        if config.pretrained:
            self.model = ASTModel.from_pretrained(config.pretrained,
                                                  local_files_only=config.local_files_only)
            if self.model.config.num_mel_bins != n_mels:
                raise ValueError(
                    f"AST weights at {config.pretrained} expect {self.model.config.num_mel_bins} "
                    f"mel bins, the front end makes {n_mels}"
                )
        else:
            self.model = ASTModel(ASTConfig(
                hidden_size=config.hidden_size, num_hidden_layers=config.num_hidden_layers,
                num_attention_heads=config.num_attention_heads,
                intermediate_size=config.intermediate_size, patch_size=config.patch_size,
                frequency_stride=config.frequency_stride, time_stride=config.time_stride,
                max_length=config.max_length, num_mel_bins=n_mels,
            ))
        self.max_length = self.model.config.max_length
        self.out_dim = self.model.config.hidden_size

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        t = features.shape[1]
        if t < self.max_length:
            features = F.pad(features, (0, 0, 0, self.max_length - t), value=self.pad_value)
        features = features[:, : self.max_length]
        out = self.model(input_values=features)
        return out.pooler_output, out.last_hidden_state[:, 2:]  # drop the cls/dist tokens
