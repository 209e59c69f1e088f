"""Splicing the bridge's soft tokens into a causal LM's input embeddings.

The prompt carries Q ``<audio>`` placeholder tokens per clip (Q = the bridge's
``num_queries``); their embedding rows are replaced, in order, by the bridge's Q outputs.
Nothing else moves, so the sequence length, the attention mask, the labels and the
padding side stay as the tokenizer made them — unlike ``qwen2_audio``, whose prompt holds a
single placeholder that is expanded at merge time, the prompt here already holds all Q
(:class:`~hacd_graph.bridge.processing.AudioPromptProcessor` builds it), which keeps
left padding for generation trivially correct.

Worked example (Q = 3, ``A`` = ``<audio>``, ``P`` = pad, ``a1 a2 a3`` / ``b1 b2 b3`` the
bridge outputs of clip 0 / clip 1)::

    right padding                          left padding
    input_ids   [bos A A A the dog]        [P   P   bos A  A  A  hi]
                [bos A A A hi  P  ]        [bos A   A   A  a   cat hi]
    embeds      [e(bos) a1 a2 a3 e(the) e(dog)]
                [e(bos) b1 b2 b3 e(hi)  e(P)  ]
    mask        [1 1 1 1 1 1] / [1 1 1 1 1 0]   [0 0 1 1 1 1 1] / [1 1 1 1 1 1 1]

Position ids come from the attention mask (``cumsum(mask) - 1``), so a left-padded row
gets the same positions as the unpadded one; see ``AudioCausalLM.forward``.
"""

from __future__ import annotations

import torch


def merge_audio_embeddings(
    input_ids: torch.Tensor,
    inputs_embeds: torch.Tensor,
    audio_embeds: torch.Tensor,
    audio_token_id: int,
) -> torch.Tensor:
    """Return ``inputs_embeds`` with row b's placeholders replaced by ``audio_embeds[b]``.

    Args:
        input_ids: [B, T] token ids holding the ``audio_token_id`` placeholders.
        inputs_embeds: [B, T, H] the LLM's embeddings of ``input_ids``.
        audio_embeds: [B, Q, H] the bridge's soft tokens.
        audio_token_id: the placeholder id.

    Returns:
        [B, T, H], a new tensor (autograd flows into ``audio_embeds`` and
        ``inputs_embeds``), in the dtype of ``inputs_embeds``.

    Raises:
        ValueError: a row does not hold exactly Q placeholders, or batch/width differ.
    """
    if audio_embeds.dim() != 3:
        raise ValueError(f"audio_embeds must be [B, Q, H], got {list(audio_embeds.shape)}")
    batch, num_queries, hidden = audio_embeds.shape
    if input_ids.shape[0] != batch:
        raise ValueError(
            f"input_ids has {input_ids.shape[0]} rows but the bridge wrote {batch} clips"
        )
    if inputs_embeds.shape[-1] != hidden:
        raise ValueError(
            f"bridge outputs have width {hidden} but the LLM embeddings have "
            f"{inputs_embeds.shape[-1]}: the bridge's llm_hidden_size does not fit this LLM"
        )
    is_audio = input_ids == audio_token_id
    counts = is_audio.sum(dim=1)
    bad = (counts != num_queries).nonzero().flatten().tolist()
    if bad:
        found = {b: int(counts[b]) for b in bad}
        raise ValueError(
            f"each prompt must hold exactly {num_queries} audio placeholders "
            f"(id {audio_token_id}) for the bridge's {num_queries} queries; "
            f"rows {bad} hold {found}. Build prompts with AudioPromptProcessor."
        )
    # masked_scatter fills the True positions in row-major order: row b, in sequence
    # order, receives audio_embeds[b, 0..Q-1].
    return inputs_embeds.masked_scatter(is_audio.unsqueeze(-1),
                                        audio_embeds.to(inputs_embeds.dtype))
