"""Property tests on random DAGs: ancestor tables, label closure, round trips, variants."""

from __future__ import annotations

from collections import deque

import networkx as nx
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hacd_graph.ach import Concept, ConceptHierarchy
from hacd_graph.ach.hierarchy_file import from_edges
from hacd_graph.ach.labels import close_labels, close_multi_hot, is_closed, multi_hot
from hacd_graph.ach.serialize import hierarchy_from_dict, hierarchy_to_dict

SETTINGS = settings(max_examples=60, deadline=None)


@st.composite
def random_dags(draw, max_nodes: int = 30) -> ConceptHierarchy:
    """Single-rooted DAGs: node k > 0 draws 1-3 parents among nodes 0..k-1; the concepts
    are handed to the constructor in a shuffled order."""
    n = draw(st.integers(1, max_nodes))
    concepts = [Concept(id="n0", name="N0")]
    for k in range(1, n):
        parents = draw(st.lists(st.integers(0, k - 1), min_size=1, max_size=3, unique=True))
        concepts.append(Concept(id=f"n{k}", name=f"N{k}", parents=tuple(f"n{p}" for p in parents)))
    order = draw(st.permutations(range(n)))
    return ConceptHierarchy([concepts[i] for i in order])


def brute_ancestors(ach: ConceptHierarchy, c: int) -> set[int]:
    seen: set[int] = set()
    stack = list(ach.parents(c))
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(ach.parents(node))
    return seen


def brute_levels(ach: ConceptHierarchy) -> list[int]:
    levels = {0: 0}
    queue = deque([0])
    while queue:
        node = queue.popleft()
        for child in ach.children(node):
            if child not in levels:
                levels[child] = levels[node] + 1
                queue.append(child)
    return [levels[i] for i in range(len(ach))]


@SETTINGS
@given(random_dags())
def test_structure(ach: ConceptHierarchy):
    assert ach.ids[0] == "n0"
    for c in range(len(ach)):
        assert all(p < c for p in ach.parents(c))
        assert ach.ancestors(c) == brute_ancestors(ach, c)
        assert all(c in ach.children(p) for p in ach.parents(c))
    assert ach.levels == brute_levels(ach)
    assert ach.depth == max(ach.levels) + 1


@SETTINGS
@given(random_dags())
def test_ancestor_table(ach: ConceptHierarchy):
    table = ach.ancestor_table()
    assert table.shape == (len(ach), max(len(ach.ancestors(c)) for c in range(len(ach))) + 1)
    for c in range(len(ach)):
        row = table[c].tolist()
        valid = [v for v in row if v >= 0]
        assert row[: len(valid)] == valid  # padding only at the end
        assert (
            valid[0] == c and set(valid[1:]) == ach.ancestors(c) and len(set(valid)) == len(valid)
        )
        if c:
            assert valid[-1] == 0


@SETTINGS
@given(random_dags(), st.data())
def test_closure(ach: ConceptHierarchy, data):
    a = data.draw(st.lists(st.integers(0, len(ach) - 1), max_size=5))
    b = data.draw(st.lists(st.integers(0, len(ach) - 1), max_size=5))
    closed = close_labels(ach, a)
    assert set(a) <= set(closed) and is_closed(ach, closed)
    assert close_labels(ach, closed) == closed  # idempotent
    assert set(close_labels(ach, a + b)) == set(closed) | set(close_labels(ach, b))
    assert (0 in closed) == bool(a)
    targets = multi_hot(ach, [a, b])
    raw = torch.zeros_like(targets)
    for row, labels in enumerate([a, b]):
        raw[row, labels] = 1
    assert torch.equal(close_multi_hot(ach, raw), targets)


@SETTINGS
@given(random_dags())
def test_round_trips(ach: ConceptHierarchy):
    assert hierarchy_from_dict(hierarchy_to_dict(ach)) == ach
    graph = ach.to_networkx()
    assert nx.is_directed_acyclic_graph(graph)
    assert ConceptHierarchy.from_networkx(graph) == ach
    rebuilt = (
        from_edges([(ach.ids[p], ach.ids[c]) for p, c in ach.edges()]) if len(ach) > 1 else ach
    )
    assert set(rebuilt.ids) == set(ach.ids)
    assert all(
        {rebuilt.ids[p] for p in rebuilt.parents(cid)} == {ach.ids[p] for p in ach.parents(cid)}
        for cid in ach.ids
    )
    data = ach.to_pyg()
    assert data.edge_index.shape[1] == 2 * ach.num_edges


@SETTINGS
@given(random_dags())
def test_flattened(ach: ConceptHierarchy):
    flat = ach.flattened()
    assert set(flat.ids) == set(ach.ids) and flat.depth == min(ach.depth, 2)
    for cid in ach.ids[1:]:
        assert [flat.ids[i] for i in close_labels(flat, [cid])] == ["n0", cid]


@SETTINGS
@given(random_dags(), st.integers(1, 6))
def test_truncated(ach: ConceptHierarchy, max_depth: int):
    short = ach.truncated(max_depth)
    assert short.depth == min(max_depth, ach.depth)
    level_of = dict(zip(ach.ids, ach.levels, strict=True))
    assert set(short.ids) == {cid for cid, level in level_of.items() if level < max_depth}
    for cid in short.ids:
        assert short.levels[short.index(cid)] == level_of[cid]
    for cid in set(ach.ids) - set(short.ids):
        targets = {short.ids[t] for t in short.resolve(cid)}
        assert targets and targets <= {ach.ids[a] for a in ach.ancestors(cid)}
        assert all(level_of[t] == max_depth - 1 for t in targets)
        # labels follow: a merged-away label closes to its targets' closure
        assert close_labels(short, [cid]) == close_labels(short, sorted(targets))


@SETTINGS
@given(random_dags(), st.integers(0, 2**31))
def test_shuffled(ach: ConceptHierarchy, seed: int):
    shuffled = ach.shuffled(seed)
    assert shuffled == ach.shuffled(seed)
    assert sorted(shuffled.levels) == sorted(ach.levels)
    level_of = dict(zip(ach.ids, ach.levels, strict=True))
    size = {level: ach.levels.count(level) for level in set(ach.levels)}
    for i, cid in enumerate(shuffled.ids):
        assert shuffled.levels[i] == level_of[cid]
        parents = shuffled.parents(i)
        assert all(shuffled.levels[p] == shuffled.levels[i] - 1 for p in parents)
        if i:
            expected = min(len(ach.parents(cid)), size[level_of[cid] - 1])
            assert len(parents) == expected
