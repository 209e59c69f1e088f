"""Fixtures for the hierarchy tests: the built hierarchies and a tiny-DAG helper."""

from __future__ import annotations

from pathlib import Path

import pytest

from hacd_graph.ach import Concept, ConceptHierarchy, build_ach


@pytest.fixture(scope="session")
def core_ach() -> ConceptHierarchy:
    """The embedded default hierarchy."""
    return build_ach()


@pytest.fixture(scope="session")
def merged_ach(audioset_ontology_path: Path) -> ConceptHierarchy:
    """Core with the real AudioSet ontology merged in."""
    return build_ach(("core", "audioset"), audioset_ontology=audioset_ontology_path)


@pytest.fixture(scope="session")
def class_labels_path(meta_dir: Path) -> Path:
    """AudioSet's 527-class ``class_labels_indices.csv``."""
    return meta_dir / "audioset" / "class_labels_indices.csv"


def hierarchy_from_edges(edges: list[tuple[str, str]], name: str = "toy") -> ConceptHierarchy:
    """A hierarchy from ``(parent, child)`` id pairs; the first parent seen is the root."""
    parents: dict[str, list[str]] = {}
    for parent, child in edges:
        parents.setdefault(parent, [])
        parents.setdefault(child, []).append(parent)
    return ConceptHierarchy(
        [Concept(id=c, name=c.upper(), parents=tuple(p)) for c, p in parents.items()], name=name
    )


@pytest.fixture
def make_hierarchy():
    """Factory: ``make_hierarchy([(parent, child), ...])`` -> ConceptHierarchy."""
    return hierarchy_from_edges


@pytest.fixture
def toy() -> ConceptHierarchy:
    """root -> a, b; a -> c; b -> c (c has two parents); c -> d; root -> e."""
    return hierarchy_from_edges(
        [("root", "a"), ("root", "b"), ("a", "c"), ("b", "c"), ("c", "d"), ("root", "e")]
    )
