"""The package client: one clear line without it; cached .debs are not fetched again."""

from __future__ import annotations

import shutil

import pytest

from hacd_graph.data.soundbank import packages


def test_no_package_client_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(packages.PackageClientMissing) as err:
        packages.fetch("pingus-data", tmp_path)
    assert "\n" not in str(err.value) and "apt-get" in str(err.value)


def test_cli_reports_missing_client(tmp_path, monkeypatch, capsys):
    from hacd_graph.cli import main

    monkeypatch.setattr(shutil, "which", lambda name: None)
    rc = main(["data", "soundbank", "--out", str(tmp_path / "b"), "--debs", str(tmp_path),
               "--packages", "pingus-data"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "no Debian package client" in err[0]


def test_cached_deb_is_used(fake_debs, monkeypatch):
    def no_download(*a, **k):
        raise AssertionError("must not download a cached package")

    monkeypatch.setattr(packages.subprocess, "run", no_download)
    assert packages.fetch("pingus-data", fake_debs).name == "pingus-data_0.0-1_all.deb"


def test_unpack_resumes(fake_debs, tmp_path):
    deb = packages.cached_deb("pingus-data", fake_debs)
    dest = packages.unpack(deb, tmp_path / "u")
    assert (dest / packages.MARKER).exists()
    (dest / "sentinel").write_text("x")
    packages.unpack(deb, dest)  # done already: left alone
    assert (dest / "sentinel").exists()
