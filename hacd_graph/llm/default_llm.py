"""The embedded default LLM: a small Llama built from a config, its BPE tokenizer trained on
the project's text, briefly pre-trained, and cached on disk.

Two caches under ``cache_dir``, each a folder written to a temporary name and renamed into
place when complete (a killed build leaves nothing half-done):

- ``tokenizer-<key>/``: keyed by the corpus digest and the tokenizer settings;
- ``default-llm-<key>/``: keyed by the tokenizer key, the architecture and the
  pre-training settings; holds the model, its tokenizer, ``build.json`` (settings,
  corpus counts, timings, losses, text samples), ``loss.png`` (the loss curve) and
  ``pretrain/`` (the training loop's ``metrics.json`` and ``metrics.csv``).

Pre-training runs through the one training loop in ``.default-llm-<key>.pretrain/`` beside
the cache folder (checkpoints included), so a killed build started again resumes where its
last checkpoint left off; that folder is removed once the build is in place.

A second call with the same corpus and settings loads from disk in about a second.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoModelForCausalLM,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
)

from hacd_graph.llm.corpus import TextCorpus
from hacd_graph.llm.pretrain import pack_texts, pretrain_causal_lm, sample_text
from hacd_graph.llm.tokenizer import train_bpe_tokenizer

BUILD_VERSION = 2  # 2: pre-training through hacd_graph.training.fit
SAMPLE_PROMPTS = ("", "A dog", "Birds are")


def default_cache_dir() -> Path:
    """``~/.cache/hacd_graph/llm``: where builds go when no ``cache_dir`` is given."""
    return Path.home() / ".cache" / "hacd_graph" / "llm"


@dataclass
class DefaultLLMConfig:
    """Architecture, tokenizer and pre-training settings of the default LLM.

    The defaults make a ~1.1 M-parameter Llama (4 layers, hidden 128, vocabulary 2048,
    tied input/output embeddings) that pre-trains in minutes and runs the whole pipeline on
    two CPU cores.
    """

    vocab_size: int = 2048
    min_frequency: int = 2
    hidden_size: int = 128
    num_layers: int = 4
    num_heads: int = 4
    num_kv_heads: int = 4
    intermediate_size: int = 352
    max_position_embeddings: int = 512
    tie_word_embeddings: bool = True
    seq_len: int = 64
    batch_size: int = 32
    steps: int = 400
    lr: float = 2e-3
    warmup_steps: int = 40
    weight_decay: float = 0.01
    seed: int = 0
    sample_tokens: int = 30  # length of the text samples recorded in build.json

    def llama_config(self, tokenizer: PreTrainedTokenizerFast) -> LlamaConfig:
        """The ``LlamaConfig`` of this size for ``tokenizer``'s vocabulary."""
        return LlamaConfig(
            vocab_size=len(tokenizer), hidden_size=self.hidden_size,
            intermediate_size=self.intermediate_size, num_hidden_layers=self.num_layers,
            num_attention_heads=self.num_heads, num_key_value_heads=self.num_kv_heads,
            max_position_embeddings=self.max_position_embeddings,
            tie_word_embeddings=self.tie_word_embeddings,
            bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )

    def tokenizer_key(self, corpus: TextCorpus) -> str:
        """Cache key of the tokenizer: corpus digest + tokenizer settings."""
        return _hash(BUILD_VERSION, corpus.digest(), self.vocab_size, self.min_frequency)

    def model_key(self, corpus: TextCorpus) -> str:
        """Cache key of the pre-trained weights: tokenizer key + every setting that shapes
        them (not ``sample_tokens``)."""
        settings = dataclasses.asdict(self)
        settings.pop("sample_tokens")
        return _hash(self.tokenizer_key(corpus), settings)


@dataclass
class DefaultLLM:
    """A built default LLM: model (eval mode), tokenizer, cache folder and build record."""

    model: LlamaForCausalLM
    tokenizer: PreTrainedTokenizerFast
    path: Path
    info: dict[str, Any]


def _hash(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def _publish(build: Any, final: Path) -> None:
    """Run ``build(tmp_dir)`` and rename ``tmp_dir`` to ``final`` (atomic on one disk)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}."))
    try:
        build(tmp)
        os.replace(tmp, final)
    except OSError:
        if not final.is_dir():  # not a lost race with another builder
            raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def build_tokenizer(corpus: TextCorpus, config: DefaultLLMConfig,
                    cache_dir: str | Path | None = None) -> tuple[PreTrainedTokenizerFast, Path]:
    """Train (or load from the cache) the BPE tokenizer on ``corpus``; return it and its folder."""
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = cache / f"tokenizer-{config.tokenizer_key(corpus)}"
    if not path.is_dir():
        def build(tmp: Path) -> None:
            start = time.perf_counter()
            tok = train_bpe_tokenizer(corpus.texts, config.vocab_size, config.min_frequency)
            tok.save_pretrained(tmp)
            (tmp / "build.json").write_text(json.dumps(
                {"seconds": time.perf_counter() - start, "texts": len(corpus),
                 "counts": corpus.counts, "vocab_size": len(tok)}, indent=2))
        _publish(build, path)
    return PreTrainedTokenizerFast.from_pretrained(path), path


def build_default_llm(corpus: TextCorpus, config: DefaultLLMConfig | None = None,
                      cache_dir: str | Path | None = None, progress: bool = True,
                      rebuild: bool = False) -> DefaultLLM:
    """Return the default LLM for ``corpus``, building and caching it on first use.

    Args:
        corpus: the text (see :func:`hacd_graph.llm.corpus.build_corpus`).
        config: sizes and pre-training settings; default :class:`DefaultLLMConfig`.
        cache_dir: cache root; default :func:`default_cache_dir`.
        progress: show a progress bar while pre-training.
        rebuild: ignore (and replace) a cached model.

    Returns:
        A :class:`DefaultLLM`; ``info`` holds parameter count, timings, losses, samples.
    """
    config = config or DefaultLLMConfig()
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = cache / f"default-llm-{config.model_key(corpus)}"
    if rebuild and path.is_dir():
        shutil.rmtree(path)
    if not path.is_dir():
        start = time.perf_counter()
        tokenizer, tok_path = build_tokenizer(corpus, config, cache)
        tokenizer_seconds = time.perf_counter() - start

        work = path.with_name(f".{path.name}.pretrain")

        def build(tmp: Path) -> None:
            torch.manual_seed(config.seed)
            model = LlamaForCausalLM(config.llama_config(tokenizer))
            blocks = pack_texts(tokenizer, corpus.texts, config.seq_len)
            t0 = time.perf_counter()
            losses = pretrain_causal_lm(
                model, blocks, config.steps, config.batch_size, config.lr,
                config.warmup_steps, config.weight_decay, config.seed, progress,
                work_dir=work, fingerprint=config.model_key(corpus))
            seconds = time.perf_counter() - t0
            (tmp / "pretrain").mkdir()
            for name in ("metrics.json", "metrics.csv"):
                shutil.copy2(work / name, tmp / "pretrain" / name)
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            info = {
                "config": dataclasses.asdict(config), "corpus_counts": corpus.counts,
                "corpus_texts": len(corpus), "corpus_tokens": int(blocks.numel()),
                "parameters": sum(p.numel() for p in model.parameters()),
                "tokenizer_dir": str(tok_path), "tokenizer_seconds": tokenizer_seconds,
                "pretrain_seconds": seconds, "losses": losses,
                "samples": sample_text(model, tokenizer, SAMPLE_PROMPTS,
                                       max_new_tokens=config.sample_tokens),
                "torch_threads": torch.get_num_threads(),
            }
            (tmp / "build.json").write_text(json.dumps(info, indent=2) + "\n")
            plot_losses(losses, tmp / "loss.png", f"default LLM, {info['parameters']:,} "
                        f"parameters, {len(corpus):,} texts")
        _publish(build, path)
        shutil.rmtree(work, ignore_errors=True)
    return load_default_llm(path)


def plot_losses(losses: list[float], path: Path, title: str) -> None:
    """Save the pre-training loss curve (raw and 20-step mean) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(losses, lw=0.8, alpha=0.4, label="step")
    window = min(20, len(losses))
    smooth = [sum(losses[max(0, i - window + 1): i + 1]) / len(losses[max(0, i - window + 1):
                                                                    i + 1])
              for i in range(len(losses))]
    ax.plot(smooth, lw=1.5, label=f"{window}-step mean")
    ax.set(xlabel="step", ylabel="next-token loss (nats)", title=title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def load_default_llm(path: str | Path) -> DefaultLLM:
    """Load a cached build folder written by :func:`build_default_llm`."""
    path = Path(path)
    if not (path / "build.json").is_file():
        raise FileNotFoundError(f"{path} is not a default-LLM build (no build.json)")
    model = AutoModelForCausalLM.from_pretrained(path).eval()
    tokenizer = PreTrainedTokenizerFast.from_pretrained(path)
    return DefaultLLM(model, tokenizer, path, json.loads((path / "build.json").read_text()))
