"""Fixtures of the eval tests: one whole tiny pipeline run, shared by the whole session."""

from __future__ import annotations

import pytest

from tests.eval.tiny_run import run_tiny


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """(run directory, ``run_pipeline``'s result) of ``experiment=tiny`` through eval."""
    path = tmp_path_factory.mktemp("tiny_run") / "run"
    return path, run_tiny(path)
