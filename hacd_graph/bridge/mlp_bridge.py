"""``MLPBridge``: the LLaVA-style projector baseline (no concepts, no attention).

The frames are average-pooled into Q equal time segments (padding excluded), and a
two-layer GELU MLP maps each pooled frame to the LLM hidden size, as LLaVA-1.5's
``mlp2x_gelu`` projector does for image patches (Liu et al. 2023,
https://arxiv.org/abs/2310.03744). It takes the same arguments as
:class:`~hacd_graph.bridge.hierarchical_bridge.HierarchicalBridge` and ignores the concept
ones, which makes it the "plain audio-encoder bridge" baseline of the evaluation.
"""

from __future__ import annotations

import torch
from torch import nn

from hacd_graph.bridge.config import BridgeConfig
from hacd_graph.bridge.pretrained import BridgeOutput, PretrainedBridge, check_bridge_inputs


def segment_pooling_weights(
    num_segments: int, frames: int, audio_mask: torch.Tensor | None, batch: int,
    device: torch.device,
) -> torch.Tensor:
    """Return W [B, Q, T] averaging each of Q equal segments of the valid frames.

    Segment q of a clip with L valid frames covers frames ``floor(q·L/Q)`` up to
    ``max(floor((q+1)·L/Q), floor(q·L/Q) + 1)`` (exclusive), so every segment holds at least
    one frame even when L < Q. Frames are counted among the valid ones only, so padding
    (``audio_mask`` False) may sit anywhere.
    """
    if audio_mask is None:
        valid = torch.ones(batch, frames, dtype=torch.bool, device=device)
    else:
        valid = audio_mask.bool()
    lengths = valid.sum(dim=1)
    rank = valid.long().cumsum(dim=1) - 1  # index of each frame among the valid ones
    q = torch.arange(num_segments, device=device)
    start = torch.div(q[None, :] * lengths[:, None], num_segments, rounding_mode="floor")
    end = torch.div((q[None, :] + 1) * lengths[:, None], num_segments, rounding_mode="floor")
    end = torch.maximum(end, start + 1)
    r = rank[:, None, :]
    inside = (r >= start[..., None]) & (r < end[..., None]) & valid[:, None, :]
    inside = inside.float()
    return inside / inside.sum(dim=-1, keepdim=True)


class MLPBridge(PretrainedBridge):
    """Pool frames into Q segments, then a two-layer MLP to the LLM hidden size.

    Args:
        config: a :class:`BridgeConfig` with ``bridge_type="mlp"``; uses ``audio_dim``,
            ``hidden_size`` (the MLP's inner width), ``llm_hidden_size``, ``num_queries``.

    Shapes:
        - audio_features: [B, T, Da]; audio_mask: [B, T] (True = real frame) or None.
        - concept_embeddings, concept_probs: accepted and ignored.
        - output: [B, Q, H], or a :class:`BridgeOutput` whose single ``audio_attentions``
          entry is the pooling matrix [B, 1, Q, T] when ``output_attentions=True``.
    """

    bridge_type = "mlp"

    def __init__(self, config: BridgeConfig) -> None:
        super().__init__(config)
        self.input_projection = nn.Linear(config.audio_dim, config.hidden_size)
        self.activation = nn.GELU()
        self.output_projection = nn.Linear(config.hidden_size, config.llm_hidden_size)

    def forward(
        self,
        audio_features: torch.Tensor,
        concept_embeddings: torch.Tensor | None = None,
        concept_probs: torch.Tensor | None = None,
        audio_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> torch.Tensor | BridgeOutput:
        """Write Q soft tokens for each clip (see the class docstring for shapes)."""
        check_bridge_inputs(self.config, audio_features, None, None, audio_mask,
                            need_concepts=False)
        batch, frames = audio_features.shape[:2]
        dtype = self.input_projection.weight.dtype
        weights = segment_pooling_weights(self.config.num_queries, frames, audio_mask, batch,
                                          audio_features.device).to(dtype)
        pooled = weights @ audio_features.to(dtype)  # [B, Q, Da]
        embeddings = self.output_projection(self.activation(self.input_projection(pooled)))
        if not output_attentions:
            return embeddings
        return BridgeOutput(embeddings, (weights.unsqueeze(1),), None)
