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


def _synth(out, n, *extra):
    return main(["data", "synth", "--n", str(n), "--out", str(out), "--duration", "0.2",
                 "--workers", "1", "--quiet", *extra])


def test_user_errors_are_one_line(tmp_path, capsys):
    out = tmp_path / "d"
    cases = [
        (["--preset", "nope"], "unknown preset 'nope'"),
        (["--seed", "5"], "holds clips generated with other settings (differs in seed)"),
    ]
    assert _synth(out, 1) == 0
    capsys.readouterr()
    for extra, message in cases:
        assert _synth(out, 1, *extra) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("hacd-graph: error: ") and message in err[0]
    for argv, message in [
        (["data", "shards", "--manifest", str(tmp_path / "nope"), "--out", str(tmp_path / "s")],
         "no manifest.jsonl there"),
        (["data", "real", "clotho", "--meta", str(tmp_path / "nope.csv"), "--audio",
          str(tmp_path), "--out", str(tmp_path / "m.jsonl")], "nope.csv does not exist"),
        (["data", "real", "fsd50k", "--audio", str(tmp_path), "--out", str(tmp_path / "m")],
         "needs --meta"),
    ]:
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err


def test_synth_into_a_bigger_folder_leaves_no_orphans(tmp_path, capsys):
    out = tmp_path / "d"
    assert _synth(out, 4) == 0
    (out / "audio" / "mine.wav").write_bytes(b"not the generator's")
    assert _synth(out, 2) == 0
    manifest = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert sorted(p.name for p in (out / "audio").iterdir()) == sorted(
        ["mine.wav"] + [e["audio"].split("/")[1] for e in manifest])
    assert len(manifest) == 2


def test_real_index_reports_every_kind_of_skip(tmp_path, meta_dir, capsys, bad_files_writer):
    import csv

    (tmp_path / "meta").mkdir()
    (tmp_path / "meta" / "esc50.csv").write_text((meta_dir / "esc50" / "esc50.csv").read_text())
    rows = list(csv.DictReader((tmp_path / "meta" / "esc50.csv").open()))
    bad_files_writer(tmp_path / "audio", [r["filename"] for r in rows[:5]])
    argv = ["data", "real", "esc50", "--audio", str(tmp_path), "--out", str(tmp_path / "m.jsonl")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{rows[1]['filename']}: truncated audio file" in err[0]
    assert main([*argv, "--skip-bad"]) == 0
    out = capsys.readouterr().out
    assert (f"wrote 1 clips to {tmp_path / 'm.jsonl'}; skipped {len(rows) - 1} bad audio files: "
            f"empty 1, missing {len(rows) - 5}, non_finite 1, not_audio 1, truncated 1") in out


def test_bad_numbers_are_refused_in_one_line(tmp_path, capsys):
    import pytest

    for flag, value, message in [("--n", "0", "argument --n: expected an integer >= 1, got 0"),
                                 ("--duration", "-1", "argument --duration: expected a number "
                                                      "> 0, got -1")]:
        argv = ["data", "synth", "--n", "2", "--out", str(tmp_path / "d"), flag, value]
        with pytest.raises(SystemExit) as info:
            main(argv)
        err = capsys.readouterr().err.strip().splitlines()
        assert info.value.code == 2 and len(err) == 1
        assert err[0].startswith("hacd-graph data synth: error: ") and message in err[0]
    assert not (tmp_path / "d").exists()
