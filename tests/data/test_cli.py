import json

from hacd_graph.cli import main


def test_synth_and_shards(tmp_path, capsys):
    out = tmp_path / "d"
    assert (
        main(
            [
                "data",
                "synth",
                "--n",
                "3",
                "--seed",
                "1",
                "--out",
                str(out),
                "--duration",
                "0.5",
                "--workers",
                "1",
                "--quiet",
                "--shards",
                str(tmp_path / "s"),
                "--shard-size",
                "2",
            ]
        )
        == 0
    )
    lines = (out / "manifest.jsonl").read_text().splitlines()
    assert len(lines) == 3 and json.loads(lines[0])["audio"].startswith("audio/")
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == [
        "shard-000000.tar",
        "shard-000001.tar",
    ]
    assert "wrote 3 clips" in capsys.readouterr().out


def test_preview_writes_wav_png_and_texts(tmp_path):
    assert (
        main(
            [
                "data",
                "preview",
                "--out",
                str(tmp_path),
                "--n",
                "1",
                "--preset",
                "jazz_cafe",
                "--duration",
                "1.0",
            ]
        )
        == 0
    )
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"jazz_cafe_s0-00000000.{ext}" for ext in ("json", "png", "txt", "wav")]
    text = (tmp_path / "jazz_cafe_s0-00000000.txt").read_text()
    assert "General category: environmental audio" in text and "Jazz  [hacd:jazz]" in text
    assert (tmp_path / "jazz_cafe_s0-00000000.png").read_bytes()[:4] == b"\x89PNG"


def test_concepts_listing(capsys):
    assert main(["data", "concepts"]) == 0
    out = capsys.readouterr().out
    assert "top-level categories" in out and "Musical instrument" in out


def test_real_dataset_index(tmp_path, meta_dir, capsys, tone_writer):
    import csv

    (tmp_path / "meta").mkdir()
    (tmp_path / "meta" / "esc50.csv").write_text((meta_dir / "esc50" / "esc50.csv").read_text())
    rows = list(csv.DictReader((tmp_path / "meta" / "esc50.csv").open()))
    for r in rows[:3]:
        tone_writer(tmp_path / "audio" / r["filename"])
    out = tmp_path / "esc50.jsonl"
    assert (
        main(
            ["data", "real", "esc50", "--audio", str(tmp_path), "--out", str(out), "--skip-missing"]
        )
        == 0
    )
    lines = out.read_text().splitlines()
    assert len(lines) == 3 and json.loads(lines[0])["labels"]
    assert (
        f"skipped {len(rows) - 3} bad audio files: missing {len(rows) - 3}"
        in capsys.readouterr().out
    )
