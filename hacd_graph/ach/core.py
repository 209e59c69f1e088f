"""The ``core`` source: the hierarchy the project authors, shipped as YAML in the package.

The files live in ``hacd_graph/ach/resources/core/`` (one file per facet, read in name
order); ``00_root.yaml`` describes the format. :func:`load_core` reads and checks them and
returns plain :class:`~hacd_graph.ach.concept.Concept` records.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hacd_graph.ach.concept import Concept
from hacd_graph.ach.validate import HierarchyError, validate_concepts

CORE_DIR = Path(__file__).resolve().parent / "resources" / "core"
CORE_ID = re.compile(r"^hacd:[a-z0-9]+(?:_[a-z0-9]+)*$")
AUDIOSET_MID = re.compile(r"^/[a-z]/[0-9a-z_]+$")
FACETS = (
    "root",
    "sound_source",
    "acoustic_property",
    "musical_attribute",
    "acoustic_scene",
    "human_activity",
)
_REQUIRED = ("id", "name", "parents", "description")
_OPTIONAL = ("aliases", "audioset")

# Every value in the core files is a string (or a list / mapping of strings), so the
# base loader (no implicit int / bool / date typing) reads them exactly; libyaml's C
# version is about twice as fast as the C safe loader and ten times the pure-Python one.
_Loader = getattr(yaml, "CBaseLoader", yaml.BaseLoader)


@dataclass(frozen=True)
class CoreSource:
    """The parsed core hierarchy.

    Attributes:
        concepts: All concepts, in file order.
        files: Concept id -> the file that defines it (for error messages).
        audioset_attach: AudioSet root MID (or ``"default"``) -> the core concept that
            AudioSet roots without a core counterpart are attached under when merged.
    """

    concepts: list[Concept]
    files: dict[str, str]
    audioset_attach: dict[str, str] = field(default_factory=dict)


def load_core(directory: str | Path | None = None, validate: bool = True) -> CoreSource:
    """Read the core hierarchy from the YAML files of ``directory``.

    Args:
        directory: A folder of ``*.yaml`` files in the core format; defaults to the one
            shipped in the package.
        validate: Also check the graph structure (single root, acyclic, ...).

    Returns:
        The concepts with their files and the AudioSet attachment table.

    Raises:
        HierarchyError: naming the file (and concept) of any malformed entry: a missing or
            unknown key, a badly formed id or MID, a duplicate name or MID, or a structural
            violation found by :func:`~hacd_graph.ach.validate.validate_concepts`.
    """
    directory = Path(directory) if directory is not None else CORE_DIR
    paths = sorted(directory.glob("*.yaml"))
    if not paths:
        raise HierarchyError(f"no core hierarchy files (*.yaml) in {directory}")
    concepts: list[Concept] = []
    files: dict[str, str] = {}
    attach: dict[str, str] = {}
    names: dict[str, str] = {}
    mids: dict[str, str] = {}
    for path in paths:
        document = _read_yaml(path)
        facet = document.get("facet")
        if facet not in FACETS:
            raise HierarchyError(
                f"facet must be one of {list(FACETS)}, got {facet!r}", None, str(path)
            )
        entries = document.get("concepts")
        if not isinstance(entries, list):
            raise HierarchyError("'concepts' must be a list", None, str(path))
        for key, value in (document.get("audioset_attach") or {}).items():
            attach[str(key)] = str(value)
        for position, entry in enumerate(entries):
            concept = _parse_entry(entry, facet, path, position)
            if concept.id in files:
                raise HierarchyError(
                    f"duplicate id (first defined in {files[concept.id]})", concept.id, str(path)
                )
            files[concept.id] = str(path)
            folded = concept.name.casefold()
            if folded in names:
                raise HierarchyError(
                    f"name {concept.name!r} already used by {names[folded]!r}",
                    concept.id,
                    str(path),
                )
            names[folded] = concept.id
            for mid in concept.audioset:
                if mid in mids:
                    raise HierarchyError(
                        f"AudioSet MID {mid} already claimed by {mids[mid]!r}",
                        concept.id,
                        str(path),
                    )
                mids[mid] = concept.id
            concepts.append(concept)
    for key, target in attach.items():
        if target not in files:
            raise HierarchyError(f"audioset_attach[{key!r}] names unknown concept {target!r}")
    if validate:
        validate_concepts(concepts, files)
    return CoreSource(concepts, files, attach)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            document = yaml.load(handle, Loader=_Loader)
    except yaml.YAMLError as error:
        raise HierarchyError(f"not valid YAML: {error}", None, str(path)) from error
    if not isinstance(document, dict):
        raise HierarchyError("expected a mapping with 'facet' and 'concepts'", None, str(path))
    return document


def _parse_entry(entry: Any, facet: str, path: Path, position: int) -> Concept:
    if not isinstance(entry, dict):
        raise HierarchyError(f"entry {position} is not a mapping", None, str(path))
    concept_id = entry.get("id")
    label = concept_id if isinstance(concept_id, str) else f"entry {position}"

    def fail(message: str) -> HierarchyError:
        return HierarchyError(message, label, str(path))

    missing = [key for key in _REQUIRED if key not in entry]
    if missing:
        raise fail(f"missing key(s) {missing}")
    unknown = sorted(set(entry) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise fail(f"unknown key(s) {unknown}; allowed: {list(_REQUIRED + _OPTIONAL)}")
    if not isinstance(concept_id, str) or not CORE_ID.match(concept_id):
        raise fail("id must look like 'hacd:snake_case_name'")
    if not isinstance(entry["name"], str) or not entry["name"].strip():
        raise fail("name must be a non-empty string")
    if not isinstance(entry["description"], str) or not entry["description"].strip():
        raise fail("description must be a non-empty string")
    lists = {}
    for key in ("parents", "aliases", "audioset"):
        value = entry.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise fail(f"{key} must be a list of strings")
        lists[key] = tuple(value)
    for mid in lists["audioset"]:
        if not AUDIOSET_MID.match(mid):
            raise fail(f"{mid!r} is not an AudioSet MID (like '/m/0bt9lr')")
    return Concept(
        id=concept_id,
        name=entry["name"].strip(),
        description=entry["description"].strip(),
        facet=facet,
        parents=lists["parents"],
        aliases=lists["aliases"],
        audioset=lists["audioset"],
        sources=("core",),
    )
