"""The typed graph the GNN runs over: hierarchy edges both ways, optional co-occurrence.

Relation types (``edge_type`` values):

- ``0`` parent -> child (a concept hears from its parents),
- ``1`` child -> parent (a concept hears from its children),
- ``2`` co-occurrence, both ways (two concepts labelled together in real AudioSet clips;
  only with :func:`cooccurrence_edges`).
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import torch

from hacd_graph.ach import ConceptHierarchy
from hacd_graph.ach.pyg import CHILD_TO_PARENT, PARENT_TO_CHILD

COOCCURRENCE = 2
RELATIONS = {PARENT_TO_CHILD: "parent_to_child", CHILD_TO_PARENT: "child_to_parent",
             COOCCURRENCE: "cooccurrence"}


@dataclass
class ConceptGraph:
    """Edges of the concept graph.

    Args:
        edge_index: LongTensor ``[2, E]`` (source, target).
        edge_type: LongTensor ``[E]``, values in ``range(num_relations)``.
        num_relations: 2 (hierarchy) or 3 (with co-occurrence).
        num_nodes: N.
    """

    edge_index: torch.Tensor
    edge_type: torch.Tensor
    num_relations: int
    num_nodes: int


def hierarchy_edges(ach: ConceptHierarchy) -> tuple[torch.Tensor, torch.Tensor]:
    """Parent->child (type 0) and child->parent (type 1) edges: ``([2, 2E], [2E])``.

    Taken from ``ach.to_pyg()``, whose ``edge_type`` values these relation ids follow.
    """
    data = ach.to_pyg()
    return data.edge_index, data.edge_type


def read_segment_labels(path: Path) -> Iterable[list[str]]:
    """The positive-label MIDs of each clip of an AudioSet ``*_segments.csv``.

    Accepts the published files (``#`` comment lines, quoted comma-separated MIDs in the
    fourth column).
    """
    with Path(path).open(newline="") as f:
        for row in csv.reader(f, skipinitialspace=True):
            if not row or row[0].startswith("#") or len(row) < 4:
                continue
            yield [m.strip() for m in ",".join(row[3:]).split(",") if m.strip()]


def cooccurrence_edges(ach: ConceptHierarchy, segment_csvs: Iterable[str | Path],
                       min_count: int = 2) -> tuple[torch.Tensor, int]:
    """Co-occurrence edges (both directions) between concepts labelled together.

    A MID maps to the concepts that stand for it (an AudioSet concept with that id, and any
    concept listing it in its ``audioset`` field); MIDs no concept stands for are skipped.
    Pairs where one concept is an ancestor of the other are dropped (the hierarchy edges
    already link them).

    Args:
        ach: the hierarchy.
        segment_csvs: AudioSet segment CSVs (user-given paths).
        min_count: keep pairs seen together in at least this many clips.

    Returns:
        ``(edge_index [2, E], clips_read)``.

    Raises:
        FileNotFoundError: a CSV does not exist (named).
    """
    counts: Counter[tuple[int, int]] = Counter()
    clips = 0
    by_mid: dict[str, set[int]] = {}
    for i, concept in enumerate(ach.concepts):
        for mid in (concept.id, *concept.audioset):
            by_mid.setdefault(mid, set()).add(i)
    for path in segment_csvs:
        if not Path(path).exists():
            raise FileNotFoundError(f"AudioSet segments file {path} does not exist")
        for mids in read_segment_labels(Path(path)):
            clips += 1
            nodes: set[int] = set()
            for mid in mids:
                nodes.update(by_mid.get(mid, ()))
            for a, b in combinations(sorted(nodes), 2):
                counts[(a, b)] += 1
    pairs = [(a, b) for (a, b), n in counts.items()
             if n >= min_count and a not in ach.ancestors(b) and b not in ach.ancestors(a)]
    if not pairs:
        return torch.zeros(2, 0, dtype=torch.long), clips
    e = torch.tensor(pairs, dtype=torch.long).t()
    return torch.cat([e, e.flip(0)], dim=1), clips


def build_concept_graph(ach: ConceptHierarchy, cooccurrence_csvs: Iterable[str | Path] = (),
                        min_count: int = 2) -> ConceptGraph:
    """The typed concept graph of ``ach``, with co-occurrence edges when CSVs are given."""
    edge_index, edge_type = hierarchy_edges(ach)
    cooccurrence_csvs = list(cooccurrence_csvs)
    if not cooccurrence_csvs:
        return ConceptGraph(edge_index, edge_type, 2, len(ach))
    co, _ = cooccurrence_edges(ach, cooccurrence_csvs, min_count)
    return ConceptGraph(
        torch.cat([edge_index, co], dim=1),
        torch.cat([edge_type, torch.full((co.shape[1],), COOCCURRENCE)]),
        3, len(ach),
    )
