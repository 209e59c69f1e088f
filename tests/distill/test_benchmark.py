"""The HDL benchmark at toy size: correctness columns, ratios, files, and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from hacd_graph.distill.benchmark import (
    BenchRow,
    HDLBenchConfig,
    floors,
    format_table,
    run_case,
    write_results,
)
from hacd_graph.distill.hdl import BACKENDS, HDLBackend
from hacd_graph.distill.hdl_reference import hdl_sparse


def test_run_case_checks_times_and_compares(tmp_path):
    config = HDLBenchConfig(backends=("torch", "sparse", "cpu", "cuda"), repeats=2, warmup=0,
                            compile_cases="none", out_dir=tmp_path)
    rows = run_case(config, (8, 50, 4), cpu_memory_ok=False, compiled={})
    by_name = {row.backend: row for row in rows}
    assert by_name["torch"].speedup_vs_eager == 1.0
    for name in ("torch", "sparse", "cpu"):  # the eager reference is checked too
        row = by_name[name]
        assert row.correct is True and row.loss_error < 1e-5 and row.grad_error <= 1.0
    for name in ("sparse", "cpu"):
        row = by_name[name]
        assert row.full_ms > 0 and row.forward_ms > 0 and row.backward_ms >= 0
        assert row.speedup_vs_eager is not None and row.speedup_vs_best_pure is not None
    assert by_name["cpu"].flat_table_ms > 0 and by_name["sparse"].flat_table_ms is None
    assert by_name["cuda"].full_ms is None and "cuda" in by_name["cuda"].note
    table = format_table(rows)
    assert all(name in table for name in ("torch", "sparse", "cpu", "cuda"))
    paths = write_results(rows, {"machine": {}}, tmp_path)
    assert all(path.stat().st_size > 0 for path in paths)
    saved = json.loads(paths[1].read_text())
    assert [r["backend"] for r in saved["rows"]] == ["torch", "sparse", "cpu", "cuda"]


def test_eager_is_skipped_where_its_gather_would_not_fit(tmp_path):
    config = HDLBenchConfig(backends=("torch", "compile", "sparse"), repeats=1, warmup=0,
                            eager_limit_gb=1e-6, out_dir=tmp_path)
    rows = run_case(config, (4, 30, 4), cpu_memory_ok=False, compiled={})
    assert rows[0].full_ms is None and "gather needs" in rows[0].note
    assert rows[1].full_ms is None and rows[2].full_ms is not None
    assert rows[2].correct is True  # against float64, not against itself


def test_floors_use_three_passes_over_the_logits():
    rows = [BenchRow(4, 10, 2, "cpu", full_ms=1.0)]
    floor = floors((4, 10, 2), torch.float32, 10.0, rows)
    assert floor["bytes"] == 3 * 4 * 10 * 4
    assert floor["cpu_x_bandwidth_floor"] == 1.0 / floor["bandwidth_floor_ms"]


def test_cli_command_parses_and_runs_in_process(tmp_path, capsys):
    from hacd_graph.cli import main

    status = main(["bench", "hdl", "--batch", "9", "--concepts", "30", "--width", "3",
                   "--backends", "sparse", "cpu", "--repeats", "1", "--warmup", "0",
                   "--no-memory", "--device", "cpu", "--out", str(tmp_path)])
    assert status == 0
    assert "memory: not measured" in capsys.readouterr().out
    assert (tmp_path / "hdl_bench.png").stat().st_size > 0


@pytest.mark.slow
def test_cli_runs_and_writes_files(tmp_path):
    """In a subprocess: the memory accounting tunes malloc for the whole process."""
    out = subprocess.run(
        [sys.executable, "-m", "hacd_graph.cli", "bench", "hdl", "--batch", "8", "--concepts",
         "40", "--width", "4", "--backends", "torch", "cpu", "--compile", "none", "--repeats",
         "1", "--warmup", "0", "--device", "cpu", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "floors B=8" in out.stdout and "machine:" in out.stdout
    for name in ("hdl_bench.csv", "hdl_bench.json", "hdl_bench.png"):
        assert (tmp_path / name).stat().st_size > 0
    saved = json.loads((tmp_path / "hdl_bench.json").read_text())
    assert saved["rows"][1]["peak_mib"] is not None and saved["meta"]["machine"]["torch"]


def _wrong_loss(student, teacher, ancestors, weights, temperature, reduction):
    """A backend that is fast and 1 % wrong: the benchmark must refuse to rank it."""
    return hdl_sparse(student, teacher, ancestors, weights, temperature, reduction) * 1.01


@pytest.fixture
def wrong_backend(monkeypatch):
    monkeypatch.setitem(BACKENDS, "wrong",
                        HDLBackend("wrong", __name__, "_wrong_loss", ("cpu",)))


def test_a_wrong_backend_gets_no_speedup_and_fails_the_command(tmp_path, capsys,
                                                               wrong_backend):
    from hacd_graph.cli import main

    config = HDLBenchConfig(backends=("sparse", "wrong"), repeats=1, warmup=0,
                            compile_cases="none", out_dir=tmp_path)
    rows = run_case(config, (6, 40, 4), cpu_memory_ok=False, compiled={})
    assert rows[0].correct is True and rows[0].speedup_vs_best_pure == 1.0
    assert rows[1].correct is False and rows[1].speedup_vs_best_pure is None
    assert "WRONG" in format_table(rows)
    status = main(["bench", "hdl", "--batch", "6", "--concepts", "40", "--width", "4",
                   "--backends", "sparse", "wrong", "--repeats", "1", "--warmup", "0",
                   "--no-memory", "--device", "cpu", "--out", str(tmp_path)])
    assert status == 1
    assert "WRONG: wrong at B=6 N=40 K=4 disagrees with float64" in capsys.readouterr().out
    saved = json.loads((tmp_path / "hdl_bench.json").read_text())
    assert saved["meta"]["correct"] is False
    for key in ("git", "git_commit", "torch", "triton", "cuda", "driver", "device"):
        assert key in saved["meta"]["machine"], key
