"""``hacd-graph describe``: any rate, channel count, length and format; long files in
windows; one JSON object per file; a bad file reported on its own line, the others kept."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile
import torch

from hacd_graph.cli import main
from hacd_graph.eval.describe import teacher_view


@pytest.fixture(scope="module")
def run_dir(tiny_run):
    return tiny_run[0]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("audio")
    rng = np.random.default_rng(0)
    t = np.arange(int(44100 * 0.3)) / 44100
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), 0.5 * rng.standard_normal(len(t))], 1)
    soundfile.write(folder / "short_44k_stereo.flac", stereo.astype(np.float32), 44100)
    soundfile.write(folder / "long_8k.wav", rng.standard_normal(8000 * 3).astype(np.float32)
                    * 0.1, 8000)
    (folder / "broken.wav").write_bytes(b"RIFF0000WAVEnot really audio")
    return folder


def test_json_lines_for_good_files_and_an_error_line_for_a_bad_one(run_dir, files, capsys):
    paths = [files / "short_44k_stereo.flac", files / "broken.wav", files / "long_8k.wav"]
    status = main(["describe", *map(str, paths), "--run", str(run_dir), "--json",
                   "--threshold", "0.05"])
    assert status == 1  # one file failed; the others were described
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["file"] for x in lines] == list(map(str, paths))
    assert "error" in lines[1] and "broken.wav" in lines[1]["error"]
    for good in (lines[0], lines[2]):
        assert isinstance(good["description"], str)
        assert good["concepts"], "a low threshold lists concepts"
        first = good["concepts"][0]
        assert set(first) == {"id", "name", "level", "prob", "audioset"}
        levels = [c["level"] for c in good["concepts"]]
        assert levels == sorted(levels) and min(levels) >= 1  # general to specific
        assert any(c["audioset"] for c in good["concepts"])


def test_text_output_prints_the_description_and_the_tree(run_dir, files, capsys):
    status = main(["describe", str(files / "short_44k_stereo.flac"), "--run", str(run_dir)])
    assert status == 0
    out = capsys.readouterr().out
    assert "short_44k_stereo.flac" in out and "Concepts (probability >= 0.5)" in out
    tree = out.split("Concepts")[1].splitlines()[1:]
    assert any(line.startswith("  ") and line.split()[-1].replace(")", "") for line in tree
               if line)


def test_a_missing_run_is_one_line(files, tmp_path, capsys):
    status = main(["describe", str(files / "long_8k.wav"), "--run", str(tmp_path)])
    assert status == 2
    assert "not a trained run directory" in capsys.readouterr().err


def test_long_files_are_read_in_windows_and_aggregated_by_max():
    calls = []

    def teacher(waveform):
        calls.append(waveform.shape[-1])
        level = float(waveform.abs().max())
        return SimpleNamespace(frames=torch.full((1, 2, 3), level),
                               probs=torch.tensor([[level, 1 - level]]))

    wave = torch.zeros(250)
    wave[40] = 0.9  # in the first window only
    frames, probs = teacher_view(teacher, wave, window=100)
    assert calls == [100, 100, 100]  # starts 0, 100 and 150 (the last ends at the end)
    assert frames.shape == (6, 3)
    torch.testing.assert_close(probs, torch.tensor([0.9, 1.0]))
    calls.clear()
    teacher_view(teacher, wave[:80], window=100)
    assert calls == [80]  # a short file is read whole, not padded
