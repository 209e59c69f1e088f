"""``AudioPromptProcessor``: prompts with exactly Q audio placeholders, padded and labelled.

A prompt is text with one ``<audio>`` marker where the clip goes (no marker: the clip goes
first). The processor tokenizes the text around the marker, inserts Q copies of the
placeholder id (Q = the bridge's ``num_queries``), appends the target text and EOS when a
target is given, and pads the batch on the chosen side. Labels are -100 everywhere except
on the target tokens, so the loss trains only the answer::

    prompt "<audio> Describe it.", target "A dog barks.", Q = 3, right padding
    input_ids  [bos  A    A    A    _Describe _it _.  _A  _dog _barks _.  eos]
    labels     [-100 -100 -100 -100 -100      -100 -100 _A _dog _barks _. eos]

The placeholder id is inserted directly, so the tokenizer need not know ``<audio>`` as a
token (``attach_bridge`` may have appended the row to the LLM without a tokenizer).
"""

from __future__ import annotations

from typing import Any

import torch


class AudioPromptProcessor:
    """Build ``input_ids``/``attention_mask``/``labels`` for an :class:`AudioCausalLM`.

    Args:
        tokenizer: the LLM's Hugging Face tokenizer.
        num_queries: Q, placeholders per prompt.
        audio_token_id: the placeholder id.
        audio_marker: where the clip goes in a prompt's text. Default ``"<audio>"``.
        add_bos: start with the tokenizer's BOS token when it has one. Default True.
        padding_side: ``"right"`` (training) or ``"left"`` (generation). Default right.
        chat_template: wrap each prompt as a user turn with the tokenizer's chat template
            (instruct models); the template's own special tokens replace the BOS.
            Default False.
    """

    def __init__(self, tokenizer: Any, num_queries: int, audio_token_id: int,
                 audio_marker: str = "<audio>", add_bos: bool = True,
                 padding_side: str = "right", chat_template: bool = False) -> None:
        if chat_template and not getattr(tokenizer, "chat_template", None):
            raise ValueError("chat_template=True but the tokenizer has no chat template")
        self.chat_template = chat_template
        self.tokenizer = tokenizer
        self.num_queries = num_queries
        self.audio_token_id = audio_token_id
        self.audio_marker = audio_marker
        self.add_bos = add_bos
        self.padding_side = padding_side
        pad = tokenizer.pad_token_id
        self.pad_token_id = pad if pad is not None else (tokenizer.eos_token_id or 0)

    @classmethod
    def from_model(cls, tokenizer: Any, model: Any, **kwargs: Any) -> AudioPromptProcessor:
        """Processor matching an :class:`AudioCausalLM` (its Q, placeholder id and text)."""
        kwargs.setdefault("audio_marker", model.audio_token)
        return cls(tokenizer, model.num_queries, model.audio_token_id, **kwargs)

    def _text_ids(self, text: str) -> list[int]:
        if not text:
            return []
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def encode(self, prompt: str, target: str | None = None) -> tuple[list[int], list[int]]:
        """Return (input_ids, labels) of one prompt (unpadded).

        Raises:
            ValueError: the prompt holds the audio marker more than once.
        """
        bos = self.tokenizer.bos_token_id
        add_bos = self.add_bos and bos is not None
        if self.chat_template:
            prompt = self.tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt}], tokenize=False,
                add_generation_prompt=True)
            add_bos = False
        parts = prompt.split(self.audio_marker)
        if len(parts) > 2:
            raise ValueError(f"prompt {prompt!r} holds {len(parts) - 1} audio markers "
                             f"{self.audio_marker!r}; one clip per prompt")
        before, after = (parts[0], parts[1]) if len(parts) == 2 else ("", parts[0])
        ids: list[int] = [bos] if add_bos else []
        if self.chat_template:  # the template's spacing and newlines are kept as they are
            ids += self._text_ids(before)
            ids += [self.audio_token_id] * self.num_queries
            ids += self._text_ids(after)
        else:
            ids += self._text_ids(before.rstrip())
            ids += [self.audio_token_id] * self.num_queries
            ids += self._text_ids(after.strip() and " " + after.strip())
        labels = [-100] * len(ids)
        if target is not None:
            target_ids = self._text_ids(" " + target.strip())
            eos = self.tokenizer.eos_token_id
            if eos is not None:
                target_ids.append(eos)
            ids += target_ids
            labels += target_ids
        return ids, labels

    def __call__(self, prompts: list[str], targets: list[str] | None = None,
                 padding_side: str | None = None,
                 max_length: int | None = None) -> dict[str, torch.Tensor]:
        """Encode and pad a batch.

        Args:
            prompts: B prompt texts (each with at most one audio marker).
            targets: B target texts (training) or None (generation).
            padding_side: ``"left"`` or ``"right"``; default the processor's.
            max_length: cut target tokens beyond this length (the prompt is never cut).

        Returns:
            ``input_ids`` [B, T], ``attention_mask`` [B, T] and, with targets, ``labels``.
        """
        side = padding_side or self.padding_side
        if side not in ("left", "right"):
            raise ValueError(f"padding_side={side!r}; expected 'left' or 'right'")
        if targets is not None and len(targets) != len(prompts):
            raise ValueError(f"{len(prompts)} prompts but {len(targets)} targets")
        rows = [self.encode(p, None if targets is None else targets[i])
                for i, p in enumerate(prompts)]
        if max_length is not None:
            prompt_lens = [len(self.encode(p)[0]) for p in prompts]
            too_long = [i for i, n in enumerate(prompt_lens) if n > max_length]
            if too_long:
                raise ValueError(f"prompts {too_long} are longer than max_length={max_length} "
                                 "before any target token")
            rows = [(ids[:max_length], lab[:max_length]) for ids, lab in rows]
        width = max(len(ids) for ids, _ in rows)
        input_ids, attention, labels = [], [], []
        for ids, lab in rows:
            pad = width - len(ids)
            if side == "right":
                input_ids.append(ids + [self.pad_token_id] * pad)
                attention.append([1] * len(ids) + [0] * pad)
                labels.append(lab + [-100] * pad)
            else:
                input_ids.append([self.pad_token_id] * pad + ids)
                attention.append([0] * pad + [1] * len(ids))
                labels.append([-100] * pad + lab)
        batch = {"input_ids": torch.tensor(input_ids), "attention_mask": torch.tensor(attention)}
        if targets is not None:
            batch["labels"] = torch.tensor(labels)
        return batch

    def batch_decode(self, sequences: torch.Tensor, prompt_length: int = 0) -> list[str]:
        """Decode generated ids (dropping the first ``prompt_length`` and placeholders)."""
        texts = []
        for row in sequences[:, prompt_length:].tolist():
            row = [t for t in row if t != self.audio_token_id]
            texts.append(self.tokenizer.decode(row, skip_special_tokens=True).strip())
        return texts
