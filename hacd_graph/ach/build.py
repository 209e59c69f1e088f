"""``build_ach``: assemble the hierarchy from its sources and apply a variant."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hacd_graph.ach.core import load_core
from hacd_graph.ach.hierarchy import ConceptHierarchy

SOURCES = ("core", "audioset", "file")
VARIANTS = ("full", "flattened", "truncated", "shuffled")
_OPTIONS = ("core_dir", "hierarchy_file", "variant", "max_depth", "seed", "download", "cache_dir")


def build_ach(
    sources: str | Sequence[str] = ("core",),
    audioset_ontology: str | Path | None = None,
    **options: Any,
) -> ConceptHierarchy:
    """Build the Audio Concept Hierarchy.

    Args:
        sources: ``"core"`` (the hierarchy shipped with the project), ``("core",
            "audioset")`` (core with Google's AudioSet ontology merged in: core concepts
            that name an AudioSet MID are unified with it) or ``"file"`` (a user hierarchy
            from ``hierarchy_file``). A comma-separated string is accepted too.
        audioset_ontology: Path of an AudioSet ``ontology.json`` for ``"audioset"``;
            ``None`` (default) uses the structure the package ships (MIDs, names,
            ``child_ids``, restrictions; no descriptions), so nothing is downloaded.
        **options:
            core_dir: a folder of core YAML files replacing the shipped ones.
            hierarchy_file: path of a ``parent,child`` CSV / JSON / GraphML file or a saved
                ACH JSON (for the ``"file"`` source).
            variant: ``"full"`` (default), ``"flattened"``, ``"truncated"`` (needs
                ``max_depth``) or ``"shuffled"`` (uses ``seed``, default 0).
            download: fetch the pinned full AudioSet ontology (with descriptions) instead
                of using the shipped structure when no path is given.
            cache_dir: where the download goes (default ``~/.cache/hacd_graph``).

    Returns:
        The validated hierarchy.

    Raises:
        HierarchyError: a source file is malformed (the message names file and concept).
        ValueError / TypeError: unknown sources, variants or options.
    """
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise TypeError(f"build_ach: unknown option(s) {unknown}; known: {list(_OPTIONS)}")
    if isinstance(sources, str):
        sources = tuple(s.strip() for s in sources.split(",") if s.strip())
    sources = tuple(sources)
    bad = [s for s in sources if s not in SOURCES]
    if bad or not sources:
        raise ValueError(f"build_ach: unknown source(s) {bad or sources}; choose from {SOURCES}")

    if sources == ("file",):
        path = options.get("hierarchy_file")
        if path is None:
            raise ValueError("build_ach: the 'file' source needs hierarchy_file=PATH")
        from hacd_graph.ach.hierarchy_file import from_file

        hierarchy = from_file(path)
    elif "file" in sources:
        raise ValueError("build_ach: 'file' is a source on its own (it replaces core)")
    elif "core" not in sources:
        raise ValueError("build_ach: 'audioset' is merged into 'core'; use ('core', 'audioset')")
    else:
        # Core-only builds are validated once, by ConceptHierarchy (same errors, same files).
        core = load_core(options.get("core_dir"), validate="audioset" in sources)
        if "audioset" in sources:
            from hacd_graph.ach.audioset import load_audioset, resolve_ontology_path
            from hacd_graph.ach.merge import merge_audioset

            path = resolve_ontology_path(
                audioset_ontology,
                download=bool(options.get("download")),
                cache_dir=options.get("cache_dir"),
            )
            audioset = load_audioset(path)
            concepts, files = merge_audioset(core, audioset, audioset_file=str(path))
            hierarchy = ConceptHierarchy(concepts, name="core+audioset", files=files)
        else:
            hierarchy = ConceptHierarchy(core.concepts, name="core", files=core.files)

    return apply_variant(
        hierarchy, options.get("variant") or "full", options.get("max_depth"), options.get("seed")
    )


def apply_variant(
    hierarchy: ConceptHierarchy, variant: str, max_depth: int | None = None, seed: int | None = None
) -> ConceptHierarchy:
    """Return ``hierarchy`` transformed by the named variant (see :data:`VARIANTS`)."""
    if variant == "full":
        return hierarchy
    if variant == "flattened":
        return hierarchy.flattened()
    if variant == "truncated":
        if max_depth is None:
            raise ValueError("variant 'truncated' needs max_depth")
        return hierarchy.truncated(int(max_depth))
    if variant == "shuffled":
        return hierarchy.shuffled(0 if seed is None else int(seed))
    raise ValueError(f"unknown variant {variant!r}; choose from {VARIANTS}")
