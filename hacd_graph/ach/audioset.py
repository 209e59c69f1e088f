"""The ``audioset`` source: Google's AudioSet ontology (``ontology.json``).

The file is a JSON list of ``{id, name, description, citation_uri, positive_examples,
child_ids, restrictions}``. MIDs stay the ids; ``abstract`` and ``blacklist``
restrictions are kept on each concept; a concept listed as a child of several concepts
keeps all of them as parents. The ontology is CC BY-SA 4.0 and is not shipped with the
project: pass a path, or let :func:`download_audioset_ontology` fetch the pinned version.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import urllib.request
from pathlib import Path

from hacd_graph.ach.concept import Concept
from hacd_graph.ach.validate import HierarchyError, validate_concepts

# github.com/audioset/ontology at a fixed commit; the checksum is of that file (342,780 bytes).
ONTOLOGY_URL = (
    "https://raw.githubusercontent.com/audioset/ontology/"
    "1e85b88a094054c66096a18073b76cb71f5b1436/ontology.json"
)
ONTOLOGY_SHA256 = "9c685f4403eecc3ca9be37fd7285cf212feaaea6ff7229d3e7ca89e0d1f2d15d"
RESTRICTIONS = ("abstract", "blacklist")
_FIELDS = ("id", "name", "child_ids")


def load_audioset(path: str | Path) -> list[Concept]:
    """Read an AudioSet ontology file into concepts (parents derived from ``child_ids``).

    The AudioSet roots (concepts nobody lists as a child) come back without parents; the
    merge attaches them to the core hierarchy. Each concept has ``audioset=(mid,)``,
    ``restrictions`` as in the file, ``sources=("audioset",)`` and no facet.

    Args:
        path: The ``ontology.json`` file.

    Returns:
        The concepts in file order.

    Raises:
        HierarchyError: naming the file and the concept: not JSON, not a list of
            objects, a missing field, a duplicate MID, a child id that is not defined, an
            unknown restriction, a self-loop or a cycle.
    """
    path = Path(path)
    file = str(path)
    try:
        with open(path, encoding="utf-8") as handle:
            records = json.load(handle)
    except FileNotFoundError:
        raise HierarchyError("AudioSet ontology file not found", None, file) from None
    except json.JSONDecodeError as error:
        raise HierarchyError(f"not valid JSON: {error}", None, file) from error
    if not isinstance(records, list):
        raise HierarchyError("expected a JSON list of concepts", None, file)

    parents: dict[str, list[str]] = {}
    order: list[dict] = []
    for position, record in enumerate(records):
        if not isinstance(record, dict):
            raise HierarchyError(f"entry {position} is not an object", None, file)
        missing = [key for key in _FIELDS if key not in record]
        if missing:
            raise HierarchyError(
                f"missing field(s) {missing}", record.get("id", f"entry {position}"), file
            )
        mid = record["id"]
        if mid in parents:
            raise HierarchyError("duplicate id", mid, file)
        bad = [r for r in record.get("restrictions", []) if r not in RESTRICTIONS]
        if bad:
            raise HierarchyError(f"unknown restriction(s) {bad}", mid, file)
        parents[mid] = []
        order.append(record)
    for record in order:
        for child in record["child_ids"]:
            if child not in parents:
                raise HierarchyError(f"child id {child!r} is not defined", record["id"], file)
            if child == record["id"]:
                raise HierarchyError("lists itself as a child (self-loop)", child, file)
            if record["id"] not in parents[child]:
                parents[child].append(record["id"])

    concepts = [
        Concept(
            id=record["id"],
            name=record["name"].strip(),
            description=(record.get("description") or "").strip(),
            parents=tuple(parents[record["id"]]),
            audioset=(record["id"],),
            restrictions=tuple(record.get("restrictions", [])),
            sources=("audioset",),
        )
        for record in order
    ]
    # The ontology has several roots; check the rest of the structure under a virtual root.
    virtual = Concept(id="<audioset root>", name="AudioSet")
    rooted = [virtual] + [
        c if c.parents else Concept(id=c.id, name=c.name, parents=(virtual.id,)) for c in concepts
    ]
    validate_concepts(rooted, {c.id: file for c in concepts})
    return concepts


def resolve_ontology_path(
    path: str | Path | None, download: bool = False, cache_dir: str | Path | None = None
) -> Path:
    """Return ``path`` if given, else the cached (or freshly downloaded) pinned ontology.

    Raises:
        FileNotFoundError: no path was given and ``download`` is off.
    """
    if path is not None:
        return Path(path)
    cached = _cache_dir(cache_dir) / "audioset_ontology.json"
    if cached.exists() and _sha256(cached) == ONTOLOGY_SHA256:
        return cached
    if not download:
        raise FileNotFoundError(
            "the 'audioset' source needs audioset_ontology=PATH to Google's ontology.json "
            f"(or download=True to fetch {ONTOLOGY_URL})"
        )
    return download_audioset_ontology(cached)


def download_audioset_ontology(
    dest: str | Path, url: str = ONTOLOGY_URL, sha256: str = ONTOLOGY_SHA256, timeout: float = 60.0
) -> Path:
    """Download the pinned AudioSet ontology to ``dest`` and verify its checksum.

    The file is written to a temporary name and moved into place only once the checksum
    matches, so an interrupted or corrupted download never leaves a file at ``dest``.

    Raises:
        ValueError: the downloaded bytes do not have the expected SHA-256.
        urllib.error.URLError: the network is unreachable.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (pinned https URL)
        payload = response.read()
    digest = hashlib.sha256(payload).hexdigest()
    if digest != sha256:
        raise ValueError(f"checksum mismatch for {url}: got {digest}, expected {sha256}")
    handle, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name, suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(payload)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def _cache_dir(cache_dir: str | Path | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    return Path.home() / ".cache" / "hacd_graph"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
