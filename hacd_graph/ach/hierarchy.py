"""The :class:`ConceptHierarchy`: an immutable, indexed DAG of audio concepts.

Concepts are numbered in a stable topological order (parents before children; the input
order wherever the edges allow it), so concept 0 is the root. Levels are shortest-path
distances from the root: the root is level 0, and every concept at level ``l > 0`` has at
least one parent at level ``l - 1`` (its other parents may sit higher or at any level).
"""

from __future__ import annotations

import difflib
import heapq
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hacd_graph.ach.concept import Concept
from hacd_graph.ach.validate import validate_concepts

if TYPE_CHECKING:  # heavy imports stay out of ``import hacd_graph.ach`` (the CLI starts fast)
    import networkx
    import torch
    import torch_geometric.data

ConceptRef = int | str


class ConceptHierarchy:
    """The Audio Concept Hierarchy (ACH).

    Args:
        concepts: The concepts; each names its parents by id. They are validated
            (one root, acyclic, all reachable, unique ids, no self-loops) and renumbered in
            a stable topological order.
        name: A short label for the hierarchy (``"core"``, ``"core+audioset"``, ...).
        redirects: Ids that no longer exist in this hierarchy mapped to the ids that stand
            for them now (used by variants such as :meth:`truncated`, so that labels of the
            full hierarchy can still be mapped).
        files: Optional concept id -> file map, for error messages.

    Shapes:
        N concepts; K = :attr:`max_ancestors` + 1 columns of the ancestor table.
    """

    def __init__(
        self,
        concepts: Iterable[Concept],
        name: str = "",
        redirects: Mapping[str, Sequence[str]] | None = None,
        files: Mapping[str, str] | None = None,
    ) -> None:
        given = list(concepts)
        validate_concepts(given, files)
        self._concepts: tuple[Concept, ...] = tuple(_topological(given))
        self.name = name
        self._ids = [c.id for c in self._concepts]
        self._index = {cid: i for i, cid in enumerate(self._ids)}
        self._parents = [tuple(self._index[p] for p in c.parents) for c in self._concepts]
        children: list[list[int]] = [[] for _ in self._concepts]
        for child, parents in enumerate(self._parents):
            for parent in parents:
                children[parent].append(child)
        self._children = [tuple(c) for c in children]
        self._levels = _shortest_levels(self._children)
        self._alt_index: dict[str, int] = {}
        for i, concept in enumerate(self._concepts):
            for alt in concept.alt_ids:
                self._alt_index.setdefault(alt, i)
        self._redirects = {
            old: tuple(new) for old, new in (redirects or {}).items() if old not in self._index
        }
        for old, new in self._redirects.items():
            for target in new:
                if target not in self._index:
                    raise ValueError(f"redirect {old!r} -> {target!r}: unknown concept {target!r}")
        self._ancestor_sets: list[frozenset[int]] | None = None
        self._ancestor_table: torch.Tensor | None = None
        self._lookup: dict[str, list[int]] | None = None

    # ------------------------------------------------------------------ basic access
    def __len__(self) -> int:
        return len(self._concepts)

    def __repr__(self) -> str:
        return (
            f"ConceptHierarchy({self.name or 'unnamed'!r}, concepts={len(self)}, "
            f"depth={self.depth}, edges={self.num_edges})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ConceptHierarchy):
            return NotImplemented
        return self._concepts == other._concepts and self._redirects == other._redirects

    __hash__ = None  # type: ignore[assignment]

    @property
    def concepts(self) -> tuple[Concept, ...]:
        """All concepts in index order."""
        return self._concepts

    @property
    def ids(self) -> list[str]:
        """Stable string ids in index order (AudioSet concepts keep their MID)."""
        return list(self._ids)

    @property
    def names(self) -> list[str]:
        """Concept names in index order."""
        return [c.name for c in self._concepts]

    @property
    def facets(self) -> list[str]:
        """The facet of each concept in index order."""
        return [c.facet for c in self._concepts]

    @property
    def redirects(self) -> dict[str, tuple[str, ...]]:
        """Ids merged away by a variant -> the ids that stand for them now."""
        return dict(self._redirects)

    @property
    def root(self) -> int:
        """Index of the root concept (always 0)."""
        return 0

    @property
    def num_edges(self) -> int:
        """Number of parent -> child edges."""
        return sum(len(p) for p in self._parents)

    def concept(self, ref: ConceptRef) -> Concept:
        """The :class:`Concept` at an index, id or name."""
        return self._concepts[self._as_index(ref)]

    def find(self, id_or_name: str) -> list[int]:
        """All indices a reference could mean; ``[]`` when it means nothing (never raises).

        In order of precedence: an id, an alternative id, a redirected id (all its
        targets), then names and aliases matched case-insensitively (possibly several).
        """
        if id_or_name in self._index:
            return [self._index[id_or_name]]
        if id_or_name in self._alt_index:
            return [self._alt_index[id_or_name]]
        if id_or_name in self._redirects:
            return [self._index[t] for t in self._redirects[id_or_name]]
        return list(self._name_lookup().get(id_or_name.casefold(), []))

    def index(self, id_or_name: str) -> int:
        """Index of a concept given its id, an alternative id, its name or an alias.

        Ids win over names; names and aliases match case-insensitively. A redirected id
        (see :meth:`truncated`) resolves when it stands for exactly one concept.

        Raises:
            KeyError: unknown or ambiguous reference; the message suggests close names.
        """
        return self._single(id_or_name, self.find(id_or_name))

    def resolve(self, id_or_name: str) -> list[int]:
        """Indices a reference stands for: one concept, or several for a redirected id.

        Raises:
            KeyError: as :meth:`index`.
        """
        matches = self.find(id_or_name)
        if id_or_name in self._redirects and id_or_name not in self._index:
            return matches
        return [self._single(id_or_name, matches)]

    def _single(self, id_or_name: str, matches: list[int]) -> int:
        if len(matches) == 1:
            return matches[0]
        where = self.name or "the hierarchy"
        if len(matches) > 1:
            listed = ", ".join(f"{self._ids[m]} ({self._concepts[m].name})" for m in matches)
            raise KeyError(f"{id_or_name!r} is ambiguous in {where}: {listed}")
        close = difflib.get_close_matches(id_or_name.casefold(), list(self._name_lookup()), n=3)
        hint = f"; did you mean {close}?" if close else ""
        raise KeyError(f"unknown concept {id_or_name!r} in {where}{hint}")

    def __contains__(self, id_or_name: object) -> bool:
        return isinstance(id_or_name, str) and bool(self.find(id_or_name))

    # --------------------------------------------------------------- graph structure
    def parents(self, i: ConceptRef) -> list[int]:
        """Indices of the parents of concept ``i`` (main parent first)."""
        return list(self._parents[self._as_index(i)])

    def children(self, i: ConceptRef) -> list[int]:
        """Indices of the children of concept ``i``."""
        return list(self._children[self._as_index(i)])

    def ancestors(self, i: ConceptRef) -> set[int]:
        """All ancestors of concept ``i`` (excluding ``i``)."""
        return set(self._ancestors()[self._as_index(i)])

    def descendants(self, i: ConceptRef) -> set[int]:
        """All descendants of concept ``i`` (excluding ``i``)."""
        start = self._as_index(i)
        seen: set[int] = set()
        stack = list(self._children[start])
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack.extend(self._children[node])
        return seen

    def edges(self) -> list[tuple[int, int]]:
        """All ``(parent, child)`` index pairs, ordered by child then parent preference."""
        return [(p, c) for c, parents in enumerate(self._parents) for p in parents]

    def leaves(self) -> list[int]:
        """Indices of concepts without children."""
        return [i for i, c in enumerate(self._children) if not c]

    def paths_to_root(self, i: ConceptRef) -> list[list[int]]:
        """Every path from the root down to concept ``i`` (each a list of indices)."""
        start = self._as_index(i)
        memo: dict[int, list[list[int]]] = {}

        def paths(node: int) -> list[list[int]]:
            if node not in memo:
                if not self._parents[node]:
                    memo[node] = [[node]]
                else:
                    memo[node] = [
                        p + [node] for parent in self._parents[node] for p in paths(parent)
                    ]
            return memo[node]

        return paths(start)

    @property
    def level(self) -> torch.Tensor:
        """LongTensor [N]: shortest-path distance of each concept from the root (root = 0)."""
        import torch

        return torch.tensor(self._levels, dtype=torch.long)

    @property
    def levels(self) -> list[int]:
        """The levels as a Python list (same values as :attr:`level`)."""
        return list(self._levels)

    @property
    def depth(self) -> int:
        """Number of levels: max level + 1."""
        return max(self._levels) + 1

    @property
    def max_ancestors(self) -> int:
        """The largest number of ancestors any concept has."""
        return max(len(a) for a in self._ancestors())

    def ancestor_table(self) -> torch.Tensor:
        """LongTensor [N, K]: row c holds c itself, then all its ancestors, padded with -1.

        Ancestors are ordered nearest level first (deepest to root), ties by index, so the
        root is the last valid entry of every row but its own. K = :attr:`max_ancestors` + 1.
        """
        import torch

        if self._ancestor_table is None:
            sets = self._ancestors()
            width = max(len(a) for a in sets) + 1
            table = np.full((len(self), width), -1, dtype=np.int64)
            levels = self._levels
            for c, ancestors in enumerate(sets):
                row = [c] + sorted(ancestors, key=lambda a: (-levels[a], a))
                table[c, : len(row)] = row
            self._ancestor_table = torch.from_numpy(table)
        return self._ancestor_table.clone()

    # ---------------------------------------------------------------- conversions
    def to_pyg(self) -> torch_geometric.data.Data:
        """A ``torch_geometric.data.Data`` view; see :func:`hacd_graph.ach.pyg.to_pyg`."""
        from hacd_graph.ach.pyg import to_pyg

        return to_pyg(self)

    def to_networkx(self) -> networkx.DiGraph:
        """A ``networkx.DiGraph`` (parent -> child edges, all concept fields as node data)."""
        from hacd_graph.ach.serialize import to_networkx

        return to_networkx(self)

    @classmethod
    def from_networkx(cls, graph: networkx.DiGraph) -> ConceptHierarchy:
        """Inverse of :meth:`to_networkx` (also accepts any DiGraph of parent -> child edges)."""
        from hacd_graph.ach.serialize import from_networkx

        return from_networkx(graph)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; see :func:`hacd_graph.ach.serialize.hierarchy_to_dict`."""
        from hacd_graph.ach.serialize import hierarchy_to_dict

        return hierarchy_to_dict(self)

    def save(self, path: str | Path) -> Path:
        """Write the hierarchy as JSON (atomically) and return the path."""
        from hacd_graph.ach.serialize import save_hierarchy

        return save_hierarchy(self, path)

    @classmethod
    def load(cls, path: str | Path) -> ConceptHierarchy:
        """Read a hierarchy written by :meth:`save`."""
        from hacd_graph.ach.serialize import load_hierarchy

        return load_hierarchy(path)

    # ------------------------------------------------------------------ variants
    def flattened(self) -> ConceptHierarchy:
        """Every concept directly under the root; see :func:`hacd_graph.ach.variants.flattened`."""
        from hacd_graph.ach.variants import flattened

        return flattened(self)

    def truncated(self, max_depth: int) -> ConceptHierarchy:
        """Keep ``max_depth`` levels; see :func:`hacd_graph.ach.variants.truncated`."""
        from hacd_graph.ach.variants import truncated

        return truncated(self, max_depth)

    def shuffled(self, seed: int) -> ConceptHierarchy:
        """Re-draw parents one level up; see :func:`hacd_graph.ach.variants.shuffled`."""
        from hacd_graph.ach.variants import shuffled

        return shuffled(self, seed)

    def subtree(self, ref: ConceptRef) -> ConceptHierarchy:
        """The concept ``ref`` and its descendants, with ``ref`` as the root."""
        top = self._as_index(ref)
        keep = {top} | self.descendants(top)
        concepts = []
        for i in sorted(keep):
            concept = self._concepts[i]
            parents = (
                () if i == top else tuple(p for p in concept.parents if self._index[p] in keep)
            )
            concepts.append(_replace(concept, parents=parents))
        return ConceptHierarchy(concepts, name=f"{self.name}/{self._ids[top]}")

    # ---------------------------------------------------------------- internals
    def _as_index(self, ref: ConceptRef) -> int:
        if isinstance(ref, str):
            return self.index(ref)
        index = int(ref)
        if not 0 <= index < len(self._concepts):
            raise IndexError(f"concept index {index} out of range for {len(self)} concepts")
        return index

    def _ancestors(self) -> list[frozenset[int]]:
        if self._ancestor_sets is None:
            sets: list[frozenset[int]] = []
            for parents in self._parents:  # topological order: parents are already done
                acc: set[int] = set(parents)
                for p in parents:
                    acc |= sets[p]
                sets.append(frozenset(acc))
            self._ancestor_sets = sets
        return self._ancestor_sets

    def _name_lookup(self) -> dict[str, list[int]]:
        if self._lookup is None:
            by_name: dict[str, list[int]] = {}
            by_alias: dict[str, list[int]] = {}
            for i, concept in enumerate(self._concepts):
                by_name.setdefault(concept.name.casefold(), []).append(i)
                for alias in concept.aliases:
                    by_alias.setdefault(alias.casefold(), []).append(i)
            lookup = dict(by_name)
            for alias, hits in by_alias.items():
                if alias not in lookup:
                    lookup[alias] = sorted(set(hits))
            self._lookup = lookup
        return self._lookup


def _replace(concept: Concept, **changes: Any) -> Concept:
    from dataclasses import replace

    return replace(concept, **changes)


def _topological(concepts: list[Concept]) -> list[Concept]:
    """Stable topological order: among concepts whose parents are all placed, take the
    one that came first in the input (Kahn's algorithm with a priority queue)."""
    position = {c.id: i for i, c in enumerate(concepts)}
    waiting = [len(set(c.parents)) for c in concepts]
    children: list[list[int]] = [[] for _ in concepts]
    for i, concept in enumerate(concepts):
        for parent in set(concept.parents):
            children[position[parent]].append(i)
    ready = [i for i, w in enumerate(waiting) if w == 0]
    heapq.heapify(ready)
    order: list[Concept] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(concepts[i])
        for child in children[i]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, child)
    return order


def _shortest_levels(children: Sequence[Sequence[int]]) -> list[int]:
    levels = [-1] * len(children)
    levels[0] = 0
    queue = deque([0])
    while queue:
        node = queue.popleft()
        for child in children[node]:
            if levels[child] < 0:
                levels[child] = levels[node] + 1
                queue.append(child)
    return levels
