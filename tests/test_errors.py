"""hacd_graph.errors: one wrapper turns user errors into one line; bugs keep their traceback."""

from __future__ import annotations

import pytest

from hacd_graph.errors import ConfigError, UserError, fold_lines, run_main


def _raises(error: BaseException):
    def body(argv: list[str]) -> int:
        raise error

    return body


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (UserError("give --out PNG"), "give --out PNG"),
        (ConfigError("trainer.lr='abc': expected a number > 0"),
         "trainer.lr='abc': expected a number > 0"),
        (PermissionError(13, "Permission denied", "run/config.yaml"),
         "run/config.yaml: permission denied (a read-only folder or file?)"),
        (NotADirectoryError(20, "Not a directory", "a_file/run"), "a_file/run: not a directory"),
        (FileNotFoundError("manifest m does not exist"), "manifest m does not exist"),
        (ValueError("two\n    lines"), "two lines"),
    ],
)
def test_user_errors_are_one_line(capsys, error, line):
    assert run_main("prog", _raises(error), []) == 2
    assert capsys.readouterr().err == f"prog: error: {line} (add --debug for the traceback)\n"


def test_debug_and_hydra_full_error_reraise(monkeypatch):
    with pytest.raises(UserError):
        run_main("prog", _raises(UserError("x")), ["--debug"])
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    with pytest.raises(UserError):
        run_main("prog", _raises(UserError("x")), [])


def test_bugs_keep_their_traceback_and_debug_is_not_passed_on(capsys):
    with pytest.raises(TypeError):
        run_main("prog", _raises(TypeError("'<' not supported")), [])
    seen = []
    assert run_main("prog", lambda argv: seen.append(argv) or 0, ["a", "--debug", "b"]) == 0
    assert seen == [["a", "b"]]
    assert run_main("prog", _raises(KeyboardInterrupt()), []) == 130
    assert run_main("prog", _raises(BrokenPipeError(32, "Broken pipe")), []) == 141
    assert capsys.readouterr().err == "prog: interrupted\n"  # a closed pipe says nothing


def test_fold_lines_keeps_hydra_options_and_drops_the_search_path():
    text = ("In 'x': Could not find 'gnn/foo'\n\nAvailable options in 'gnn':\n\tgatv2\n\tgcn\n"
            "Config search path:\n\tprovider=hydra, path=pkg://hydra.conf")
    assert fold_lines(text) == ("In 'x': Could not find 'gnn/foo'; Available options in "
                                "'gnn': gatv2, gcn")


def test_argument_parser_errors_are_one_line(capsys):
    from hacd_graph.errors import ArgumentParser

    parser = ArgumentParser(prog="prog")
    parser.add_subparsers(dest="cmd", required=True).add_parser("run").add_argument(
        "--n", type=int)
    with pytest.raises(SystemExit) as info:
        parser.parse_args(["run", "--n", "x"])
    assert info.value.code == 2
    assert capsys.readouterr().err == ("prog run: error: argument --n: invalid int value: 'x' "
                                       "(see prog run --help)\n")
