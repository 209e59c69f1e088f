import json

from hacd_graph.cli import build_parser, main


def test_bad_settings_are_one_line(meta_dir, tmp_path, capsys):
    for item, message in [("width=3", "--set 'width=3': expected KEY=VALUE with KEY one of"),
                          ("hidden_size=abc", "--set 'hidden_size=abc': expected an integer"),
                          ("lr=fast", "--set 'lr=fast': expected a number")]:
        assert main(["llm", "build-default", "--meta", str(meta_dir), "--set", item]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0]
    assert main(["llm", "sample", "--build", str(tmp_path / "nope")]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_llm_group_is_registered():
    args = build_parser().parse_args(["llm", "build-default", "--meta", "m", "--steps", "2"])
    assert args.steps == 2 and args.concepts and callable(args.func)


def test_build_default_then_sample(tmp_path, meta_dir, capsys):
    argv = ["llm", "build-default", "--meta", str(meta_dir), "--cache", str(tmp_path),
            "--steps", "2", "--caption-limit", "300", "--generated", "0", "--no-concepts",
            "--set", "hidden_size=32", "--set", "num_layers=1", "--set", "vocab_size=300",
            "--set", "intermediate_size=64", "--set", "lr=0.01", "--set", "sample_tokens=4"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    summary = json.loads(out[out.index("{\n"):])
    assert summary["layers"] == 1 and summary["hidden_size"] == 32
    assert main(["llm", "sample", "--build", summary["path"], "--prompt", "A dog", "--n", "2",
                 "--max-new-tokens", "5"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("A dog") for line in lines)
