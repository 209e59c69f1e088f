"""Training the default LLM's byte-level BPE tokenizer with Hugging Face ``tokenizers``."""

from __future__ import annotations

from collections.abc import Sequence

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

BOS, EOS, PAD = "<s>", "</s>", "<pad>"


def train_bpe_tokenizer(texts: Sequence[str], vocab_size: int = 4096,
                        min_frequency: int = 2) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer (GPT-2 style, NFC-normalised) on ``texts``.

    Byte-level BPE can encode any string, so prompts outside the corpus never hit an
    unknown token. Special tokens: ``<s>`` (BOS), ``</s>`` (EOS), ``<pad>``.

    Args:
        texts: training texts.
        vocab_size: target vocabulary size, specials and the 256 bytes included.
        min_frequency: minimum pair count for a merge.

    Returns:
        A ``PreTrainedTokenizerFast`` with BOS/EOS/PAD set, padding on the right.
    """
    if vocab_size < 260:
        raise ValueError(f"vocab_size={vocab_size} is below the 256 bytes + specials")
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=[BOS, EOS, PAD],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer, length=len(texts))
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOS,
                                   pad_token=PAD, padding_side="right")
