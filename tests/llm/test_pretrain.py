import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from hacd_graph.llm.corpus import read_caption_csvs
from hacd_graph.llm.pretrain import pack_texts, pretrain_causal_lm, sample_text
from hacd_graph.llm.tokenizer import train_bpe_tokenizer


@pytest.fixture(scope="module")
def tokenizer(meta_dir):
    return train_bpe_tokenizer(read_caption_csvs(meta_dir)[:300], vocab_size=320)


def test_pack_texts(tokenizer):
    blocks = pack_texts(tokenizer, ["a dog barks", "rain"], seq_len=4)
    stream = ([tokenizer.bos_token_id] + tokenizer("a dog barks")["input_ids"]
              + [tokenizer.eos_token_id, tokenizer.bos_token_id]
              + tokenizer("rain")["input_ids"] + [tokenizer.eos_token_id])
    assert blocks.shape == (len(stream) // 4, 4)
    assert blocks.flatten().tolist() == stream[: blocks.numel()]
    with pytest.raises(ValueError, match="fewer than one block"):
        pack_texts(tokenizer, ["a"], seq_len=50)


def test_pretraining_lowers_the_loss_and_samples_text(tokenizer):
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id))
    texts = ["a dog barks loudly", "a man speaks", "rain falls on a roof"] * 20
    blocks = pack_texts(tokenizer, texts, seq_len=16)
    losses = pretrain_causal_lm(model, blocks, steps=25, batch_size=8, lr=2e-2,
                                warmup_steps=3, progress=False)
    assert len(losses) == 25 and sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5
    assert not model.training
    samples = sample_text(model, tokenizer, ["a dog", ""], max_new_tokens=4)
    assert len(samples) == 2 and samples[0].startswith("a dog")
