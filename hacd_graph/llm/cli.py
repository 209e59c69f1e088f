"""``hacd-graph llm ...``: build the embedded default LLM and sample from it.

    hacd-graph llm build-default --meta ../shared/data/meta [--cache DIR] [--steps N]
        [--generated 500] [--no-concepts]
    hacd-graph llm sample --build DIR --prompt "A dog"

torch and transformers are imported inside the commands, and ``hacd-graph`` imports this
group only when it runs an ``llm`` command (importing the ``hacd_graph.llm`` package itself
loads transformers). A bad ``--set`` or a missing folder is one line
(``hacd_graph.errors.run_main``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from hacd_graph.errors import UserError


def _build_default(args: argparse.Namespace) -> int:
    import torch

    from hacd_graph.llm.corpus import default_corpus
    from hacd_graph.llm.default_llm import DefaultLLMConfig, build_default_llm, default_cache_dir

    if args.threads:
        torch.set_num_threads(args.threads)
    config = DefaultLLMConfig()
    fields = {f.name: f.type for f in dataclasses.fields(config)}
    for item in args.set:
        key, value = _setting(item, fields)
        setattr(config, key, value)
    if args.steps is not None:
        config.steps = args.steps
    cache = args.cache if args.cache is not None else default_cache_dir()
    corpus = default_corpus(args.meta, cache, args.generated, args.concepts, args.caption_limit)
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


def _setting(item: str, fields: dict[str, object]) -> tuple[str, object]:
    """``KEY=VALUE`` of a ``--set``, the value converted to the field's type."""
    key, sep, value = item.partition("=")
    if not sep or key not in fields:
        raise UserError(f"--set {item!r}: expected KEY=VALUE with KEY one of "
                        f"{', '.join(sorted(fields))}")
    kind = str(getattr(fields[key], "__name__", fields[key]))
    if kind == "bool":
        if value.lower() not in ("1", "true", "yes", "0", "false", "no"):
            raise UserError(f"--set {item!r}: expected true or false")
        return key, value.lower() in ("1", "true", "yes")
    try:
        return key, float(value) if kind == "float" else int(value)
    except ValueError:
        raise UserError(f"--set {item!r}: expected "
                        f"{'a number' if kind == 'float' else 'an integer'}") from None


def _sample(args: argparse.Namespace) -> int:
    from hacd_graph.llm.default_llm import load_default_llm
    from hacd_graph.llm.pretrain import sample_text

    if not args.build.is_dir():
        raise UserError(f"--build {args.build}: no such folder (a default-llm-* build)")
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
    build.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a DefaultLLMConfig setting, e.g. --set hidden_size=256")
    build.add_argument("--caption-limit", type=int, default=None,
                       help="use at most this many real captions")
    build.add_argument("--generated", type=int, default=500,
                       help="synthetic scenes whose captions, descriptions and QA join the "
                       "corpus (0: none)")
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
