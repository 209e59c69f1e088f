import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from hacd_graph.llm.corpus import read_caption_csvs
from hacd_graph.llm.pretrain import CausalLMStage, pack_texts, pretrain_causal_lm, sample_text
from hacd_graph.llm.tokenizer import train_bpe_tokenizer
from hacd_graph.training import CheckpointMismatch, Stage


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


def _tiny_llama(tokenizer, seed=0):
    torch.manual_seed(seed)
    return LlamaForCausalLM(LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id))


def test_pretraining_lowers_the_loss_and_samples_text(tokenizer):
    model = _tiny_llama(tokenizer)
    texts = ["a dog barks loudly", "a man speaks", "rain falls on a roof"] * 20
    blocks = pack_texts(tokenizer, texts, seq_len=16)
    losses = pretrain_causal_lm(model, blocks, steps=25, batch_size=8, lr=2e-2,
                                warmup_steps=3, progress=False)
    assert len(losses) == 25 and sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5
    assert not model.training
    samples = sample_text(model, tokenizer, ["a dog", ""], max_new_tokens=4)
    assert len(samples) == 2 and samples[0].startswith("a dog")


def test_stage_deals_each_epoch_to_the_ranks_without_duplicates():
    blocks = torch.arange(23 * 4).view(23, 4)
    stage = CausalLMStage(torch.nn.Linear(1, 1), blocks, batch_size=5, seed=1)
    assert isinstance(stage, Stage)
    shards = [list(stage.train_batches(3, r, 2)) for r in range(2)]
    assert [len(s) for s in shards] == [2, 2]  # 23 // (5 * 2) batches on every rank
    rows = [int(b[0]) // 4 for s in shards for batch in s for b in batch]
    assert len(rows) == len(set(rows)) == 20
    again = [list(stage.train_batches(3, r, 2)) for r in range(2)]
    assert all(torch.equal(a, b) for s, t in zip(shards, again, strict=True)
               for a, b in zip(s, t, strict=True))
    assert not torch.equal(next(iter(stage.train_batches(4, 0, 2))), shards[0][0])
    small = CausalLMStage(torch.nn.Linear(1, 1), blocks[:3], batch_size=5)
    assert [b.shape for b in small.train_batches(0, 0, 1)] == [(5, 4)]  # with replacement


def test_finished_work_dir_gives_back_its_weights_and_checks_the_fingerprint(tokenizer, tmp_path):
    blocks = pack_texts(tokenizer, ["a dog barks loudly", "rain falls"] * 20, seq_len=8)
    model = _tiny_llama(tokenizer)
    losses = pretrain_causal_lm(model, blocks, steps=4, batch_size=4, lr=1e-2, warmup_steps=1,
                                progress=False, work_dir=tmp_path / "w", fingerprint="k1")
    assert (tmp_path / "w" / "metrics.json").is_file()
    # a build killed after training, before publishing: the loop hands back the result
    fresh = _tiny_llama(tokenizer, seed=1)
    again = pretrain_causal_lm(fresh, blocks, steps=4, batch_size=4, lr=1e-2, warmup_steps=1,
                               progress=False, work_dir=tmp_path / "w", fingerprint="k1")
    assert again == losses
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    with pytest.raises(CheckpointMismatch, match="fingerprint recorded 'k1', now 'k2'"):
        pretrain_causal_lm(fresh, blocks, steps=4, batch_size=4, progress=False,
                           work_dir=tmp_path / "w", fingerprint="k2")
