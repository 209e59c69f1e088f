"""``HierarchicalBridge``: learnable queries that read audio frames and weighted concepts.

Q learnable query vectors pass through ``num_layers`` blocks; each block lets the queries

1. talk to each other (self-attention),
2. read the teacher's frame features (cross-attention over T frames, padding masked),
3. read the concept node embeddings (cross-attention over N concepts), where each concept's
   attention logit is shifted by ``log p[b, c]``, the teacher's probability of the concept
   for this clip, so the attention is ``∝ p[b,c] · exp(score)``: the queries can only pick
   out concepts the teacher believes present, and among those they choose by content.
   A learned null key/value (bias 0) lets a query read nothing when no concept is probable.
   With ``concept_top_k`` only the k most probable concepts per clip enter (the others'
   prior weight is negligible), which keeps memory flat for hierarchies of many thousands,
4. pass an MLP,

then a final norm and ``output_projection`` map them to the LLM hidden size: the soft
tokens that replace the ``<audio>`` placeholders (``hacd_graph.bridge.audio_causal_lm``).
The design follows Q-Former / Perceiver-resampler bridges (Li et al. 2023,
https://arxiv.org/abs/2301.12597), with the concept prior added.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from hacd_graph.bridge.attention import BridgeAttention
from hacd_graph.bridge.config import BridgeConfig
from hacd_graph.bridge.pretrained import BridgeOutput, PretrainedBridge, check_bridge_inputs


def sinusoidal_positions(length: int, dim: int, device: torch.device) -> torch.Tensor:
    """Transformer sine/cosine positions, [length, dim] (no maximum length to learn)."""
    position = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    freq = torch.exp(
        torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim)
    )
    table = torch.zeros(length, dim, device=device)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq)[:, : dim // 2]
    return table


class QueryBlock(nn.Module):
    """One pre-norm block: self-attention, frame attention, concept attention, MLP."""

    def __init__(self, config: BridgeConfig) -> None:
        super().__init__()
        d, heads, p = config.hidden_size, config.num_heads, config.dropout
        self.self_norm = nn.LayerNorm(d)
        self.self_attn = BridgeAttention(d, heads, p)
        self.audio_norm = nn.LayerNorm(d)
        self.audio_attn = BridgeAttention(d, heads, p)
        self.concept_norm = nn.LayerNorm(d)
        self.concept_attn = BridgeAttention(d, heads, p)
        self.mlp_norm = nn.LayerNorm(d)
        hidden = int(d * config.mlp_ratio)
        self.mlp = nn.Sequential(
            nn.Linear(d, hidden), nn.GELU(), nn.Linear(hidden, d), nn.Dropout(p)
        )

    def forward(
        self,
        x: torch.Tensor,
        audio: torch.Tensor,
        audio_bias: torch.Tensor | None,
        concepts: torch.Tensor,
        concept_bias: torch.Tensor,
        need_weights: bool,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        h = self.self_norm(x)
        x = x + self.self_attn(h, h)[0]
        a, audio_w = self.audio_attn(self.audio_norm(x), audio, audio_bias, need_weights)
        x = x + a
        c, concept_w = self.concept_attn(self.concept_norm(x), concepts, concept_bias,
                                         need_weights)
        x = x + c
        x = x + self.mlp(self.mlp_norm(x))
        return x, audio_w, concept_w


class HierarchicalBridge(PretrainedBridge):
    """Queries cross-attending to audio frames and probability-weighted concept embeddings.

    Args:
        config: a :class:`BridgeConfig` with ``bridge_type="hierarchical"``.

    Shapes:
        - audio_features: [B, T, Da]; audio_mask: [B, T] (True = real frame) or None.
        - concept_embeddings: [N, Dc]; concept_probs: [B, N] in [0, 1].
        - output: [B, Q, H], or a :class:`BridgeOutput` with per-layer attention weights
          [B, heads, Q, T] and [B, heads, Q, N] when ``output_attentions=True``.
    """

    bridge_type = "hierarchical"

    def __init__(self, config: BridgeConfig) -> None:
        super().__init__(config)
        d = config.hidden_size
        self.queries = nn.Parameter(torch.randn(config.num_queries, d) * config.initializer_range)
        self.audio_in = nn.Linear(config.audio_dim, d)
        self.audio_in_norm = nn.LayerNorm(d)
        self.concept_in = nn.Linear(config.concept_dim, d)
        self.concept_in_norm = nn.LayerNorm(d)
        self.null_concept = (
            nn.Parameter(torch.randn(1, d) * config.initializer_range)
            if config.null_concept else None
        )
        self.blocks = nn.ModuleList(QueryBlock(config) for _ in range(config.num_layers))
        self.out_norm = nn.LayerNorm(d)
        self.output_projection = nn.Linear(d, config.llm_hidden_size)

    def _concept_memory(
        self, concept_embeddings: torch.Tensor, concept_probs: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Return (memory [N', D] or [B, k', D], bias [B, ·], top-k index [B, k] or None)."""
        memory = self.concept_in_norm(self.concept_in(concept_embeddings))
        log_prior = concept_probs.float().clamp(min=self.config.prob_eps).log()
        index = None
        k = self.config.concept_top_k
        if k is not None and k < concept_probs.shape[1]:
            log_prior, index = log_prior.topk(k, dim=1)
            memory = memory[index]  # [B, k, D]
        if self.null_concept is not None:
            batch = concept_probs.shape[0]
            null = self.null_concept.to(memory.dtype)
            if memory.dim() == 2:
                memory = torch.cat([memory, null], dim=0)
            else:
                memory = torch.cat([memory, null.expand(batch, 1, -1)], dim=1)
            log_prior = F.pad(log_prior, (0, 1), value=0.0)
        return memory, log_prior, index

    def _concept_weights(self, weights: torch.Tensor, index: torch.Tensor | None,
                         num_concepts: int) -> torch.Tensor:
        """Drop the null slot and scatter top-k weights back to [B, heads, Q, N]."""
        if self.null_concept is not None:
            weights = weights[..., :-1]
        if index is None:
            return weights
        full = weights.new_zeros(*weights.shape[:-1], num_concepts)
        return full.scatter(-1, index[:, None, None, :].expand_as(weights), weights)

    def forward(
        self,
        audio_features: torch.Tensor,
        concept_embeddings: torch.Tensor,
        concept_probs: torch.Tensor,
        audio_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> torch.Tensor | BridgeOutput:
        """Write Q soft tokens for each clip (see the class docstring for shapes)."""
        check_bridge_inputs(self.config, audio_features, concept_embeddings, concept_probs,
                            audio_mask, need_concepts=True)
        batch, frames = audio_features.shape[:2]
        dtype = self.queries.dtype
        audio = self.audio_in(audio_features.to(dtype))
        audio = self.audio_in_norm(
            audio + sinusoidal_positions(frames, audio.shape[-1], audio.device).to(dtype)
        )
        audio_bias = None
        if audio_mask is not None:
            audio_bias = torch.zeros(batch, frames, device=audio.device, dtype=torch.float32)
            audio_bias = audio_bias.masked_fill(~audio_mask.bool(), float("-inf"))
        if not self.config.teacher_probs:
            concept_probs = torch.ones_like(concept_probs)
        concepts, concept_bias, index = self._concept_memory(
            concept_embeddings.to(dtype), concept_probs
        )

        x = self.queries.unsqueeze(0).expand(batch, -1, -1)
        audio_ws: list[torch.Tensor] = []
        concept_ws: list[torch.Tensor] = []
        for block in self.blocks:
            x, audio_w, concept_w = block(x, audio, audio_bias, concepts, concept_bias,
                                          output_attentions)
            if output_attentions:
                audio_ws.append(audio_w)
                concept_ws.append(self._concept_weights(concept_w, index,
                                                        concept_embeddings.shape[0]))
        embeddings = self.output_projection(self.out_norm(x))
        if not output_attentions:
            return embeddings
        return BridgeOutput(embeddings, tuple(audio_ws), tuple(concept_ws))
