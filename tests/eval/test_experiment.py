"""``hacd-graph experiment ablations`` with a fake runner (no training), plus one real grid."""

from __future__ import annotations

import argparse
import csv
import json
import math
import threading
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from hacd_graph.errors import UserError
from hacd_graph.eval import experiment
from hacd_graph.eval.experiment import (
    CELLS,
    ablations,
    compose,
    plan_grid,
    seed_overrides,
    table_keys,
)

HYDRA = threading.Lock()


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    experiment.register(parser.add_subparsers())
    return parser.parse_args(["experiment", "ablations", *argv])


def _value(args: list[str], key: str) -> str | None:
    return next((a.split("=", 1)[1] for a in args if a.split("=", 1)[0].lstrip("+") == key),
                None)


class FakeRunner:
    """Writes what train.py would (records, a teacher, ``eval/metrics.json``) instantly.

    Metrics: ``classification/mAP_macro`` = 0.5 + 0.1 x seed (+ 0.2 for ``bridge=mlp``);
    level 3 has no positive (NaN mAP)."""

    def __init__(self, fail: tuple[str, int] | None = None, drop: str | None = None):
        self.calls: list[list[str]] = []
        self.teacher_found: dict[str, bool] = {}
        self.had_eval: dict[str, bool] = {}
        self.fail, self.drop = fail, drop

    def __call__(self, args: list[str], run_dir: Path, env: dict[str, str]) -> int:
        assert int(env["OMP_NUM_THREADS"]) >= 1
        self.calls.append(args)
        assert _value(args, "run.dir") == str(run_dir)
        records = run_dir / "records"
        records.mkdir(parents=True, exist_ok=True)
        with HYDRA:  # Hydra's compose is not thread-safe (the fake runs in --jobs threads)
            config = OmegaConf.to_yaml(compose(args), resolve=True)
        (run_dir / "config.yaml").write_text(config)
        if _value(args, "run.stages") == "[data]":
            for split in ("train", "eval"):
                (run_dir / "data" / split).mkdir(parents=True, exist_ok=True)
                (run_dir / "data" / split / "manifest.jsonl").write_text("{}\n")
            (records / "data.json").write_text(json.dumps({"status": "complete"}))
            return 0
        seed = int(_value(args, "trainer.seed"))
        cell = run_dir.parent.name
        self.teacher_found[f"{cell}/{seed}"] = (records / "teacher.json").is_file()
        self.had_eval[f"{cell}/{seed}"] = (run_dir / "eval").exists()
        (run_dir / "ach.json").write_text("{}")
        (run_dir / "teacher").mkdir(exist_ok=True)
        for stage in ("ach", "data", "teacher"):
            (records / f"{stage}.json").write_text(json.dumps({"status": "complete"}))
        if self.fail == (cell, seed):
            (run_dir / "console.log").write_text("Traceback ...\ntrain.py: error: boom\n\n")
            return 1
        bonus = 0.2 if "bridge=mlp" in args else 0.0
        metrics = {key: 0.25 for key in experiment.REQUIRED}
        metrics.update({"classification/mAP_macro": 0.5 + 0.1 * seed + bonus,
                        "classification/level1/mAP": 0.4, "classification/level2/mAP": 0.3,
                        "classification/level3/mAP": math.nan,
                        "classification/level1/F1": 0.6, "classification/level2/F1": 0.2,
                        "description/level1/F1": 0.7, "description/level2/F1": 0.1,
                        "aqa/level/specific/accuracy": 0.1, "aqa/level/general/accuracy": 0.9,
                        "aqa/level0/accuracy": 0.5})
        metrics.pop(self.drop, None)
        (run_dir / "eval").mkdir(exist_ok=True)
        (run_dir / "eval" / "metrics.json").write_text(json.dumps({"metrics": metrics}))
        (records / "eval.json").write_text(json.dumps({"status": "complete"}))
        return 0


def test_grid_overrides_and_teacher_groups(tmp_path: Path) -> None:
    runs = plan_grid(tmp_path, list(CELLS), [0, 1], ["experiment=tiny"])
    assert [(r.cell, r.seed) for r in runs] == [(c, s) for c in CELLS for s in (0, 1)]
    has_finetune = compose(["experiment=tiny"]).get("finetune") is not None
    for run in runs:
        assert run.dir == tmp_path / run.cell / f"seed{run.seed}"
        assert run.overrides[-len(seed_overrides(0, has_finetune)):] == seed_overrides(
            run.seed, has_finetune)
    by = {(r.cell, r.seed): r for r in runs}
    assert by["ach_shuffled", 1].overrides[:2] == ["ach.variant=shuffled", "++ach.seed=1"]
    # the bridge cells share the method's teacher at each seed; nothing else does
    for seed in (0, 1):
        assert by["hacd", seed].teacher_key == by["mlp", seed].teacher_key \
            == by["no_probs", seed].teacher_key == by["hacd_textnorm", seed].teacher_key
    groups = {r.teacher_key for r in runs}
    assert len(groups) == 2 * (len(CELLS) - 3)
    assert by["hacd", 0].teacher_key != by["hacd", 1].teacher_key


def test_seed_and_cell_overrides_compose() -> None:
    cfg = compose(["experiment=tiny", *CELLS["ach_truncated"], *seed_overrides(7, True)])
    assert cfg.trainer.seed == 7 and cfg.distill.trainer.seed == 7
    assert cfg.finetune.trainer.seed == 7
    assert cfg.ach.variant == "truncated" and cfg.ach.max_depth == 3


def test_unknown_cell_and_bad_out_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown cell.*nope"):
        plan_grid(tmp_path, ["hacd", "nope"], [0], [])
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="is a file"):
        ablations(parse("--out", str(tmp_path / "file")), runner=FakeRunner())
    with pytest.raises(UserError, match="--render: no"):
        ablations(parse("--out", str(tmp_path / "empty"), "--render"), runner=FakeRunner())
    with pytest.raises(UserError, match="expected integers"):
        ablations(parse("--out", str(tmp_path / "x"), "--seeds", "0", "one"), runner=FakeRunner())
    with pytest.raises(UserError, match="run.dir is set"):
        ablations(parse("--out", str(tmp_path / "x"), "run.dir=/tmp/y"), runner=FakeRunner())


def test_grid_reuses_data_and_teachers_then_skips_finished_runs(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture
                                                                ) -> None:
    out = tmp_path / "grid"
    fake = FakeRunner()
    args = parse("--out", str(out), "--cells", "hacd,mlp,flat", "--seeds", "0", "1")
    assert ablations(args, runner=fake) == 0
    data_call, *runs = fake.calls
    assert _value(data_call, "run.stages") == "[data]" and len(runs) == 6
    assert {_value(c, "data.root") for c in runs} == {str(out / "data" / "data")}
    # teacher owners run first; the mlp runs start from hacd's finished teacher
    assert [_value(c, "run.dir").split("/")[-2] for c in runs[:4]] == ["hacd"] * 2 + ["flat"] * 2
    assert fake.teacher_found == {"hacd/0": False, "hacd/1": False, "flat/0": False,
                                  "flat/1": False, "mlp/0": True, "mlp/1": True}
    assert not any(fake.had_eval.values())  # a copied teacher brings nothing later
    first = json.loads((out / "ablations.json").read_text())
    assert all(r["seconds"] is not None for r in first["runs"])
    capsys.readouterr()

    again = FakeRunner()
    assert ablations(args, runner=again) == 0
    assert again.calls == []  # every run finished and the data exist: no process started
    assert "finished earlier, skipped" in capsys.readouterr().out
    second = json.loads((out / "ablations.json").read_text())
    assert [r["seconds"] for r in second["runs"]] == [r["seconds"] for r in first["runs"]]

    # other settings: train.py is started for every run (it skips or refuses, not this)
    changed = FakeRunner()
    args = parse("--out", str(out), "--cells", "hacd,mlp,flat", "--seeds", "0", "1",
                 "distill.lm_weight=0.5")
    assert ablations(args, runner=changed) == 0
    assert _value(changed.calls[0], "run.stages") == "[data]" and len(changed.calls) == 7


def test_jobs_run_in_parallel_with_a_share_of_the_cores(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(experiment.os, "cpu_count", lambda: 8)
    threads: list[str] = []

    class Recording(FakeRunner):
        def __call__(self, args: list[str], run_dir: Path, env: dict[str, str]) -> int:
            threads.append(env["OMP_NUM_THREADS"])
            return super().__call__(args, run_dir, env)

    fake = Recording()
    args = parse("--out", str(tmp_path / "g"), "--cells", "hacd,no_probs", "--seeds", "0", "1",
                 "--jobs", "2")
    assert ablations(args, runner=fake) == 0
    assert set(threads) == {"4"} and len(fake.calls) == 5
    assert fake.teacher_found["no_probs/0"] and fake.teacher_found["no_probs/1"]


def test_tables_hold_mean_std_and_every_seed(tmp_path: Path) -> None:
    out = tmp_path / "grid"
    args = parse("--out", str(out), "--cells", "hacd,mlp", "--seeds", "0", "1", "2",
                 "experiment=tiny")
    assert ablations(args, runner=FakeRunner()) == 0
    md = (out / "ablations.md").read_text()
    assert "| metric | hacd | mlp |" in md
    assert "| classification/mAP_macro | 0.600 ± 0.100 (3) | 0.800 ± 0.100 (3) |" in md
    assert "experiment=tiny" in md and "git " in md
    # the two deepest levels with a positive (level 3 has none), AQA general before specific
    assert "classification/level1/F1" in md and "classification/level2/F1" in md
    assert "level3" not in md and "level0" not in md
    assert md.index("aqa/level/general") < md.index("aqa/level/specific")
    assert "aqa/level0" not in md  # AQA by level name only
    assert "++distill.trainer.seed=S" in md
    rows = list(csv.DictReader((out / "ablations.csv").open()))
    row = next(r for r in rows if r["cell"] == "mlp" and r["metric"] == "classification/mAP_macro")
    assert float(row["mean"]) == pytest.approx(0.8) and float(row["std"]) == pytest.approx(0.1)
    assert row["n"] == "3" and [float(v) for v in row["values"].split(";")] == pytest.approx(
        [0.7, 0.8, 0.9])
    saved = json.loads((out / "ablations.json").read_text())
    assert saved["cells"] == {"hacd": [], "mlp": ["bridge=mlp"]}
    assert saved["common_overrides"] == ["experiment=tiny"]
    assert "git_revision" in saved and len(saved["runs"]) == 6
    mlp2 = next(r for r in saved["runs"] if r["cell"] == "mlp" and r["seed"] == 2)
    assert "trainer.seed=2" in mlp2["overrides"]
    assert mlp2["metrics"]["classification/mAP_macro"] == pytest.approx(0.9)


def test_a_later_command_extends_the_saved_grid(tmp_path: Path) -> None:
    """Seeds or cells run later join the table; the earlier runs keep their metrics even
    when their folders are gone (a grid completed on another machine)."""
    out = tmp_path / "grid"
    assert ablations(parse("--out", str(out), "--cells", "hacd,mlp", "--seeds", "0", "1"),
                     runner=FakeRunner()) == 0
    for seed in (0, 1):  # the earlier runs' folders are gone; their record stays
        for path in sorted((out / "mlp" / f"seed{seed}").rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
    assert ablations(parse("--out", str(out), "--cells", "mlp", "--seeds", "2"),
                     runner=FakeRunner()) == 0
    saved = json.loads((out / "ablations.json").read_text())
    assert sorted((r["cell"], r["seed"]) for r in saved["runs"]) == [
        ("hacd", 0), ("hacd", 1), ("mlp", 0), ("mlp", 1), ("mlp", 2)]
    assert saved["seeds"] == [0, 1, 2] and list(saved["cells"]) == ["hacd", "mlp"]
    assert len(saved["earlier_commands"]) == 1 and "--seeds 0 1" in saved["earlier_commands"][0]
    md = (out / "ablations.md").read_text()
    assert "| classification/mAP_macro | 0.550 ± 0.071 (2) | 0.800 ± 0.100 (3) |" in md
    assert "earlier: `hacd-graph experiment ablations" in md
    assert f"at or before {saved['git_revision']} (4 runs)" in md  # the fake writes none
    # runs with other common overrides cannot share the table: it starts afresh
    assert ablations(parse("--out", str(out), "--cells", "mlp", "--seeds", "3",
                           "distill.lm_weight=0.5"), runner=FakeRunner()) == 0
    saved = json.loads((out / "ablations.json").read_text())
    assert [(r["cell"], r["seed"]) for r in saved["runs"]] == [("mlp", 3)]
    assert "earlier_commands" in saved and not saved["earlier_commands"]


def test_render_rewrites_tables_without_running(tmp_path: Path) -> None:
    out = tmp_path / "grid"
    assert ablations(parse("--out", str(out), "--cells", "hacd", "--seeds", "0", "1"),
                     runner=FakeRunner()) == 0
    (out / "ablations.md").unlink()
    metrics = out / "hacd" / "seed1" / "eval" / "metrics.json"
    data = json.loads(metrics.read_text())
    data["metrics"]["classification/mAP_macro"] = 0.9  # a re-evaluated run
    metrics.write_text(json.dumps(data))

    def no_runs(*_: object) -> int:
        raise AssertionError("--render started a run")

    assert ablations(parse("--out", str(out), "--render"), runner=no_runs) == 0
    assert "| classification/mAP_macro | 0.700 ± 0.283 (2) |" in (out / "ablations.md").read_text()


def test_render_from_runs_tabulates_a_partial_grid(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "grid"
    assert ablations(parse("--out", str(out), "--cells", "hacd", "--seeds", "0", "1"),
                     runner=FakeRunner()) == 0

    def no_runs(*_: object) -> int:
        raise AssertionError("--render started a run")

    args = parse("--out", str(out), "--render", "--from-runs", "--cells", "hacd,mlp",
                 "--seeds", "0", "1")
    assert ablations(args, runner=no_runs) == 1  # mlp never ran: the grid is incomplete
    assert f"run mlp seed 0 has not finished ({out / 'mlp' / 'seed0'})" in \
        capsys.readouterr().err
    table = (out / "ablations.md").read_text()
    assert "| classification/mAP_macro | 0.550 ± 0.071 (2) | n/a |" in table
    saved = json.loads((out / "ablations.json").read_text())
    assert [r["status"] for r in saved["runs"]] == ["finished", "finished", "missing",
                                                   "missing"]


def test_failed_run_or_missing_metric_exits_nonzero(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    args = parse("--out", str(tmp_path / "a"), "--cells", "hacd,mlp", "--seeds", "0", "1")
    assert ablations(args, runner=FakeRunner(fail=("mlp", 1))) == 1
    err = capsys.readouterr().err
    where = tmp_path / "a" / "mlp" / "seed1"
    assert (f"run mlp seed 1 failed; see {where}/train.log and console.log: train.py: error: "
            "boom") in err
    saved = json.loads((tmp_path / "a" / "ablations.json").read_text())
    assert [r["status"] for r in saved["runs"]] == ["ran", "ran", "ran", "failed"]
    assert "| classification/mAP_macro | 0.550 ± 0.071 (2) | 0.700 (1) |" in \
        (tmp_path / "a" / "ablations.md").read_text()

    args = parse("--out", str(tmp_path / "b"), "--cells", "hacd", "--seeds", "0")
    assert ablations(args, runner=FakeRunner(drop="caption/CIDEr")) == 1
    assert "run hacd seed 0 reports no caption/CIDEr" in capsys.readouterr().err


def test_dry_run_prints_commands_only(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = parse("--out", str(tmp_path / "g"), "--cells", "hacd,no_probs", "--seeds", "3",
                 "--dry-run")
    assert ablations(args, runner=FakeRunner(fail=("hacd", 3))) == 0
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 3 and not (tmp_path / "g").exists()
    assert "run.stages=[data]" in printed[0]
    assert printed[2].endswith(f"# teacher from {tmp_path / 'g' / 'hacd' / 'seed3'}")
    assert "bridge.teacher_probs=false trainer.seed=3" in printed[2]


def test_table_keys_are_the_two_deepest_levels_with_a_positive() -> None:
    keys = table_keys([{"classification/level4/mAP": 0.1, "classification/level5/mAP": 0.2,
                        "classification/level6/mAP": math.nan}])
    assert "classification/level5/F1" in keys and "description/level4/F1" in keys
    assert "classification/level6/F1" not in keys


@pytest.mark.slow
def test_real_grid_two_cells_two_seeds(tmp_path: Path) -> None:
    """train.py end to end (experiment=tiny): hacd and mlp at seeds 0 and 1."""
    args = parse("--out", str(tmp_path / "g"), "--cells", "hacd,mlp", "--seeds", "0", "1",
                 "experiment=tiny")
    assert ablations(args) == 0
    saved = json.loads((tmp_path / "g" / "ablations.json").read_text())
    assert all(r["status"] == "ran" and r["metrics"] for r in saved["runs"])
    log = (tmp_path / "g" / "mlp" / "seed0" / "train.log").read_text()
    assert "teacher: skipped" in log
    assert ablations(args) == 0  # resumable: nothing runs again
