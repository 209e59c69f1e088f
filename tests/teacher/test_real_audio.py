"""``hacd-graph experiment real-audio`` on a tiny bank, end to end, plus its metrics."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from hacd_graph.errors import UserError
from hacd_graph.eval import experiment
from hacd_graph.teacher.real_audio import evaluate, label_prior, root_metrics

# (package, AudioSet MID, tone Hz, seconds): hedgewars-data trains, supertux-data is held out
CLIPS = [("hedgewars-data", "/m/09x0r", 300.0, 0.7),   # Speech
         ("hedgewars-data", "/m/0ngt1", 80.0, 1.2),    # Thunder
         ("hedgewars-data", "/m/04szw", 440.0, 0.6),   # Musical instrument
         ("supertux-data", "/m/09x0r", 320.0, 0.5),
         ("supertux-data", "/m/04szw", 660.0, 1.5),
         ("supertux-data", "/m/0ngt1", 90.0, 0.8)]


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    experiment.register(parser.add_subparsers())
    return parser.parse_args(["experiment", "real-audio", *argv])


@pytest.fixture(scope="module")
def bank(tmp_path_factory) -> Path:
    """A bank folder with two clips' worth of packages, labels closed under ancestors."""
    from hacd_graph.ach import build_ach
    from hacd_graph.data.soundbank.index import load_bank

    ach = build_ach(("core", "audioset"))
    root = tmp_path_factory.mktemp("bank")
    (root / "audio").mkdir()
    lines = []
    for i, (pkg, mid, freq, seconds) in enumerate(CLIPS):
        t = np.arange(int(seconds * 16000)) / 16000
        sf.write(root / f"audio/{i}.wav", (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32),
                 16000)
        c = ach.index(mid)
        labels = [ach.ids[j] for j in sorted({c} | ach.ancestors(c))]
        lines.append(json.dumps({"id": f"clip{i}", "audio": f"audio/{i}.wav", "labels": labels,
                                 "audioset": [mid], "caption": "A sound.",
                                 "source_package": pkg}))
    (root / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    load_bank.cache_clear()
    return root


@pytest.fixture(scope="module")
def tiny_run(bank, tmp_path_factory) -> tuple[Path, int]:
    out = tmp_path_factory.mktemp("real_audio")
    code = evaluate(parse("--bank", str(bank), "--out", str(out), "--arms",
                          "synthetic,bank,mixed_large", "--seeds", "0", "--train-clips", "8",
                          "--eval-clips", "4", "--seen-clips", "2", "--steps", "2",
                          "experiment=tiny", "trainer.batch_size=2"))  # 3 bank clips
    return out, code


def test_every_arm_is_trained_scored_and_tabulated(tiny_run) -> None:
    out, code = tiny_run
    assert code == 0
    record = json.loads((out / "real_eval.json").read_text())
    assert record["git_revision"] and record["held_out"] == ["supertux-data", "supertuxkart-data"]
    assert record["train_packages"] == ["hedgewars-data"]
    assert record["num_clips"] == {"held_out": 3, "seen": 2}
    assert set(record["results"]) == {"synthetic", "bank", "mixed_large", "prior", "random"}
    for column, per_set in record["results"].items():
        runs = per_set["held_out"]
        assert len(runs) == (20 if column == "random" else 1)
        assert 0 <= runs[0]["top_level/balanced_accuracy"] <= 1
        assert 0 <= runs[0]["mAP_macro"] <= 1
    # the large arm composes teacher=cnn_large (the tiny preset then shrinks its widths)
    saved = json.loads((out / "mixed_large" / "seed0" / "metrics.json").read_text())
    assert saved["train"]["examples"] > 0
    bank_clips = (out / "data" / "train_bank" / "manifest.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in bank_clips] == ["clip0", "clip1", "clip2"]
    for arm in ("synthetic", "bank", "mixed_large"):
        probs = np.load(out / arm / "seed0" / "probs_held_out.npz")
        assert probs["probs"].shape[0] == 3 and list(probs["ids"]) == ["clip3", "clip4", "clip5"]
    md = (out / "real_eval.md").read_text()
    assert "| metric | synthetic | bank | mixed_large | prior | random |" in md
    assert "| top_level/balanced_accuracy |" in md and "| seen mAP_macro |" in md
    assert "| training loss (last log window) |" in md
    assert "an oracle that reads the test labels" in md
    assert "mixed_large,held_out/mAP_macro" in (out / "real_eval.csv").read_text()


def test_a_second_call_trains_and_scores_nothing(tiny_run, bank) -> None:
    out, _ = tiny_run
    weights = out / "synthetic" / "seed0" / "model.pt"
    scores = out / "synthetic" / "seed0" / "probs_held_out.npz"
    before = weights.stat().st_mtime_ns, scores.stat().st_mtime_ns
    assert evaluate(parse("--bank", str(bank), "--out", str(out), "--arms", "synthetic",
                          "--seeds", "0", "--train-clips", "8", "--eval-clips", "4",
                          "--seen-clips", "2", "--steps", "2", "experiment=tiny",
                          "trainer.batch_size=2")) == 0
    assert (weights.stat().st_mtime_ns, scores.stat().st_mtime_ns) == before


def test_bad_arguments_are_one_line_errors(bank, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown arm.*nope"):
        evaluate(parse("--bank", str(bank), "--out", str(tmp_path), "--arms", "mixed,nope"))
    with pytest.raises(UserError, match="no manifest.jsonl"):
        evaluate(parse("--bank", str(tmp_path), "--out", str(tmp_path / "o")))
    with pytest.raises(UserError, match="none of the held-out packages"):
        evaluate(parse("--bank", str(bank), "--out", str(tmp_path / "o"),
                       "data.bank_held_out=[pingus-data]"))
    with pytest.raises(UserError, match="none of the training packages"):
        evaluate(parse("--bank", str(bank), "--out", str(tmp_path / "o"),
                       "data.bank_packages=[pingus-data]"))
    with pytest.raises(UserError, match="give --seeds"):
        evaluate(parse("--bank", str(bank), "--out", str(tmp_path / "o"), "trainer.seed=4"))
    with pytest.raises(UserError, match="both trained on and held out"):
        evaluate(parse("--bank", str(bank), "--out", str(tmp_path / "o"),
                       "data.bank_held_out=[hedgewars-data]"))


def test_root_metrics_by_hand() -> None:
    # roots 0 and 1 are sound sources, root 2 is not; four clips
    targets = np.array([[1, 0, 0], [1, 0, 1], [0, 1, 0], [1, 1, 0]], dtype=float)
    probs = np.array([[0.9, 0.1, 0.5], [0.8, 0.3, 0.9], [0.7, 0.2, 0.1], [0.1, 0.6, 0.2]])
    m = root_metrics(probs, targets, roots=[0, 1, 2], source_roots=[0, 1])
    # answers: root 0, 0, 0, 1 -> hits 1, 1, 0, 1
    assert m["top_level/accuracy"] == pytest.approx(0.75)
    # root 0's clips (0, 1, 3) all hit; root 1's clips (2, 3): one of two
    assert m["top_level/balanced_accuracy"] == pytest.approx((1.0 + 0.5) / 2)
    assert m["top_level/clips"] == 4
    assert m["root_AP/2"] == pytest.approx(1.0)  # the one positive scored highest
    assert m["top_level/mAP"] == pytest.approx(np.mean([m["root_AP/0"], m["root_AP/1"]]))
    constant = root_metrics(np.tile([0.2, 0.9, 0.0], (4, 1)), targets, [0, 1, 2], [0, 1])
    assert constant["top_level/balanced_accuracy"] == pytest.approx((1 / 3 + 1.0) / 2)
    assert math.isnan(root_metrics(probs, targets[:, [0, 0, 0]] * 0, [0], [0])["root_AP/0"])


def test_label_prior_is_each_concepts_frequency(bank) -> None:
    from hacd_graph.ach import build_ach

    ach = build_ach(("core", "audioset"))
    prior = label_prior(bank, ach)
    assert prior[ach.index("/m/09x0r")] == pytest.approx(2 / 6)
    assert prior[ach.index("/m/04rlf")] == pytest.approx(2 / 6)  # Music, via instrument
    assert prior.max() <= 1 and prior.min() >= 0


def test_scores_that_are_not_probabilities_exit_1(bank, tiny_run, monkeypatch, capsys) -> None:
    from hacd_graph.teacher import real_audio

    out, _ = tiny_run
    for npz in out.glob("synthetic/seed0/probs_*.npz"):  # scored again by the broken model
        npz.unlink()
    monkeypatch.setattr(real_audio, "predict", lambda model, waves, window:
                        np.full((len(waves), len(model.ancestors)), 1.5, dtype=np.float32))
    assert evaluate(parse("--bank", str(bank), "--out", str(out), "--arms", "synthetic",
                          "--seeds", "0", "--train-clips", "8", "--eval-clips", "4",
                          "--seen-clips", "2", "--steps", "2", "experiment=tiny",
                          "trainer.batch_size=2")) == 1
    assert "WRONG RESULT: synthetic seed 0: scores outside [0, 1]" in capsys.readouterr().err


def test_baselines_and_the_majority_oracle_by_hand() -> None:
    from hacd_graph.ach import build_ach
    from hacd_graph.teacher.real_audio import baselines, majority_oracle

    roots = np.array([[1, 0], [1, 0], [0, 1], [1, 1], [0, 0]], dtype=float)
    assert majority_oracle(roots) == (0, pytest.approx(3 / 4))  # the clip without a root skipped
    ach = build_ach(("core", "audioset"))
    targets = np.zeros((4, len(ach)))
    music, human = ach.index("/m/04rlf"), ach.index("/m/0dgw9r")
    targets[:3, music] = 1
    targets[3, human] = 1
    prior = np.zeros(len(ach))
    prior[music], prior[human] = 0.3, 0.9  # the training data's majority root: Human sounds
    out = baselines(prior, targets, ach, [music, human], [music, human], draws=3)
    assert len(out["prior"]) == 1 and len(out["random"]) == 3
    # constant scores: every clip answers Human sounds, right only for the one human clip
    assert out["prior"][0]["top_level/accuracy"] == pytest.approx(1 / 4)
    assert out["prior"][0]["top_level/balanced_accuracy"] == pytest.approx((0 + 1) / 2)
    assert out["random"][0] != out["random"][1]  # independent draws
