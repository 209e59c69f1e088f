"""Per-rank memory of the distillation stage under DeepSpeed ZeRO-2 and ZeRO-3, 1 vs 2 ranks.

A Llama built from a config (random initialisation, >= 100 M parameters by default; no
weights can be downloaded here) is the student's LLM, trained in full (``--lora`` keeps
it frozen under LoRA adapters), with the hierarchical bridge and the concept head on the
default hierarchy (core + AudioSet) and random teacher outputs. Each configuration runs a
few optimiser steps on gloo ranks (CPU) through the project's ``DeepSpeedEngine`` and the
``DistillStage``; every rank reports what it holds:

- ``params``: the model parameters it stores (its ZeRO-3 partition, or all of them);
- ``grads``: the gradients the optimiser steps on (ZeRO-2/3: this rank's partition);
- ``optim``: the optimiser's state (Adam moments, plus DeepSpeed's fp32 master copy);
- ``peak RSS``: the process's peak resident memory (everything, libraries included).

Prints and writes ``zero_memory.{md,json}`` with the git revision; exits non-zero when a
configuration fails or a 2-rank run does not hold less than its 1-rank run where ZeRO
partitions (grads and optimiser state for ZeRO-2, and parameters too for ZeRO-3).

    python benchmarks/zero_memory.py --out outputs/zero_memory
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import socket
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.multiprocessing as mp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MB = 2**20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def save_llm(folder: Path, hidden: int, layers: int, vocab: int) -> int:
    """Write a random Llama of this size and a small BPE tokenizer; return its parameters."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from hacd_graph.llm import train_bpe_tokenizer

    texts = [f"General category: sound {i}. Specific elements: event {i % 17}." for i in range(400)]
    tokenizer = train_bpe_tokenizer(texts, vocab_size=400)
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(
        vocab_size=vocab, hidden_size=hidden, intermediate_size=int(hidden * 8 / 3) // 64 * 64,
        num_hidden_layers=layers, num_attention_heads=hidden // 64,
        num_key_value_heads=hidden // 64,
        max_position_embeddings=512, tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return sum(p.numel() for p in model.parameters())


def make_stage(llm_dir: Path, lora: bool, batch_size: int):
    """A DistillStage over the default hierarchy with random teacher outputs."""
    from hacd_graph.ach import build_ach
    from hacd_graph.distill.stage import DistillConfig, DistillData, DistillStage
    from hacd_graph.distill.student import StudentSpec
    from hacd_graph.distill.teacher_cache import TeacherOutputs
    from hacd_graph.llm import LoraSettings, load_causal_lm

    ach = build_ach(("core", "audioset"))
    g = torch.Generator().manual_seed(0)
    clips, n = 8 * batch_size, len(ach)

    def split() -> DistillData:
        logits = torch.randn(clips, n, generator=g) * 3
        teacher = TeacherOutputs(torch.randn(clips, 25, 128, generator=g).half(), logits,
                                 torch.sigmoid(logits))
        text = "General category: environmental audio. Specific elements: a dog barking."
        return DistillData(teacher, [text] * clips, (torch.rand(clips, n, generator=g) > .9)
                           .float())

    student = StudentSpec(
        load_llm=lambda: load_causal_lm(str(llm_dir)),
        bridge={"num_queries": 32, "num_layers": 2, "num_heads": 4, "hidden_size": 128},
        lora=LoraSettings(enabled=lora), concept_embeddings=torch.randn(n, 64, generator=g),
        audio_dim=128)
    return DistillStage(ach, ach.ancestor_table(), student,
                        DistillConfig(max_target_tokens=32, backend="torch"), split(), split(),
                        batch_size=batch_size)


def _tensor_bytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors if isinstance(t, torch.Tensor))


def measure_rank(rank: int, world: int, port: int, zero: int, llm_dir: Path, lora: bool,
                 steps: int, batch_size: int, folder: Path) -> None:
    """One rank: build the stage's model under DeepSpeed, train ``steps`` steps, report."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank), LOCAL_SIZE=str(world))
    torch.set_num_threads(1)
    from hacd_graph.training import TrainerConfig, init_distributed
    from hacd_graph.training.distributed import move_to_device, seed_everything
    from hacd_graph.training.engine import DeepSpeedEngine

    ctx = init_distributed(rank, use_deepspeed=True)
    seed_everything(0)
    stage = make_stage(llm_dir, lora, batch_size)
    cfg = TrainerConfig(max_steps=steps, batch_size=batch_size, warmup_steps=1, progress=False)
    engine = DeepSpeedEngine(stage.build_model(), cfg, ctx,
                             {"zero_optimization": {"stage": zero}},
                             stage.optimizer_groups)
    grads: list[int] = []
    optimizer = engine.optimizer  # the torch AdamW that DeepSpeed steps on its partitions
    optimizer.register_step_pre_hook(lambda opt, *_: grads.append(_tensor_bytes(
        p.grad for g in opt.param_groups for p in g["params"])))
    module = engine.forward_module()
    t = time.perf_counter()
    batches = iter(stage.train_batches(0, ctx.rank, ctx.world_size))
    for _ in range(steps):
        step = stage.training_step(module, move_to_device(next(batches), ctx.device))
        engine.micro_step(step.loss)
    seconds = (time.perf_counter() - t) / steps
    params = [getattr(p, "ds_tensor", p) for p in engine.module.parameters()]
    master = [p for g in optimizer.param_groups for p in g["params"]]
    state = [v for s in optimizer.state.values() for v in s.values()]
    report = {
        "rank": rank, "params_mb": _tensor_bytes(params) / MB,
        "grads_mb": max(grads) / MB if grads else 0.0,
        "optim_mb": (_tensor_bytes(state) + (_tensor_bytes(master) if zero else 0)) / MB,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "s_per_step": seconds, "loss": float(step.loss),
    }
    (folder / f"rank{rank}.json").write_text(json.dumps(report))
    torch.distributed.destroy_process_group()


def run_config(world: int, zero: int, args, llm_dir: Path, work: Path) -> list[dict]:
    folder = work / f"z{zero}_w{world}"
    folder.mkdir()
    mp.spawn(measure_rank, args=(world, _free_port(), zero, llm_dir, args.lora, args.steps,
                                 args.batch, folder), nprocs=world, join=True)
    return [json.loads((folder / f"rank{r}.json").read_text()) for r in range(world)]


def main() -> int:
    from hacd_graph.provenance import git_revision

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--hidden", type=int, default=768)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--vocab", type=int, default=16000)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--batch", type=int, default=2, help="clips per rank and step")
    parser.add_argument("--lora", action="store_true", help="LoRA instead of full training")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows, failures = [], []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        llm_params = save_llm(work / "llm", args.hidden, args.layers, args.vocab)
        for zero in (2, 3):
            for world in (1, 2):
                for r in run_config(world, zero, args, work / "llm", work):
                    rows.append({"zero": zero, "world_size": world, **r})
    by = {(r["zero"], r["world_size"], r["rank"]): r for r in rows}
    for zero in (2, 3):
        one, two = by[(zero, 1, 0)], by[(zero, 2, 0)]
        parts = ["grads_mb", "optim_mb"] + (["params_mb"] if zero == 3 else [])
        for part in parts:
            if not two[part] < 0.75 * one[part]:
                failures.append(f"ZeRO-{zero} {part}: 2 ranks hold {two[part]:.1f} MB per "
                                f"rank, 1 rank {one[part]:.1f} MB")
    revision = git_revision(ROOT)
    load = os.getloadavg()
    lines = [f"ZeRO memory per rank, distillation stage, Llama of {llm_params / 1e6:.1f} M "
             f"parameters ({'LoRA' if args.lora else 'full training'}), fp32, CPU/gloo "
             f"(git {revision}, torch {torch.__version__}, {platform.machine()}, "
             f"load {load[0]:.1f}).", "",
             "| ZeRO | ranks | rank | params MB | grads MB | optim MB | peak RSS MB | s/step |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['zero']} | {r['world_size']} | {r['rank']} | {r['params_mb']:.1f} | "
                     f"{r['grads_mb']:.1f} | {r['optim_mb']:.1f} | {r['peak_rss_mb']:.0f} | "
                     f"{r['s_per_step']:.1f} |")
    text = "\n".join(lines) + "\n"
    (args.out / "zero_memory.md").write_text(text)
    (args.out / "zero_memory.json").write_text(json.dumps(
        {"git_revision": revision, "llm_parameters": llm_params, "load_average": load,
         "lora": args.lora, "rows": rows, "failures": failures}, indent=2))
    print(text)
    for f in failures:
        print("FAIL", f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
