"""Variants of a hierarchy for ablations (the ``ach=...`` configs).

Each variant keeps concept ids, names and facets, so labels and embeddings keyed by id
carry over; only the edges (and, for :func:`truncated`, the set of concepts) change.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

import numpy as np

from hacd_graph.ach.hierarchy import ConceptHierarchy


def flattened(hierarchy: ConceptHierarchy) -> ConceptHierarchy:
    """Every concept directly under the root: depth 2, no structure beyond "is a concept".

    The flat (non-hierarchical) baseline: label closure then only adds the root.
    """
    root = hierarchy.ids[hierarchy.root]
    concepts = [
        c if i == hierarchy.root else replace(c, parents=(root,))
        for i, c in enumerate(hierarchy.concepts)
    ]
    return ConceptHierarchy(
        concepts, name=_name(hierarchy, "flattened"), redirects=hierarchy.redirects
    )


def truncated(hierarchy: ConceptHierarchy, max_depth: int) -> ConceptHierarchy:
    """Keep the top ``max_depth`` levels (levels ``0 .. max_depth - 1``).

    A deeper concept is merged into its ancestors at level ``max_depth - 1`` (there is at
    least one, on its shortest path from the root; a DAG may give several): its id, its
    alternative ids, its AudioSet MIDs and any earlier redirect to it become
    :attr:`redirects` to those ancestors, so :meth:`ConceptHierarchy.resolve` and the
    label and vocabulary mappings follow. Edges from
    a removed parent to a kept child are dropped (every kept concept keeps its parent on
    its shortest path, so the result stays connected).

    Raises:
        ValueError: ``max_depth`` < 1.
    """
    if max_depth < 1:
        raise ValueError(f"max_depth must be at least 1, got {max_depth}")
    if max_depth >= hierarchy.depth:
        return hierarchy
    levels = hierarchy.levels
    ids = hierarchy.ids
    keep = [i for i in range(len(hierarchy)) if levels[i] < max_depth]
    kept = {ids[i] for i in keep}
    kept_mids = {mid for i in keep for mid in hierarchy.concepts[i].audioset}
    targets: dict[str, tuple[str, ...]] = {}
    for i in range(len(hierarchy)):
        if levels[i] >= max_depth:
            anchors = sorted(a for a in hierarchy.ancestors(i) if levels[a] == max_depth - 1)
            concept = hierarchy.concepts[i]
            mids = [m for m in concept.audioset if m not in kept and m not in kept_mids]
            for old in (concept.id, *concept.alt_ids, *mids):
                targets.setdefault(old, tuple(ids[a] for a in anchors))
    redirects: dict[str, tuple[str, ...]] = dict(targets)
    for old, new in hierarchy.redirects.items():
        mapped: list[str] = []
        for target in new:
            for t in targets.get(target, (target,)):
                if t not in mapped:
                    mapped.append(t)
        redirects[old] = tuple(mapped)
    concepts = [
        replace(c, parents=tuple(p for p in c.parents if p in kept))
        for c in (hierarchy.concepts[i] for i in keep)
    ]
    return ConceptHierarchy(
        concepts, name=_name(hierarchy, f"truncated{max_depth}"), redirects=redirects
    )


def shuffled(hierarchy: ConceptHierarchy, seed: int) -> ConceptHierarchy:
    """Re-draw each concept's parents among the concepts one level up.

    A concept at level ``l > 0`` with ``k`` parents gets ``min(k, size of level l - 1)``
    distinct parents drawn uniformly (NumPy ``default_rng(seed)``) from level ``l - 1``.
    Level sizes, levels and depth are kept, the number of parents per concept is kept
    where possible, and the result is acyclic by construction; what the structure means is
    destroyed. The same seed gives the same hierarchy.
    """
    rng = np.random.default_rng(seed)
    levels = hierarchy.levels
    ids = hierarchy.ids
    by_level: dict[int, list[int]] = defaultdict(list)
    for i, level in enumerate(levels):
        by_level[level].append(i)
    concepts = []
    for i, concept in enumerate(hierarchy.concepts):
        if levels[i] == 0:
            concepts.append(concept)
            continue
        pool = by_level[levels[i] - 1]
        count = min(len(concept.parents), len(pool))
        drawn = rng.choice(len(pool), size=count, replace=False)
        concepts.append(replace(concept, parents=tuple(ids[pool[j]] for j in drawn)))
    return ConceptHierarchy(
        concepts, name=_name(hierarchy, f"shuffled{seed}"), redirects=hierarchy.redirects
    )


def _name(hierarchy: ConceptHierarchy, suffix: str) -> str:
    return f"{hierarchy.name}:{suffix}" if hierarchy.name else suffix
