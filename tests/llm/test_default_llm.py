import json

import pytest
import torch

from hacd_graph.llm.corpus import build_corpus, default_corpus
from hacd_graph.llm.default_llm import DefaultLLMConfig, build_default_llm, load_default_llm
from hacd_graph.llm.loading import load_llm

TINY = dict(vocab_size=300, hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=2,
            intermediate_size=64, seq_len=16, batch_size=4, steps=3, warmup_steps=1,
            sample_tokens=4)


def test_tiny_build_is_cached_by_corpus_and_settings(tmp_path, meta_dir):
    corpus = build_corpus(meta_dir, concept_names=["dog bark", "rain"], limit=300)
    config = DefaultLLMConfig(**TINY)
    built = build_default_llm(corpus, config, tmp_path, progress=False)
    assert built.path.parent == tmp_path and built.path.name.startswith("default-llm-")
    info = json.loads((built.path / "build.json").read_text())
    assert info["parameters"] == sum(p.numel() for p in built.model.parameters())
    assert len(info["losses"]) == 3 and len(info["samples"]) == 3
    assert (built.path / "loss.png").stat().st_size > 1000
    record = json.loads((built.path / "pretrain" / "metrics.json").read_text())
    assert record["step"] == 3 and record["fingerprint"] == config.model_key(corpus)
    assert not (built.path / "pretrain" / "ckpt").exists()
    assert info["corpus_counts"]["concepts"] == 2
    assert built.model.config.num_hidden_layers == 1 and len(built.tokenizer) <= 300
    stamp = (built.path / "model.safetensors").stat().st_mtime_ns

    again = build_default_llm(corpus, config, tmp_path, progress=False)
    assert again.path == built.path
    assert (built.path / "model.safetensors").stat().st_mtime_ns == stamp
    for a, b in zip(built.model.parameters(), again.model.parameters(), strict=True):
        assert torch.equal(a, b)

    # more steps: new weights, same tokenizer; another corpus: new tokenizer
    build_default_llm(corpus, DefaultLLMConfig(**{**TINY, "steps": 4}), tmp_path,
                      progress=False)
    assert len(list(tmp_path.glob("default-llm-*"))) == 2
    assert len(list(tmp_path.glob("tokenizer-*"))) == 1
    smaller = build_corpus(meta_dir, limit=200)
    assert DefaultLLMConfig(**TINY).tokenizer_key(smaller) != config.tokenizer_key(corpus)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]

    # through the llm config node: captions + the core hierarchy's concept names
    model, tok = load_llm({"name": "default", "meta_dir": str(meta_dir), "caption_limit": 300,
                           "generated_clips": 0, "concepts": True,
                           "cache_dir": str(tmp_path), "default": TINY}, progress=False)
    assert model.config.hidden_size == 32 and "</s>" in tok.get_vocab()
    assert len(list(tmp_path.glob("tokenizer-*"))) == 2
    with pytest.raises(FileNotFoundError, match="not a default-LLM build"):
        load_default_llm(tmp_path)


@pytest.mark.slow
def test_full_default_build_writes_language(tmp_path, meta_dir):
    """The real default: captions, generated texts, concept names, default sizes and steps
    (about 15 minutes on 2 busy cores)."""
    corpus = default_corpus(meta_dir, tmp_path, progress=False)
    assert min(corpus.counts.values()) > 500
    built = build_default_llm(corpus, cache_dir=tmp_path, progress=False)
    losses = built.info["losses"]
    assert sum(losses[-20:]) / 20 < 4.0 < losses[0]
    words = " ".join(built.info["samples"]).split()
    assert len(words) > 10
    vocab = {w.lower().strip(".,") for t in corpus.texts[:20000] for w in t.split()}
    known = sum(w.lower().strip(".,") in vocab for w in words) / len(words)
    assert known > 0.7, built.info["samples"]
