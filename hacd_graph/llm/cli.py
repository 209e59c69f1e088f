"""``hacd-graph llm ...``: build the embedded default LLM and sample from it.

    hacd-graph llm build-default --meta ../shared/data/meta [--cache DIR] [--steps N]
    hacd-graph llm sample --build DIR --prompt "A dog"
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _concept_names() -> list[str]:
    from hacd_graph.ach import build_ach

    return list(build_ach().names)


def _build_default(args: argparse.Namespace) -> int:
    import torch

    from hacd_graph.llm.corpus import build_corpus
    from hacd_graph.llm.default_llm import DefaultLLMConfig, build_default_llm

    if args.threads:
        torch.set_num_threads(args.threads)
    config = DefaultLLMConfig()
    if args.steps is not None:
        config.steps = args.steps
    names = _concept_names() if args.concepts else []
    corpus = build_corpus(args.meta, concept_names=names, limit=args.caption_limit)
    print(f"corpus: {len(corpus)} texts {corpus.counts}")
    built = build_default_llm(corpus, config, args.cache, rebuild=args.rebuild)
    info = built.info
    summary = {k: info[k] for k in ("parameters", "corpus_texts", "corpus_tokens",
                                    "tokenizer_seconds", "pretrain_seconds", "samples")}
    summary.update(path=str(built.path), first_loss=info["losses"][0],
                   last_loss=sum(info["losses"][-20:]) / len(info["losses"][-20:]),
                   vocab_size=len(built.tokenizer), layers=config.num_layers,
                   hidden_size=config.hidden_size)
    print(json.dumps(summary, indent=2))
    return 0


def _sample(args: argparse.Namespace) -> int:
    from hacd_graph.llm.default_llm import load_default_llm
    from hacd_graph.llm.pretrain import sample_text

    built = load_default_llm(args.build)
    for seed in range(args.n):
        for text in sample_text(built.model, built.tokenizer, [args.prompt],
                                max_new_tokens=args.max_new_tokens, seed=seed):
            print(text)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``llm`` command group."""
    group = subparsers.add_parser("llm", help="the embedded default LLM")
    commands = group.add_subparsers(dest="command", required=True, metavar="COMMAND")

    build = commands.add_parser(
        "build-default", help="train the tokenizer and pre-train the default LLM (cached)")
    build.add_argument("--meta", type=Path, required=True,
                       help="folder with audiocaps/*.csv and clotho/*.csv caption files")
    build.add_argument("--cache", type=Path, default=None,
                       help="cache root (default ~/.cache/hacd_graph/llm)")
    build.add_argument("--steps", type=int, default=None, help="pre-training steps")
    build.add_argument("--caption-limit", type=int, default=None,
                       help="use at most this many real captions")
    build.add_argument("--no-concepts", dest="concepts", action="store_false",
                       help="leave the core hierarchy's concept names out of the corpus")
    build.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    build.add_argument("--rebuild", action="store_true", help="ignore a cached build")
    build.set_defaults(func=_build_default)

    sample = commands.add_parser("sample", help="sample text from a built default LLM")
    sample.add_argument("--build", type=Path, required=True, help="a default-llm-* folder")
    sample.add_argument("--prompt", default="")
    sample.add_argument("--n", type=int, default=3, help="number of samples")
    sample.add_argument("--max-new-tokens", type=int, default=30)
    sample.set_defaults(func=_sample)
