"""The distillation stage on two gloo ranks under DeepSpeed ZeRO-2 and ZeRO-3 ends where the
one-rank run on the same global batches ends.

Two ranks with 2 clips each see, at every step, exactly the 4 clips that one rank with a
batch of 4 sees (``epoch_order`` cuts the same permutation). The HDL part of the gradient
is then identical; the LM part differs slightly, because each rank averages over its own
tokens before the ranks' gradients are averaged. The tolerance below is for that.
"""

from __future__ import annotations

import json
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

from hacd_graph.training import DistributedContext, TrainerConfig, fit
from tests.distill.student_fixtures import make_stage, save_tiny_llm

STEPS = 4
REL_TOL = 0.02  # held-out HDL and LM loss after STEPS steps, relative to the 1-rank run


def _trainer(batch_size: int) -> TrainerConfig:
    return TrainerConfig(max_steps=STEPS, batch_size=batch_size, lr=5e-3, warmup_steps=1,
                         eval_every=0, ckpt_every=0, progress=False, grad_clip=1.0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank(rank: int, port: int, tiny_ach, llm_dir, out_dir) -> None:
    """One of two ranks: distil under ZeRO-2, then under ZeRO-3 (one start-up for both)."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE="2", LOCAL_RANK=str(rank), LOCAL_SIZE="2")
    torch.set_num_threads(1)
    from hacd_graph.training import init_distributed
    from hacd_graph.training.loop import build_stage_model

    ctx = init_distributed(rank, use_deepspeed=True)
    for zero in (2, 3):
        stage = make_stage(tiny_ach, llm_dir)
        ds = {"enabled": True, "config": {"zero_optimization": {"stage": zero}}}
        if zero == 3:  # the LLM is partitioned as it is loaded, never whole on a rank;
            # transformers' resize (the <audio> row) re-creates the embeddings whole, and
            # deepspeed.initialize partitions them
            llm = build_stage_model(stage, _trainer(2), ds).audio_lm.llm
            frozen = [(n, p) for n, p in llm.named_parameters() if not p.requires_grad]
            assert all(hasattr(p, "ds_id") and p.numel() == 0 for n, p in frozen
                       if "embed_tokens" not in n and "lm_head" not in n)
            assert sum("layers." in n for n, _ in frozen) > 10
        result = fit(stage, _trainer(2), out_dir / f"zero{zero}", ctx, deepspeed=ds)
        if ctx.is_main:
            (out_dir / f"zero{zero}.json").write_text(json.dumps(result.metrics))
    torch.distributed.destroy_process_group()


@pytest.fixture(scope="module")
def one_rank(tiny_ach, tmp_path_factory):
    llm_dir = save_tiny_llm(tmp_path_factory.mktemp("tiny_llm"))
    out = tmp_path_factory.mktemp("one_rank")
    stage = make_stage(tiny_ach, llm_dir)
    torch.manual_seed(0)
    untrained = stage.evaluate(stage.build_model().eval())
    return llm_dir, untrained, fit(stage, _trainer(4), out, DistributedContext()).metrics


def test_two_ranks_under_zero2_and_zero3_match_one_rank(one_rank, tiny_ach, tmp_path):
    llm_dir, untrained, reference = one_rank
    mp.spawn(_rank, args=(_free_port(), tiny_ach, llm_dir, tmp_path), nprocs=2, join=True)
    for zero in (2, 3):
        metrics = json.loads((tmp_path / f"zero{zero}.json").read_text())
        assert metrics["engine"] == "deepspeed" and metrics["world_size"] == 2
        assert metrics["step"] == STEPS
        for key in ("hdl", "lm_loss"):
            got, want = metrics["eval"][key], reference["eval"][key]
            assert got == pytest.approx(want, rel=REL_TOL), (zero, key, got, want)
    # training moved the loss much further than the tolerance: the match is not trivial
    assert reference["eval"]["hdl"] < (1 - 5 * REL_TOL) * untrained["hdl"]
