"""Lossless round trips of a hierarchy: JSON files and networkx graphs.

JSON layout (``ach.json``)::

    {"format": "hacd_graph.ach", "version": 1, "name": "core",
     "concepts": [{"id": ..., "name": ..., "parents": [...], ...}, ...],
     "redirects": {"old id": ["new id", ...]}}

Concepts are written in index order, so loading gives the same indices.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hacd_graph.ach.concept import Concept
from hacd_graph.ach.hierarchy import ConceptHierarchy
from hacd_graph.ach.validate import HierarchyError

if TYPE_CHECKING:
    import networkx

FORMAT = "hacd_graph.ach"
VERSION = 1
# Concept fields that are tuples of strings (stored as lists, or JSON strings in GraphML).
LIST_FIELDS = ("aliases", "audioset", "restrictions", "alt_ids", "sources")
TEXT_FIELDS = ("name", "description", "facet")


def hierarchy_to_dict(hierarchy: ConceptHierarchy) -> dict[str, Any]:
    """The JSON-ready form of ``hierarchy`` (see the module docstring)."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "name": hierarchy.name,
        "concepts": [c.to_dict() for c in hierarchy.concepts],
        "redirects": {old: list(new) for old, new in hierarchy.redirects.items()},
    }


def hierarchy_from_dict(data: dict[str, Any], source: str = "<dict>") -> ConceptHierarchy:
    """Inverse of :func:`hierarchy_to_dict`.

    Raises:
        HierarchyError: naming ``source`` (and the concept) when the data is malformed.
    """
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise HierarchyError(f"not a saved hierarchy (expected format {FORMAT!r})", None, source)
    if data.get("version") != VERSION:
        raise HierarchyError(f"unsupported version {data.get('version')!r}", None, source)
    concepts = []
    for position, record in enumerate(data.get("concepts", [])):
        try:
            concepts.append(Concept.from_dict(record))
        except (KeyError, TypeError) as error:
            concept = record.get("id") if isinstance(record, dict) else None
            raise HierarchyError(f"entry {position}: {error}", concept, source) from error
    files = {c.id: source for c in concepts}
    return ConceptHierarchy(
        concepts, name=data.get("name", ""), redirects=data.get("redirects"), files=files
    )


def save_hierarchy(hierarchy: ConceptHierarchy, path: str | Path) -> Path:
    """Write ``hierarchy`` as JSON to ``path`` atomically (temp file + ``os.replace``)."""
    path = Path(path)
    write_text_atomic(path, json.dumps(hierarchy_to_dict(hierarchy), indent=1, ensure_ascii=False))
    return path


def load_hierarchy(path: str | Path) -> ConceptHierarchy:
    """Read a hierarchy written by :func:`save_hierarchy`.

    Raises:
        HierarchyError: naming the file when it is not valid JSON or not a saved hierarchy.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise HierarchyError(f"not valid JSON: {error}", None, str(path)) from error
    return hierarchy_from_dict(data, str(path))


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader never sees a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are meant to be shared
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def to_networkx(hierarchy: ConceptHierarchy) -> networkx.DiGraph:
    """A ``networkx.DiGraph`` with parent -> child edges.

    Nodes are concept ids in index order with the concept fields as attributes (lists for
    the list fields) plus ``level``; edges are added child by child in parent order, so
    ``g.predecessors(c)`` lists the parents in their original order. Graph attributes:
    ``name`` and ``redirects``.
    """
    import networkx as nx

    graph = nx.DiGraph(name=hierarchy.name, redirects=hierarchy.redirects)
    levels = hierarchy.levels
    for i, concept in enumerate(hierarchy.concepts):
        attrs = {key: getattr(concept, key) for key in TEXT_FIELDS}
        attrs.update({key: list(getattr(concept, key)) for key in LIST_FIELDS})
        graph.add_node(concept.id, level=levels[i], **attrs)
    for concept in hierarchy.concepts:
        for rank, parent in enumerate(concept.parents):
            graph.add_edge(parent, concept.id, rank=rank)
    return graph


def from_networkx(graph: networkx.DiGraph, name: str | None = None) -> ConceptHierarchy:
    """Build a hierarchy from a DiGraph of parent -> child edges.

    Node attributes named like :class:`Concept` fields are used when present (list fields
    may also be JSON strings, as GraphML stores them); a node without ``name`` is named
    by its id. Parents are ordered by the edge attribute ``rank`` when present, else by
    edge order. Graph attributes ``name`` and ``redirects`` are honoured.
    """
    concepts = []
    for node, attrs in graph.nodes(data=True):
        fields: dict[str, Any] = {"id": str(node), "name": str(attrs.get("name", node))}
        for key in ("description", "facet"):
            if attrs.get(key):
                fields[key] = str(attrs[key])
        for key in LIST_FIELDS:
            if key in attrs:
                fields[key] = _as_tuple(attrs[key])
        incoming = graph.in_edges(node, data="rank", default=0)
        ranked = sorted(enumerate(incoming), key=lambda item: (int(item[1][2]), item[0]))
        fields["parents"] = tuple(str(parent) for _, (parent, _, _) in ranked)
        concepts.append(Concept(**fields))
    redirects = graph.graph.get("redirects")
    if isinstance(redirects, str):
        redirects = json.loads(redirects)
    return ConceptHierarchy(
        concepts,
        name=name if name is not None else graph.graph.get("name", ""),
        redirects=redirects,
    )


def _as_tuple(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        if value.startswith("["):
            return tuple(str(v) for v in json.loads(value))
        return (value,) if value else ()
    return tuple(str(v) for v in value)
