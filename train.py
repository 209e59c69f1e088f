"""The entry point: ``deepspeed train.py --config distill_gnn [key=value ...]``.

Also ``python train.py --config distill_gnn`` (one process, plain PyTorch) and
``deepspeed --num_gpus 2 train.py ...`` (two ranks; gloo on CPU, NCCL on GPU). The
launcher's ``--local_rank`` is taken here; every other ``key=value`` argument is a Hydra
override of ``configs/<config>.yaml`` (``teacher=flat``, ``trainer.max_steps=50``,
``run.dir=PATH``). The DeepSpeed engine (``deepspeed`` group, ZeRO) is used when a
launcher started the run and ``deepspeed.enabled`` is true.

The composed config is checked as a whole before anything is written
(``hacd_graph.pipeline.validate``); a user error (bad override, unknown key or group, a
setting of the wrong type or range, a missing file, an unusable run directory) prints one
line and exits with status 2. ``--debug`` (or ``HYDRA_FULL_ERROR=1``) shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings

from hacd_graph.openmp import prefer_passive_waiting

prefer_passive_waiting()  # before torch is imported (hacd_graph/openmp.py says why)


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, list[str]]:
    """Split the command line into ``--config``/``--local_rank`` and Hydra overrides."""
    from hacd_graph.errors import ArgumentParser

    parser = ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="distill_gnn", help="configs/<NAME>.yaml")
    parser.add_argument("--local_rank", "--local-rank", type=int, default=None,
                        help="set by the deepspeed / torch launcher")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error (or HYDRA_FULL_ERROR=1)")
    args, rest = parser.parse_known_args(argv)
    bad = [a for a in rest if a.startswith("-") or "=" not in a]
    if bad:
        parser.error(f"arguments {bad} are neither options nor key=value overrides")
    return args, rest


def main(argv: list[str] | None = None) -> int:
    """Run :func:`train`; a user error becomes one line on stderr and exit status 2."""
    from hacd_graph.errors import run_main

    return run_main("train.py", train, argv)


def train(argv: list[str]) -> int:
    """Compose and check the config, join the launcher's process group, run the pipeline.

    Seeds are set once per stage by the training loop (``trainer.seed``), and the data
    generator is seeded by ``data.*_seed``, so nothing is seeded here.
    """
    args, overrides = parse_args(argv)
    # torch_geometric calls torch.jit.script at import time; the notice is not ours to act on
    warnings.filterwarnings("ignore", message=".*torch.jit.script.* is deprecated",
                            category=FutureWarning)
    from hacd_graph.pipeline import compose_config, run_pipeline
    from hacd_graph.pipeline.validate import validate_config
    from hacd_graph.training import init_distributed

    cfg = compose_config(args.config, overrides)
    validate_config(cfg)  # before anything is written
    use_deepspeed = args.local_rank is not None and bool(cfg.deepspeed.enabled)
    ctx = init_distributed(args.local_rank, use_deepspeed=use_deepspeed)
    out = run_pipeline(cfg, ctx, use_deepspeed)
    if ctx.is_main:  # the run's summary.json, also when the folder is read-only
        print(json.dumps(out["summary"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
