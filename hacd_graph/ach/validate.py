"""Structural checks of a concept graph, with errors that name the concept and its file.

The hierarchy must be a DAG with exactly one root, every concept reachable from it, unique
ids, known parents and no self-loops. :func:`validate_concepts` raises
:class:`HierarchyError` on the first violation it finds, in that order of checks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hacd_graph.ach.concept import Concept


class HierarchyError(ValueError):
    """An invalid hierarchy or hierarchy file.

    Attributes:
        concept: The offending concept id (or ``None`` when the whole file is at fault).
        file: The file the concept came from (or ``None`` when built in memory).
    """

    def __init__(self, message: str, concept: str | None = None, file: str | None = None):
        where = []
        if file is not None:
            where.append(str(file))
        if concept is not None:
            where.append(f"concept {concept!r}")
        super().__init__(f"{': '.join(where)}: {message}" if where else message)
        self.concept = concept
        self.file = file


def validate_concepts(concepts: Sequence[Concept], files: Mapping[str, str] | None = None) -> None:
    """Check that ``concepts`` form a single-rooted DAG.

    Args:
        concepts: The concepts; each lists its parents by id.
        files: Optional map from concept id to the file it was read from, so that errors
            can say where to fix them.

    Raises:
        HierarchyError: naming the first offending concept (and its file): an empty or
            duplicate id, an empty name, a self-loop, a parent listed twice or unknown, no
            root or several roots, a cycle (the message shows it), an unreachable concept.
    """
    files = files or {}

    def fail(message: str, concept: str | None) -> HierarchyError:
        return HierarchyError(message, concept, files.get(concept) if concept else None)

    seen: dict[str, int] = {}
    for position, concept in enumerate(concepts):
        if not isinstance(concept.id, str) or not concept.id.strip():
            raise fail(f"concept number {position} has an empty id", None)
        if concept.id in seen:
            first = files.get(concept.id)
            also = f" (first defined in {first})" if first else ""
            raise fail(f"duplicate id{also}", concept.id)
        seen[concept.id] = position
        if not isinstance(concept.name, str) or not concept.name.strip():
            raise fail("empty name", concept.id)

    for concept in concepts:
        if concept.id in concept.parents:
            raise fail("lists itself as a parent (self-loop)", concept.id)
        if len(set(concept.parents)) != len(concept.parents):
            raise fail(f"lists a parent twice: {list(concept.parents)}", concept.id)
        for parent in concept.parents:
            if parent not in seen:
                raise fail(f"unknown parent {parent!r}", concept.id)

    roots = [c.id for c in concepts if not c.parents]
    if not roots:
        cycle = find_cycle(concepts)
        path = " -> ".join(cycle)
        raise fail(f"no root: every concept has a parent; cycle: {path}", cycle[0])
    if len(roots) > 1:
        shown = ", ".join(f"{r!r} ({files[r]})" if r in files else repr(r) for r in roots[:8])
        raise fail(f"{len(roots)} roots, expected one: {shown}", roots[1])

    cycle = find_cycle(concepts)
    if cycle:
        path = " -> ".join(cycle)
        raise fail(f"is on a cycle: {path}", cycle[0])

    children: dict[str, list[str]] = {c.id: [] for c in concepts}
    for concept in concepts:
        for parent in concept.parents:
            children[parent].append(concept.id)
    reached = {roots[0]}
    stack = [roots[0]]
    while stack:
        for child in children[stack.pop()]:
            if child not in reached:
                reached.add(child)
                stack.append(child)
    for concept in concepts:
        if concept.id not in reached:
            raise fail(f"not reachable from the root {roots[0]!r}", concept.id)


def find_cycle(concepts: Sequence[Concept]) -> list[str]:
    """Return one cycle as a list of ids ``[a, b, ..., a]`` (child to parent), or ``[]``.

    Unknown parents are ignored, so this can run before the other checks.
    """
    parents = {c.id: [p for p in c.parents] for c in concepts}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    for start in parents:
        if start in state:
            continue
        path: list[str] = []
        stack: list[tuple[str, int]] = [(start, 0)]
        while stack:
            node, next_parent = stack.pop()
            if next_parent == 0:
                state[node] = 1
                path.append(node)
            node_parents = parents[node]
            if next_parent < len(node_parents):
                stack.append((node, next_parent + 1))
                parent = node_parents[next_parent]
                if parent not in parents:
                    continue
                if state.get(parent) == 1:
                    return path[path.index(parent) :] + [parent]
                if parent not in state:
                    stack.append((parent, 0))
            else:
                state[node] = 2
                path.pop()
    return []
