"""``BridgeAttention``: multi-head attention of queries over a key set, with an additive prior.

    attn[b, h, q, s] = softmax_s( <W_q x[b,q], W_k m[b,s]>_h / sqrt(D/heads) + bias[b, s] )
    out[b, q]        = W_o · concat_h Σ_s attn[b,h,q,s] · W_v m[b,s]

``bias`` carries what the keys are worth before the query looks at them: ``log p`` of the
teacher's concept probabilities (so attention ∝ p · exp(score), a product of the prior and
the match) or ``-inf`` for padded frames. The fused ``scaled_dot_product_attention`` runs
unless the weights are asked for, in which case the same maths runs in plain PyTorch.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class BridgeAttention(nn.Module):
    """Multi-head attention with an additive per-key bias and optional returned weights.

    Args:
        dim: model width D (queries and memory share it).
        num_heads: number of heads; must divide ``dim``.
        dropout: dropout on the attention weights in training. Default 0.0.

    Shapes:
        - x: [B, Q, D] queries.
        - memory: [B, S, D], or [S, D] shared by the whole batch (the concept set).
        - bias: [B, S] additive logits (``-inf`` masks a key), or None.
        - output: [B, Q, D], and weights [B, heads, Q, S] when ``need_weights``.
    """

    def __init__(self, dim: int, num_heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim={dim} is not divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.dropout = dropout
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)

    def _heads(self, t: torch.Tensor, batch: int) -> torch.Tensor:
        # [B, S, D] or [S, D] -> [B, heads, S, head_dim]; a shared memory is expanded, not copied
        if t.dim() == 2:
            t = t.unsqueeze(0).expand(batch, -1, -1)
        return t.unflatten(-1, (self.num_heads, self.head_dim)).transpose(1, 2)

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        bias: torch.Tensor | None = None,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attend from ``x`` to ``memory``; see the class docstring for shapes."""
        batch = x.shape[0]
        q = self._heads(self.q_proj(x), batch)
        k = self._heads(self.k_proj(memory), batch)
        v = self._heads(self.v_proj(memory), batch)
        mask = None if bias is None else bias[:, None, None, :].to(q.dtype)
        p_drop = self.dropout if self.training else 0.0
        if need_weights:
            scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)
            if mask is not None:
                scores = scores + mask
            weights = scores.float().softmax(dim=-1).to(q.dtype)
            out = F.dropout(weights, p_drop, self.training) @ v
        else:
            weights = None
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p_drop)
        out = out.transpose(1, 2).flatten(2)
        return self.out_proj(out), weights
