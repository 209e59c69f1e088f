"""A user-supplied hierarchy from a file of ``parent,child`` edges.

Accepted formats, chosen by the file extension:

- ``.csv`` / ``.tsv``: one ``parent,child`` row per edge; an optional header row
  ``parent,child[,name]`` (any other header is refused, never read as an edge); blank
  lines and lines starting with ``#`` are skipped; an optional third column gives the
  child's display name (a child named twice must be named the same).
- ``.json``: a saved hierarchy (``ConceptHierarchy.save``), a list of ``[parent, child]``
  pairs, or ``{"edges": [[parent, child], ...], "names": {id: name}}``.
- ``.graphml``: a directed graph with parent -> child edges (node attributes named like
  :class:`~hacd_graph.ach.concept.Concept` fields are used).

The result must be a single-rooted DAG; errors name the file (and the row or concept). A
parent that is never listed as a child (a typo, a missing row) is reported as an unknown
parent with its row, rather than as a second root.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
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
    rows, names, numbers = _read_rows(path)
    return from_edges(rows, names, name=path.stem, file=file,
                      locations=[f"row {n}" for n in numbers])


def from_edges(
    edges: Iterable[tuple[str, str]],
    names: Mapping[str, str] | None = None,
    name: str = "file",
    file: str = "<edges>",
    locations: Sequence[str] | None = None,
) -> ConceptHierarchy:
    """Build a hierarchy from ``(parent, child)`` id pairs.

    Concepts are ordered by first appearance; a concept's name is ``names[id]`` or its id.
    A repeated edge is kept once.

    Args:
        edges: the ``(parent, child)`` pairs.
        names: display names by id.
        name: the hierarchy's name.
        file: where the edges come from, for errors.
        locations: where each edge is in ``file`` (``"row 3"``), for errors (default
            ``"edge N"``).

    Raises:
        HierarchyError: naming ``file`` when there are no edges or the graph is invalid;
            a parent never listed as a child is named with its location.
    """
    names = names or {}
    edges = list(edges)
    locations = list(locations or [f"edge {k}" for k in range(1, len(edges) + 1)])
    parents: dict[str, list[str]] = {}
    for parent, child in edges:
        parents.setdefault(parent, [])
        listed = parents.setdefault(child, [])
        if parent not in listed:
            listed.append(parent)
    if not parents:
        raise HierarchyError("no edges", None, file)
    _check_one_root(parents, edges, locations, file)
    concepts = [
        Concept(id=cid, name=str(names.get(cid, cid)), parents=tuple(p), sources=("file",))
        for cid, p in parents.items()
    ]
    return ConceptHierarchy(concepts, name=name, files={c.id: file for c in concepts})


def _check_one_root(parents: Mapping[str, list[str]], edges: Sequence[tuple[str, str]],
                    locations: Sequence[str], file: str) -> None:
    """Name the cause when the edges have several roots: a header that is not
    ``parent,child`` (the first edge joins nothing else), or parents never listed as a
    child (unknown parents, with their rows)."""
    roots = [c for c, p in parents.items() if not p]
    if len(roots) <= 1:
        return
    children: dict[str, list[str]] = {c: [] for c in parents}
    for child, listed in parents.items():
        for parent in listed:
            children[parent].append(child)

    def below(root: str) -> set[str]:
        seen, stack = {root}, [root]
        while stack:
            for child in children[stack.pop()]:
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        return seen

    reach = {r: below(r) for r in roots}
    main = max(roots, key=lambda r: len(reach[r]))  # first of the largest: the real root
    first_parent, first_child = edges[0]
    if (len(edges) > 1 and first_parent != main and first_parent in roots
            and reach[first_parent] == {first_parent, first_child}
            and parents[first_child] == [first_parent]):
        raise HierarchyError(
            f"{locations[0]} '{first_parent},{first_child}' joins nothing else in the file: "
            "if it is a header it must read 'parent,child[,name]'", None, file)
    where = {}
    for (parent, _), location in zip(edges, locations, strict=True):
        where.setdefault(parent, location)
    unknown = [r for r in roots if r != main]
    shown = ", ".join(f"{r!r} ({where[r]})" for r in unknown[:5])
    more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
    noun = "parent" if len(unknown) == 1 else "parents"
    raise HierarchyError(
        f"unknown {noun} {shown}{more}: never listed as a child, so only {main!r} can be "
        "the root; add a row placing it under a parent, or fix its spelling", None, file)


def _read_rows(path: Path) -> tuple[list[tuple[str, str]], dict[str, str], list[int]]:
    """(edges, names, row number of each edge) of a CSV/TSV hierarchy file."""
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    rows: list[tuple[str, str]] = []
    numbers: list[int] = []
    names: dict[str, str] = {}
    named_at: dict[str, int] = {}
    first = True
    with open(path, encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.reader(handle, delimiter=delimiter), start=1):
            cells = [cell.strip() for cell in row]
            if not cells or not any(cells) or cells[0].startswith("#"):
                continue
            header = [c.lower() for c in cells[:2]]
            if first and header == ["parent", "child"]:
                first = False
                continue
            if first and header == ["child", "parent"]:
                raise HierarchyError(f"row {number}: header 'child,parent' has the columns "
                                     "swapped; the order is parent,child[,name]", None, str(path))
            first = False
            if len(cells) not in (2, 3) or not cells[0] or not cells[1]:
                raise HierarchyError(
                    f"row {number}: expected 'parent,child[,name]', got {row!r}", None, str(path)
                )
            rows.append((cells[0], cells[1]))
            numbers.append(number)
            if len(cells) == 3 and cells[2]:
                child, label = cells[1], cells[2]
                if child in names and names[child] != label:
                    raise HierarchyError(
                        f"row {number}: {child!r} is named {label!r} here but "
                        f"{names[child]!r} in row {named_at[child]}", None, str(path))
                names.setdefault(child, label)
                named_at.setdefault(child, number)
    return rows, names, numbers


def _with_file(build, file: str) -> ConceptHierarchy:
    try:
        return build()
    except HierarchyError as error:
        if error.file is None:
            raise HierarchyError(str(error), error.concept, file) from error
        raise
