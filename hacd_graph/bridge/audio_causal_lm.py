"""``AudioCausalLM`` and ``attach_bridge``: a bridge in front of any Hugging Face causal LM.

The model is assembled from parts, as ``qwen2_audio`` is: a bridge (audio frames and concepts
-> Q soft tokens), an ``AutoModelForCausalLM`` (any family: Llama, Qwen2, GPT-2, Mistral, ...)
and, optionally, a :class:`~hacd_graph.bridge.concept_head.GraphConceptHead`. The bridge's
outputs replace the embeddings of the ``<audio>`` placeholders
(:func:`~hacd_graph.bridge.embedding_merge.merge_audio_embeddings`), so the LLM itself is
untouched: ``forward`` and ``generate`` hand it ``inputs_embeds``.

Usage::

    bridge = HierarchicalBridge(BridgeConfig(audio_dim=128, concept_dim=64,
                                             llm_hidden_size=llm.config.hidden_size))
    model = attach_bridge(llm, bridge, tokenizer=tokenizer)
    processor = AudioPromptProcessor.from_model(tokenizer, model)
    batch = processor(["<audio> Describe the sound."], targets=["A dog barks."])
    out = model(**batch, audio_features=f, concept_embeddings=e, concept_probs=p)
    out.loss.backward()
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AddedToken, AutoModelForCausalLM, PreTrainedModel
from transformers.modeling_outputs import CausalLMOutputWithPast

from hacd_graph.bridge.concept_head import GraphConceptHead
from hacd_graph.bridge.embedding_merge import merge_audio_embeddings
from hacd_graph.bridge.pretrained import BridgeOutput, PretrainedBridge, load_bridge

SUMMARY_MODES = ("last_audio", "last_token")
META_NAME = "audio_lm.json"


@dataclass
class AudioCausalLMOutput(CausalLMOutputWithPast):
    """``CausalLMOutputWithPast`` plus what the audio parts add.

    Attributes:
        concept_logits: [B, N] conditional concept logits of the concept head, when the
            model has one and ``concept_embeddings`` were given.
        bridge_output: the bridge's :class:`BridgeOutput` (attention weights) when
            ``output_bridge_attentions=True``.
    """

    concept_logits: torch.Tensor | None = None
    bridge_output: BridgeOutput | None = None


def summary_positions(
    input_ids: torch.Tensor, attention_mask: torch.Tensor | None, audio_token_id: int,
    mode: str,
) -> torch.Tensor:
    """Return, per row, the index [B] whose hidden state summarises the clip.

    ``"last_audio"``: the last placeholder (it has seen the prompt before the audio and all
    Q soft tokens, but none of the target text). ``"last_token"``: the last attended token
    (works with left and right padding).
    """
    positions = torch.arange(input_ids.shape[1], device=input_ids.device)
    if mode == "last_audio":
        chosen = input_ids == audio_token_id
    elif mode == "last_token":
        chosen = (attention_mask if attention_mask is not None
                  else torch.ones_like(input_ids)).bool()
    else:
        raise ValueError(f"summary mode {mode!r}; expected one of {SUMMARY_MODES}")
    return torch.where(chosen, positions, -1).amax(dim=1).clamp(min=0)


class AudioCausalLM(nn.Module):
    """A causal LM whose ``<audio>`` placeholders are filled by a bridge.

    Build it with :func:`attach_bridge`. ``self.llm`` may later be wrapped by peft
    (``model.llm = apply_lora(model.llm, ...)``); saving then stores only the adapter.

    Args:
        llm: the causal LM (placeholder row already in its vocabulary).
        bridge: a :class:`PretrainedBridge` whose ``llm_hidden_size`` matches the LLM.
        audio_token_id: id of the placeholder token.
        audio_token: its text form (kept for saving and for processors).
        concept_head: optional :class:`GraphConceptHead` on the summary hidden state.
        summary: where the concept head reads: ``"last_audio"`` or ``"last_token"``.
    """

    def __init__(self, llm: PreTrainedModel, bridge: PretrainedBridge, audio_token_id: int,
                 audio_token: str = "<audio>", concept_head: GraphConceptHead | None = None,
                 summary: str = "last_audio") -> None:
        super().__init__()
        if summary not in SUMMARY_MODES:
            raise ValueError(f"summary={summary!r}; expected one of {SUMMARY_MODES}")
        self.llm = llm
        self.bridge = bridge
        self.concept_head = concept_head
        self.audio_token_id = int(audio_token_id)
        self.audio_token = audio_token
        self.summary = summary

    @property
    def config(self) -> Any:
        """The LLM's config (DeepSpeed and HF helpers look for ``model.config``)."""
        return self.llm.config

    @property
    def num_queries(self) -> int:
        """Q: placeholders per prompt."""
        return self.bridge.num_queries

    def embed(
        self, input_ids: torch.Tensor, audio_features: torch.Tensor | None = None,
        concept_embeddings: torch.Tensor | None = None,
        concept_probs: torch.Tensor | None = None, audio_mask: torch.Tensor | None = None,
        output_bridge_attentions: bool = False,
    ) -> tuple[torch.Tensor, BridgeOutput | None]:
        """Return the merged ``inputs_embeds`` [B, T, H] (and the bridge output on request).

        Text-only batches (no placeholder, no audio) pass through unchanged.
        """
        inputs_embeds = self.llm.get_input_embeddings()(input_ids)
        if audio_features is None:
            if (input_ids == self.audio_token_id).any():
                raise ValueError("input_ids hold audio placeholders but no audio_features "
                                 "were given")
            return inputs_embeds, None
        out = self.bridge(audio_features, concept_embeddings, concept_probs,
                          audio_mask=audio_mask, output_attentions=output_bridge_attentions)
        bridge_output = out if isinstance(out, BridgeOutput) else None
        audio_embeds = out.embeddings if bridge_output is not None else out
        if self.bridge.config.match_text_norm:
            audio_embeds = _to_text_norm(audio_embeds, inputs_embeds,
                                         input_ids != self.audio_token_id)
        return merge_audio_embeddings(input_ids, inputs_embeds, audio_embeds,
                                      self.audio_token_id), bridge_output

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        audio_features: torch.Tensor | None = None,
        concept_embeddings: torch.Tensor | None = None,
        concept_probs: torch.Tensor | None = None,
        audio_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        output_bridge_attentions: bool = False,
        **llm_kwargs: Any,
    ) -> AudioCausalLMOutput:
        """Run the bridge, splice its outputs in, run the LLM (and the concept head).

        Args:
            input_ids: [B, T] with Q placeholders per row (any padding side).
            attention_mask: [B, T], 1 = real token. Without a cache, position ids are
                derived from it (``cumsum - 1``) unless ``position_ids`` is given, so left
                padding does not shift positions.
            audio_features, concept_embeddings, concept_probs, audio_mask: bridge inputs
                ([B, Tf, Da], [N, Dc], [B, N], [B, Tf]).
            labels: [B, T] next-token targets (-100 = ignore); placeholders and padding
                are ignored whatever the labels say.
            output_bridge_attentions: also return the bridge's attention weights.
            **llm_kwargs: passed to the LLM (``past_key_values``, ``use_cache``, ...).

        Returns:
            :class:`AudioCausalLMOutput` (``loss`` when labels are given; ``concept_logits``
            [B, N] when the model has a concept head and concept embeddings are given).
        """
        inputs_embeds, bridge_output = self.embed(
            input_ids, audio_features, concept_embeddings, concept_probs, audio_mask,
            output_bridge_attentions)
        if (position_ids is None and attention_mask is not None
                and llm_kwargs.get("past_key_values") is None):
            position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
        if labels is not None:
            labels = labels.masked_fill(input_ids == self.audio_token_id, -100)
            if attention_mask is not None:
                labels = labels.masked_fill(attention_mask == 0, -100)
        want_head = self.concept_head is not None and concept_embeddings is not None
        hidden_states = llm_kwargs.pop("output_hidden_states", False) or want_head
        out = self.llm(inputs_embeds=inputs_embeds, attention_mask=attention_mask,
                       position_ids=position_ids, labels=labels,
                       output_hidden_states=hidden_states, return_dict=True, **llm_kwargs)
        concept_logits = None
        if want_head:
            where = summary_positions(input_ids, attention_mask, self.audio_token_id,
                                      self.summary)
            last = out.hidden_states[-1]
            summary = last[torch.arange(last.shape[0], device=last.device), where]
            concept_logits = self.concept_head(summary, concept_embeddings)
        return AudioCausalLMOutput(
            loss=out.loss, logits=out.logits, past_key_values=out.past_key_values,
            hidden_states=out.hidden_states, attentions=out.attentions,
            concept_logits=concept_logits, bridge_output=bridge_output)

    @torch.no_grad()
    def generate(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        audio_features: torch.Tensor | None = None,
        concept_embeddings: torch.Tensor | None = None,
        concept_probs: torch.Tensor | None = None,
        audio_mask: torch.Tensor | None = None,
        **generate_kwargs: Any,
    ) -> torch.Tensor:
        """Generate text after audio prompts; returns [B, T + new] ids like ``llm.generate``.

        Use left padding for batched generation (as with any decoder-only LM). The
        placeholder token is suppressed in the output unless ``suppress_tokens`` is given.
        """
        inputs_embeds, _ = self.embed(input_ids, audio_features, concept_embeddings,
                                      concept_probs, audio_mask)
        generate_kwargs.setdefault("suppress_tokens", [self.audio_token_id])
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        return self.llm.generate(input_ids=input_ids, inputs_embeds=inputs_embeds,
                                 attention_mask=attention_mask, **generate_kwargs)

    def save_pretrained(self, directory: str | os.PathLike, save_llm: str = "auto",
                        tokenizer: Any = None) -> Path:
        """Save the bridge, the concept head and the LLM part that was trained.

        Layout: ``audio_lm.json`` (placeholder token and id, vocabulary size, what was
        saved), ``bridge/``, ``concept_head/`` (if any), and ``adapter/`` (a peft LoRA
        adapter) or ``llm/`` (the full LLM) or nothing, plus ``tokenizer/`` when given.

        Args:
            directory: target folder.
            save_llm: ``"adapter"`` (the LLM is a peft model), ``"full"``, ``"none"``
                (the LLM stayed frozen), or ``"auto"``: adapter when peft wraps the LLM,
                else full. ``"full"`` of a peft model saves a merged copy (the live model
                keeps its adapter; the copy costs one more LLM in memory while saving).
            tokenizer: optional tokenizer (with the placeholder) to save beside.
        """
        from peft import PeftModel

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        is_peft = isinstance(self.llm, PeftModel)
        if save_llm == "auto":
            save_llm = "adapter" if is_peft else "full"
        if save_llm not in ("adapter", "full", "none"):
            raise ValueError(f"save_llm={save_llm!r}; expected auto, adapter, full or none")
        if save_llm == "adapter" and not is_peft:
            raise ValueError("save_llm='adapter' but the LLM is not wrapped by peft")
        self.bridge.save_pretrained(directory / "bridge")
        if self.concept_head is not None:
            self.concept_head.save_pretrained(directory / "concept_head")
        if save_llm == "adapter":
            self.llm.save_pretrained(directory / "adapter")
        elif save_llm == "full":
            # merge a copy: merge_and_unload() on the live model would strip its LoRA
            # layers and silently end LoRA training when saving mid-run
            base = copy.deepcopy(self.llm).merge_and_unload() if is_peft else self.llm
            base.save_pretrained(directory / "llm")
        if tokenizer is not None:
            tokenizer.save_pretrained(directory / "tokenizer")
        meta = {"audio_token": self.audio_token, "audio_token_id": self.audio_token_id,
                "vocab_size": self.llm.get_input_embeddings().num_embeddings,
                "llm_weights": save_llm, "summary": self.summary}
        tmp = directory / f".{META_NAME}.tmp"
        tmp.write_text(json.dumps(meta, indent=2) + "\n")
        os.replace(tmp, directory / META_NAME)
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, llm: PreTrainedModel | None = None,
                        tokenizer: Any = None) -> AudioCausalLM:
        """Load what :meth:`save_pretrained` wrote.

        Args:
            directory: the saved folder.
            llm: the base LLM (required unless the full LLM was saved); for an adapter it
                must be the model the adapter was trained on.
            tokenizer: optional tokenizer; the placeholder is added to it if missing.

        Raises:
            ValueError: no LLM to load, or the placeholder id does not come out the same.
        """
        from peft import PeftModel

        directory = Path(directory)
        meta_path = directory / META_NAME
        if not meta_path.is_file():
            raise FileNotFoundError(f"no {META_NAME} in {directory}: not a saved AudioCausalLM")
        meta = json.loads(meta_path.read_text())
        if llm is None:
            if meta["llm_weights"] != "full":
                raise ValueError(f"{directory} holds no full LLM ({meta['llm_weights']}): "
                                 "pass the base llm")
            llm = AutoModelForCausalLM.from_pretrained(directory / "llm")
        head_dir = directory / "concept_head"
        head = GraphConceptHead.from_pretrained(head_dir) if head_dir.is_dir() else None
        model = attach_bridge(llm, load_bridge(directory / "bridge"), meta["audio_token"],
                              tokenizer=tokenizer, audio_token_id=meta["audio_token_id"],
                              concept_head=head, summary=meta["summary"])
        if meta["llm_weights"] == "adapter":
            model.llm = PeftModel.from_pretrained(model.llm, directory / "adapter")
        return model


def _to_text_norm(audio_embeds: torch.Tensor, inputs_embeds: torch.Tensor,
                  text: torch.Tensor) -> torch.Tensor:
    """``audio_embeds`` [B, Q, H] with every token's norm set to the mean norm of the text
    token embeddings (``inputs_embeds`` [B, T, H] where ``text`` [B, T]), a constant
    without gradient."""
    norms = inputs_embeds.detach().float().norm(dim=-1)
    target = norms[text].mean() if text.any() else norms.mean()
    return F.normalize(audio_embeds, dim=-1) * target.to(audio_embeds.dtype)


def _add_rows(llm: PreTrainedModel, new_size: int) -> None:
    """Grow the vocabulary to ``new_size``; new rows = the mean of the old ones.

    Deterministic (unlike random mean-resizing), so re-attaching after loading a LoRA
    adapter reproduces the same placeholder row and output logit bit for bit.
    """
    old = llm.get_input_embeddings().num_embeddings
    llm.resize_token_embeddings(new_size, mean_resizing=False)
    emb = llm.get_input_embeddings().weight
    out = llm.get_output_embeddings()
    untied = out is not None and out.weight is not emb
    params = [emb, *([out.weight] if untied else []),
              *([out.bias] if untied and getattr(out, "bias", None) is not None else [])]
    with gathered_parameters(params), torch.no_grad():
        emb[old:] = emb[:old].mean(dim=0)
        if untied:
            out.weight[old:] = out.weight[:old].mean(dim=0)
            if getattr(out, "bias", None) is not None:
                out.bias[old:] = out.bias[:old].mean()


def gathered_parameters(params: list[torch.Tensor]) -> Any:
    """A context in which ``params`` are whole: DeepSpeed's gather (rank 0 writes, the
    others receive) for parameters ZeRO-3 has partitioned, else nothing to do."""
    if any(hasattr(p, "ds_id") for p in params):
        import deepspeed

        return deepspeed.zero.GatheredParameters(params, modifier_rank=0)
    return contextlib.nullcontext()


def attach_bridge(
    llm: PreTrainedModel,
    bridge: PretrainedBridge,
    audio_token: str = "<audio>",
    *,
    tokenizer: Any = None,
    audio_token_id: int | None = None,
    concept_head: GraphConceptHead | None = None,
    summary: str = "last_audio",
) -> AudioCausalLM:
    """Put ``bridge`` in front of ``llm``: add the placeholder token and return the model.

    The placeholder id is the tokenizer's id for ``audio_token`` (added to ``tokenizer`` as
    a special token when missing) if a tokenizer is given, else ``audio_token_id`` if given
    (reloading), else a new row after the LLM's vocabulary. The embedding matrix (and an
    untied output layer) is resized when the id falls outside it.

    Args:
        llm: any ``AutoModelForCausalLM`` model.
        bridge: a bridge whose ``config.llm_hidden_size`` equals the LLM's hidden size (use
            :func:`hacd_graph.bridge.transfer.reproject_bridge` for another size).
        audio_token: placeholder text. Default ``"<audio>"``.
        tokenizer: the LLM's tokenizer, to register the placeholder in.
        audio_token_id: reuse this id (e.g. when loading a saved model).
        concept_head: optional :class:`GraphConceptHead` (its ``hidden_size`` must match).
        summary: where the concept head reads (``"last_audio"`` or ``"last_token"``).

    Returns:
        The :class:`AudioCausalLM`; ``model.audio_token_id`` is the placeholder id.

    Raises:
        ValueError: hidden sizes do not match, or the tokenizer's placeholder id is not
            ``audio_token_id``.
    """
    hidden = llm.get_input_embeddings().embedding_dim
    if bridge.config.llm_hidden_size != hidden:
        raise ValueError(
            f"bridge.config.llm_hidden_size={bridge.config.llm_hidden_size} but the LLM's "
            f"hidden size is {hidden}; reproject the bridge "
            "(hacd_graph.bridge.transfer.reproject_bridge) first"
        )
    if concept_head is not None and concept_head.config.hidden_size != hidden:
        raise ValueError(f"concept_head.config.hidden_size={concept_head.config.hidden_size} "
                         f"but the LLM's hidden size is {hidden}")
    if tokenizer is not None:
        if audio_token not in tokenizer.get_vocab():
            tokenizer.add_tokens([AddedToken(audio_token, special=True, normalized=False)],
                                 special_tokens=True)
        token_id = tokenizer.convert_tokens_to_ids(audio_token)
        if audio_token_id is not None and audio_token_id != token_id:
            raise ValueError(f"the tokenizer has {audio_token!r} as id {token_id}, but "
                             f"audio_token_id={audio_token_id} was asked for")
        audio_token_id = token_id
    if audio_token_id is None:
        audio_token_id = llm.get_input_embeddings().num_embeddings
    if audio_token_id >= llm.get_input_embeddings().num_embeddings:
        _add_rows(llm, audio_token_id + 1)
    return AudioCausalLM(llm, bridge, audio_token_id, audio_token, concept_head, summary)
