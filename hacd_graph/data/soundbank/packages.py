"""Fetching and unpacking the bank's Debian packages with the system's package client.

``apt-get download NAME`` fetches a package's ``.deb`` (no install, no root needed for the
download itself) into a cache folder; ``dpkg-deb -x`` unpacks it. Both steps resume: a
``.deb`` already in the cache is not fetched again (downloads go to a temporary folder
first, so a killed download leaves nothing half-written), and a package whose folder holds
the ``.unpacked`` marker is not unpacked again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

GAME_PACKAGES = (
    "wesnoth-1.16-data", "hedgewars-data", "supertuxkart-data", "minetest-data",
    "supertux-data", "lincity-ng-data", "frozen-bubble-data", "pingus-data", "xmoto-data",
)
INSTRUMENT_PACKAGES = ("freepats", "timgm6mb-soundfont")
PACKAGES = GAME_PACKAGES + INSTRUMENT_PACKAGES
DEFAULT_CACHE = (
    Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hacd_graph" / "debs"
)
MARKER = ".unpacked"


class PackageClientMissing(RuntimeError):
    """The system has no ``apt-get`` / ``dpkg-deb``; the message says so in one line."""


def require_client(download: bool = True) -> None:
    """Raise :class:`PackageClientMissing` when the tools the bank needs are absent."""
    need = ["dpkg-deb"] + (["apt-get"] if download else [])
    missing = [t for t in need if shutil.which(t) is None]
    if missing:
        raise PackageClientMissing(
            f"no Debian package client here ({', '.join(missing)} not found): the sound bank "
            "needs apt-get and dpkg-deb, or .deb files placed in the cache folder (--debs)")


def cached_deb(name: str, cache: Path) -> Path | None:
    """The cached ``.deb`` of package ``name`` (``NAME_VERSION_ARCH.deb``), if any."""
    hits = sorted(cache.glob(f"{name}_*.deb"))
    return hits[-1] if hits else None


def fetch(name: str, cache: str | Path = DEFAULT_CACHE, log=print) -> Path:
    """The ``.deb`` of ``name``, downloaded with ``apt-get download`` unless cached.

    Raises:
        PackageClientMissing: no ``apt-get``.
        RuntimeError: the download failed (names the package and apt's last line).
    """
    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    hit = cached_deb(name, cache)
    if hit is not None:
        return hit
    require_client(download=True)
    log(f"downloading {name} ...")
    with tempfile.TemporaryDirectory(dir=cache, prefix=".download-") as tmp:
        run = subprocess.run(["apt-get", "download", name], cwd=tmp, capture_output=True,
                             text=True)
        debs = list(Path(tmp).glob("*.deb"))
        if run.returncode != 0 or not debs:
            last = (run.stderr.strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"apt-get download {name} failed: {last} "
                               "(run 'apt-get update' first if the package is unknown)")
        target = cache / debs[0].name
        os.replace(debs[0], target)
    return target


def unpack(deb: str | Path, dest: str | Path) -> Path:
    """Unpack ``deb`` into ``dest`` with ``dpkg-deb -x`` (skipped when already done)."""
    dest = Path(dest)
    if (dest / MARKER).exists():
        return dest
    require_client(download=False)
    if dest.exists():
        shutil.rmtree(dest)  # a killed unpack: start it again
    dest.mkdir(parents=True)
    subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], check=True)
    (dest / MARKER).write_text(Path(deb).name + "\n", encoding="utf-8")
    return dest
