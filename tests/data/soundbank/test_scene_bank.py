"""Scenes with bank recordings as foreground events: labels from the bank, the split by
package respected, the procedural part unchanged, records round-trip."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from hacd_graph.data.soundbank.index import load_bank
from hacd_graph.data.synth.record import SceneRecord
from hacd_graph.data.synth.scene import SceneConfig, generate
from hacd_graph.data.synthetic import make_example


@pytest.fixture
def tiny_bank(tmp_path, ach_audioset):
    """Two packages: a 'thunder' clip in pkg-a and a 'moo' clip in pkg-b."""
    root = tmp_path / "bank"
    lines = []
    for pkg, mid, freq in (("pkg-a", "/m/0ngt1", 80.0), ("pkg-b", "/m/07rpkh9", 200.0)):
        rel = f"audio/{pkg}.wav"
        (root / "audio").mkdir(parents=True, exist_ok=True)
        t = np.arange(8000) / 16000
        sf.write(root / rel, (0.4 * np.sin(2 * np.pi * freq * t)).astype(np.float32), 16000)
        c = ach_audioset.index(mid)
        labels = [ach_audioset.ids[i] for i in sorted({c} | ach_audioset.ancestors(c))]
        lines.append(json.dumps({"id": pkg, "audio": rel, "labels": labels, "audioset": [mid],
                                 "caption": f"The sound of {pkg}.", "source_package": pkg}))
    (root / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    load_bank.cache_clear()
    return root


def test_bank_events_join_the_scene(tiny_bank, ach_audioset):
    cfg = SceneConfig(duration_s=1.0, bank=str(tiny_bank), bank_packages=("pkg-a",),
                      bank_prob=1.0, bank_max_events=2)
    plain_audio, plain = generate(4, 2, SceneConfig(duration_s=1.0))
    ex = make_example(4, 2, ach_audioset, cfg)
    assert ex.record.bank_events and {e.package for e in ex.record.bank_events} == {"pkg-a"}
    assert ex.record.components == plain.components  # the procedural part is unchanged
    assert not np.allclose(ex.audio, plain_audio)
    assert "/m/0ngt1" in ex.labels and "/m/07rpkh9" not in ex.labels
    assert "pkg-a" in ex.texts["caption"] and "Recorded elements" in ex.texts["description"]
    for e in ex.record.bank_events:
        assert 0.0 <= e.start_s < e.end_s <= 1.0
    assert SceneRecord.from_dict(json.loads(json.dumps(ex.record.to_dict()))) == ex.record


def test_no_bank_no_events_and_bad_split(tiny_bank):
    _, rec = generate(4, 2, SceneConfig(duration_s=1.0))
    assert rec.bank_events == []
    with pytest.raises(ValueError, match="no clip of packages"):
        generate(4, 2, SceneConfig(duration_s=1.0, bank=str(tiny_bank),
                                   bank_packages=("nope",), bank_prob=1.0))


def test_synth_command_takes_a_bank(tiny_bank, tmp_path):
    from hacd_graph.cli import main
    from hacd_graph.data.export import read_manifest

    out = tmp_path / "synth"
    rc = main(["data", "synth", "--n", "2", "--out", str(out), "--duration", "0.5",
               "--bank", str(tiny_bank), "--bank-packages", "pkg-b", "--bank-prob", "1",
               "--workers", "1", "--quiet"])
    assert rc == 0
    for e in read_manifest(out):  # the command labels over the core ACH: moo is hacd:moo
        assert {b["package"] for b in e["record"]["bank_events"]} == {"pkg-b"}
        assert "hacd:moo" in e["labels"]


def test_balanced_draws_weigh_rules_equally(tmp_path):
    root = tmp_path / "b"
    root.mkdir()
    rows = [{"id": f"c{i}", "audio": "x.wav", "labels": [], "source_package": "p",
             "rule": 1 if i < 3 else 2} for i in range(4)]
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    load_bank.cache_clear()
    assert load_bank(str(root)).weights == ()
    w = load_bank(str(root), (), True).weights
    assert np.allclose(w, [1 / 6, 1 / 6, 1 / 6, 1 / 2])


def test_folders_without_a_bank_record_no_bank_settings(tmp_path):
    """Data folders made before the bank existed keep resuming: no bank keys recorded."""
    from hacd_graph.data.export import write_synthetic

    write_synthetic(tmp_path / "s", 1, seed=0, config=SceneConfig(duration_s=0.5),
                    progress=False)
    settings = json.loads((tmp_path / "s" / "synth_settings.json").read_text())
    assert not any(k.startswith("bank") for k in settings["config"])
