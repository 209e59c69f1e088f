"""A training folder of the bank's own clips: fitted to one length, labels kept, the split
by package respected, a complete folder left alone."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from hacd_graph.data.soundbank.subset import write_bank_clips


@pytest.fixture
def bank(tmp_path):
    root = tmp_path / "bank"
    (root / "audio").mkdir(parents=True)
    lines = []
    for i, (pkg, seconds) in enumerate((("a", 0.25), ("a", 1.5), ("b", 0.5))):
        t = np.arange(int(seconds * 16000)) / 16000
        sf.write(root / f"audio/{i}.wav", (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32),
                 16000)
        lines.append(json.dumps({"id": f"c{i}", "audio": f"audio/{i}.wav", "labels": [f"L{i}"],
                                 "source_package": pkg, "caption": "x"}))
    (root / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    return root


def test_clips_of_the_packages_fitted_to_one_length(bank, tmp_path):
    out = write_bank_clips(bank, ["a"], tmp_path / "train", duration_s=0.5, seed=1)
    entries = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert [e["id"] for e in entries] == ["c0", "c1"]
    assert [e["labels"] for e in entries] == [["L0"], ["L1"]]
    assert entries[0]["bank_audio"] == "audio/0.wav" and entries[0]["source_package"] == "a"
    short, long = (sf.read(out / e["audio"])[0] for e in entries)
    assert short.size == long.size == 8000
    assert np.count_nonzero(short) <= 4000 + 1  # 0.25 s of sound, the rest digital silence
    assert np.count_nonzero(np.abs(long) > 0.05) > 6000  # a span of the 1.5-s tone


def test_a_complete_folder_is_left_alone_and_no_clip_is_an_error(bank, tmp_path):
    out = write_bank_clips(bank, ["a"], tmp_path / "train", duration_s=0.5)
    before = (out / "manifest.jsonl").stat().st_mtime_ns
    write_bank_clips(bank, ["a"], out, duration_s=0.5)
    assert (out / "manifest.jsonl").stat().st_mtime_ns == before
    write_bank_clips(bank, ["a", "b"], out, duration_s=0.5)  # other clips: written again
    assert len((out / "manifest.jsonl").read_text().splitlines()) == 3
    with pytest.raises(ValueError, match="no clip of packages"):
        write_bank_clips(bank, ["zzz"], tmp_path / "none", duration_s=0.5)
