"""build_soundbank on a fake package: manifest format, labels, exclusions, duplicates,
segments and resume."""

from __future__ import annotations

import json

import numpy as np
import soundfile as sf

from hacd_graph.data.export import read_manifest
from hacd_graph.data.soundbank import SoundbankConfig, build_soundbank
from hacd_graph.data.soundbank.build import REPORT, segments, trim
from hacd_graph.data.soundbank.summary import bank_table


def _build(tmp_path, fake_debs, ach):
    config = SoundbankConfig(packages=("pingus-data",), max_seconds=10.0, max_segments=3)
    return build_soundbank(tmp_path / "bank", config, debs=fake_debs, ach=ach, log=lambda s: None)


def test_bank_from_fake_package(tmp_path, fake_debs, ach_audioset):
    path = _build(tmp_path, fake_debs, ach_audioset)
    entries = read_manifest(path)
    by_name = {e["original_path"].rsplit("/", 1)[-1]: [] for e in entries}
    for e in entries:
        by_name[e["original_path"].rsplit("/", 1)[-1]].append(e)
    # splash2.wav is byte-identical to splash.wav; ohno.wav is left out by rule.
    assert set(by_name) == {"splash.wav", "tick.wav"}
    assert len(by_name["tick.wav"]) == 2  # 23 s -> two 10 s segments (the rest is < 10 s)
    for e in entries:
        for key in ("audio", "labels", "caption", "description", "qa", "source_package",
                    "licence", "original_path"):
            assert key in e
        assert e["source_package"] == "pingus-data" and e["licence"] == "GPL-3+"
        audio, sr = sf.read(path.parent / e["audio"])
        assert sr == 16000 and audio.ndim == 1
        assert abs(audio.size / sr - e["duration"]) < 1e-3
        concepts = {ach_audioset.index(c) for c in e["labels"]}
        for c in concepts:  # closed under ancestors
            assert ach_audioset.ancestors(c) <= concepts
    splash = by_name["splash.wav"][0]
    assert "/m/07rrlb6" in splash["labels"] and splash["audioset"] == ["/m/07rrlb6"]
    assert "splash" in splash["caption"].lower()
    report = json.loads((path.parent / REPORT).read_text())
    assert report["left_out"]["pingus-data|excluded"] == 1
    assert report["left_out"]["pingus-data|duplicate"] == 1
    table, stats = bank_table(entries)
    assert stats["clips"] == 3 and "Sounds of things" in table


def test_resume_keeps_written_clips(tmp_path, fake_debs, ach_audioset):
    first = _build(tmp_path, fake_debs, ach_audioset).read_text()
    wav = sorted((tmp_path / "bank" / "audio").rglob("*.wav"))[0]
    stamp = wav.stat().st_mtime_ns
    second = _build(tmp_path, fake_debs, ach_audioset).read_text()
    assert first == second
    assert wav.stat().st_mtime_ns == stamp  # not rewritten


def test_trim_and_segments():
    sr = 1000
    x = np.zeros(5000, dtype=np.float32)
    x[1000:3000] = 0.5
    y = trim(x, sr, 50.0)
    assert 1990 <= y.size <= 2010
    assert trim(np.zeros(10, dtype=np.float32), sr, 50.0).size == 0
    cuts = segments(np.ones(35 * sr, dtype=np.float32), sr, SoundbankConfig(max_seconds=10))
    assert [c.size for c in cuts] == [10 * sr] * 3
