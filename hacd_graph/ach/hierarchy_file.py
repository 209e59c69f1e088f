"""A user-supplied hierarchy from a file of ``parent,child`` edges.

Accepted formats, chosen by the file extension:

- ``.csv`` / ``.tsv``: one ``parent,child`` row per edge; an optional header row
  ``parent,child``; blank lines and lines starting with ``#`` are skipped; an optional
  third column gives the child's display name.
- ``.json``: a saved hierarchy (``ConceptHierarchy.save``), a list of ``[parent, child]``
  pairs, or ``{"edges": [[parent, child], ...], "names": {id: name}}``.
- ``.graphml``: a directed graph with parent -> child edges (node attributes named like
  :class:`~hacd_graph.ach.concept.Concept` fields are used).

The result must be a single-rooted DAG; errors name the file (and the row or concept).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from hacd_graph.ach.concept import Concept
from hacd_graph.ach.hierarchy import ConceptHierarchy
from hacd_graph.ach.validate import HierarchyError

FORMATS = (".csv", ".tsv", ".json", ".graphml")


def from_file(path: str | Path) -> ConceptHierarchy:
    """Read a user hierarchy (see the module docstring for the formats).

    Raises:
        HierarchyError: naming the file (and row or concept): unreadable, unknown format,
            malformed rows, no edges, several roots, cycles, self-loops.
    """
    path = Path(path)
    file = str(path)
    if not path.exists():
        raise HierarchyError("hierarchy file not found", None, file)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise HierarchyError(
            f"unknown hierarchy format {suffix!r}; use one of {FORMATS}", None, file
        )
    if suffix == ".graphml":
        import networkx as nx

        from hacd_graph.ach.serialize import from_networkx

        try:
            graph = nx.read_graphml(path)
        except Exception as error:  # networkx raises several parser-specific types
            raise HierarchyError(f"not valid GraphML: {error}", None, file) from error
        if not graph.is_directed():
            raise HierarchyError("GraphML graph must be directed (parent -> child)", None, file)
        return _with_file(lambda: from_networkx(graph, name=path.stem), file)
    if suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise HierarchyError(f"not valid JSON: {error}", None, file) from error
        if isinstance(data, dict) and "format" in data:
            from hacd_graph.ach.serialize import hierarchy_from_dict

            return hierarchy_from_dict(data, file)
        if isinstance(data, dict):
            edges, names = data.get("edges"), data.get("names", {})
        else:
            edges, names = data, {}
        if not isinstance(edges, list):
            raise HierarchyError("expected a list of [parent, child] pairs", None, file)
        rows = []
        for number, pair in enumerate(edges, start=1):
            if not (isinstance(pair, list | tuple) and len(pair) == 2):
                raise HierarchyError(
                    f"edge {number} is not a [parent, child] pair: {pair!r}", None, file
                )
            rows.append((str(pair[0]), str(pair[1])))
        return from_edges(rows, names=names, name=path.stem, file=file)
    return from_edges(*_read_rows(path), name=path.stem, file=file)


def from_edges(
    edges: Iterable[tuple[str, str]],
    names: Mapping[str, str] | None = None,
    name: str = "file",
    file: str = "<edges>",
) -> ConceptHierarchy:
    """Build a hierarchy from ``(parent, child)`` id pairs.

    Concepts are ordered by first appearance; a concept's name is ``names[id]`` or its id.
    A repeated edge is kept once.

    Raises:
        HierarchyError: naming ``file`` when there are no edges or the graph is invalid.
    """
    names = names or {}
    parents: dict[str, list[str]] = {}
    for parent, child in edges:
        parents.setdefault(parent, [])
        listed = parents.setdefault(child, [])
        if parent not in listed:
            listed.append(parent)
    if not parents:
        raise HierarchyError("no edges", None, file)
    concepts = [
        Concept(id=cid, name=str(names.get(cid, cid)), parents=tuple(p), sources=("file",))
        for cid, p in parents.items()
    ]
    return ConceptHierarchy(concepts, name=name, files={c.id: file for c in concepts})


def _read_rows(path: Path) -> tuple[list[tuple[str, str]], dict[str, str]]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    rows: list[tuple[str, str]] = []
    names: dict[str, str] = {}
    with open(path, encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.reader(handle, delimiter=delimiter), start=1):
            cells = [cell.strip() for cell in row]
            if not cells or not any(cells) or cells[0].startswith("#"):
                continue
            if number == 1 and [c.lower() for c in cells[:2]] == ["parent", "child"]:
                continue
            if len(cells) not in (2, 3) or not cells[0] or not cells[1]:
                raise HierarchyError(
                    f"row {number}: expected 'parent,child[,name]', got {row!r}", None, str(path)
                )
            rows.append((cells[0], cells[1]))
            if len(cells) == 3 and cells[2]:
                names[cells[1]] = cells[2]
    return rows, names


def _with_file(build, file: str) -> ConceptHierarchy:
    try:
        return build()
    except HierarchyError as error:
        if error.file is None:
            raise HierarchyError(str(error), error.concept, file) from error
        raise
