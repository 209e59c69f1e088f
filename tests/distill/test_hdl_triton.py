"""The Triton backend: its kernel against the reference in the interpreter
(``hdl_triton_cases.py``, run in a subprocess with ``TRITON_INTERPRET=1``), compiled for
sm_90 without a GPU, and against the reference on a GPU (marked ``gpu``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hacd_graph.distill import hdl_triton
from tests.distill.conftest import DTYPES, check_against_reference, make_logits

REPO_ROOT = Path(__file__).resolve().parents[2]
CASES = Path(__file__).with_name("hdl_triton_cases.py")


def _run_cases_in_interpreter(marker: str) -> None:
    """Run ``hdl_triton_cases.py`` with Triton's interpreter; fail with its report."""
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    command = [sys.executable, "-m", "pytest", str(CASES.relative_to(REPO_ROOT)), "-q",
               "-p", "no:cacheprovider", "-m", marker]
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                            timeout=1800)
    report = (result.stdout + result.stderr)[-6000:]
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{report}"
    assert " passed" in report and " skipped" not in report, report


@pytest.mark.triton
def test_triton_kernel_matches_reference_in_interpreter():
    _run_cases_in_interpreter("not slow")


@pytest.mark.slow
@pytest.mark.triton
def test_triton_kernel_matches_reference_in_interpreter_large():
    _run_cases_in_interpreter("slow")


_TRITON_TYPES = {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}


@pytest.mark.triton
@pytest.mark.parametrize("dtype,loss_mode,grad_out,config", [
    (torch.float32, hdl_triton.LOSS_PER_ROW, False, hdl_triton.DEFAULT_CONFIG),
    (torch.bfloat16, hdl_triton.LOSS_SKIP, True,
     hdl_triton.TritonLaunchConfig(rows=1, block_c=1024, block_e=1024, num_warps=8)),
])
def test_triton_kernel_compiles_for_hopper(dtype, loss_mode, grad_out, config):
    """The kernel goes through Triton's whole GPU pipeline to an sm_90 cubin (no GPU needed)."""
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource, compile

    kernel = hdl_triton._hdl_chain_kernel
    if not hasattr(kernel, "warmup"):  # an InterpretedFunction: TRITON_INTERPRET=1 is set
        pytest.skip("the kernel was imported for Triton's interpreter")
    element = _TRITON_TYPES[dtype]
    signature = {
        "student_ptr": f"*{element}", "teacher_ptr": f"*{element}", "weights_ptr": "*fp32",
        "grad_out_ptr": "*fp32", "loss_ptr": "*fp32", "grad_ptr": f"*{element}",
        "work_ptr": "*fp32", "order_ptr": "*i32", "position_ptr": "*i32", "base_ptr": "*i32",
        "segment_start_ptr": "*i8", "residual_ptr": "*i32", "residual_count_ptr": "*i32",
        "level_start_ptr": "*i32", "rdesc_c_ptr": "*i32", "rdesc_a_ptr": "*i32",
        "rdesc_start_ptr": "*i8", "has_rdesc_ptr": "*i8", "slot_ptr": "*i32", "B": "i32",
        "N": "i32", "num_levels": "i32", "num_rdesc": "i32", "num_slots": "i32",
        "inv_t": "fp32", "t_sq": "fp32", "grad_scale": "fp32",
    }
    constants = {"HAS_WEIGHTS": True, "HAS_GRAD_OUT": grad_out, "LOSS_MODE": loss_mode,
                 "COMPUTE_GRAD": True, "ROWS": config.rows, "BLOCK_C": config.block_c,
                 "BLOCK_E": config.block_e}
    signature.update(dict.fromkeys(constants, "constexpr"))
    compiled = compile(ASTSource(kernel, signature, constants), target=GPUTarget("cuda", 90, 32),
                       options={"num_warps": config.num_warps})
    assert ".target sm_90" in compiled.asm["ptx"] and len(compiled.asm["cubin"]) > 0
    assert "atom." not in compiled.asm["ptx"]  # the chain sums need no atomics


@pytest.mark.triton
def test_triton_default_config_depends_on_the_number_of_concepts():
    assert hdl_triton.default_config(hdl_triton.LARGE_N) == hdl_triton.LARGE_N_CONFIG
    assert hdl_triton.default_config(4099) == hdl_triton.DEFAULT_CONFIG


needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("num_concepts,width", [(1, 1), (7, 3), (1000, 12), (4099, 16),
                                                (100_000, 16)])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["batchmean", "none"])
def test_triton_on_gpu_matches_reference(dag_table, num_concepts, width, dtype, reduction):
    ancestors = dag_table(num_concepts, width).cuda()
    student, teacher = make_logits(2 if num_concepts > 10_000 else 9, num_concepts, dtype,
                                   device="cuda")
    check_against_reference("triton", student, teacher, ancestors, torch.rand(
        num_concepts, device="cuda"), 1.7, reduction)
