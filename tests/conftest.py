"""Fixtures shared by every test: paths to the read-only test data beside the project."""

from __future__ import annotations

from pathlib import Path

import pytest

from hacd_graph.openmp import prefer_passive_waiting

prefer_passive_waiting()  # the test processes' torch threads sleep while waiting, as the CLI's

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def _require(path: Path) -> Path:
    if not path.exists():
        raise FileNotFoundError(
            f"test data {path} is missing: the tests expect ../shared/data beside the project"
        )
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``: real metadata files and the AudioSet ontology (never committed)."""
    return _require(SHARED_DATA)


@pytest.fixture(scope="session")
def audioset_ontology_path(shared_data: Path) -> Path:
    """Google's AudioSet ontology JSON (632 classes)."""
    return _require(shared_data / "audioset" / "ontology.json")


@pytest.fixture(scope="session")
def meta_dir(shared_data: Path) -> Path:
    """Real metadata of the standard datasets (AudioSet, FSD50K, ESC-50, Clotho, AudioCaps)."""
    return _require(shared_data / "meta")


@pytest.fixture(scope="session")
def tiny_ach():
    """A 7-concept hierarchy of 4 levels with one two-parent concept (for fast model tests).

    root -> {animal, music}; animal -> {dog, bird}; music -> {guitar};
    {bird, guitar} -> birdsong_guitar (level 3, two parents).
    """
    from hacd_graph.ach import Concept, ConceptHierarchy

    def c(cid, name, facet, *parents):
        return Concept(id=f"hacd:{cid}", name=name, description=f"the sound of {name}",
                       facet=facet, parents=tuple(f"hacd:{p}" for p in parents))

    return ConceptHierarchy([
        c("root", "Audio", "root"),
        c("animal", "Animal", "sound_source", "root"),
        c("music", "Music", "musical_attribute", "root"),
        c("dog", "Dog", "sound_source", "animal"),
        c("bird", "Bird", "sound_source", "animal"),
        c("guitar", "Guitar", "musical_attribute", "music"),
        c("birdsong_guitar", "Birdsong with guitar", "sound_source", "bird", "guitar"),
    ], name="tiny")
