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


def _build(tmp_path, fake_debs, ach, rules=None):
    config = SoundbankConfig(packages=("pingus-data",), max_seconds=10.0, max_segments=3)
    return build_soundbank(tmp_path / "bank", config, debs=fake_debs, ach=ach, rules=rules,
                           log=lambda s: None)


def test_bank_from_fake_package(tmp_path, fake_debs, ach_audioset):
    path = _build(tmp_path, fake_debs, ach_audioset)
    entries = read_manifest(path)
    by_name = {e["original_path"].rsplit("/", 1)[-1]: [] for e in entries}
    for e in entries:
        by_name[e["original_path"].rsplit("/", 1)[-1]].append(e)
    # chink2.wav is byte-identical to chink.wav; ohno.wav is left out by rule.
    assert set(by_name) == {"chink.wav", "tick.wav"}
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
    chink = by_name["chink.wav"][0]
    assert "/m/07q7njn" in chink["labels"] and chink["audioset"] == ["/m/07q7njn"]
    assert "clink" in chink["caption"].lower()  # the ACH names the concept
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


def test_resume_follows_changed_rules(tmp_path, fake_debs, ach_audioset):
    """A rule changed after a build (tick left out) takes its clips out on the next run."""
    from importlib import resources

    from hacd_graph.data.soundbank.rules import RuleTable

    _build(tmp_path, fake_debs, ach_audioset)
    text = resources.files("hacd_graph.data.soundbank").joinpath("rules.csv").read_text()
    changed = tmp_path / "rules.csv"
    changed.write_text(text.replace("pingus-data,*/tick*,/m/07qjznt", "pingus-data,*/tick*,-"))
    path = _build(tmp_path, fake_debs, ach_audioset, RuleTable(rules_path=changed))
    names = {e["original_path"].rsplit("/", 1)[-1] for e in read_manifest(path)}
    assert names == {"chink.wav"}
    ledger = (path.parent / "bank_ledger.jsonl").read_text()
    assert "tick.wav" not in ledger


def test_trim_and_segments():
    sr = 1000
    x = np.zeros(5000, dtype=np.float32)
    x[1000:3000] = 0.5
    y = trim(x, sr, 50.0)
    assert 1990 <= y.size <= 2010
    assert trim(np.zeros(10, dtype=np.float32), sr, 50.0).size == 0
    cuts = segments(np.ones(35 * sr, dtype=np.float32), sr, SoundbankConfig(max_seconds=10))
    assert [c.size for c in cuts] == [10 * sr] * 3
