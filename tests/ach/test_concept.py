from __future__ import annotations

import dataclasses

import pytest

from hacd_graph.ach import Concept


def test_round_trip_and_omitted_fields():
    concept = Concept(
        id="/m/03_d0",
        name="Jazz",
        description="Improvised music.",
        facet="musical_attribute",
        parents=("/m/0kpv1t",),
        aliases=("jazz music",),
        audioset=("/m/03_d0",),
        alt_ids=("hacd:jazz",),
        sources=("core", "audioset"),
    )
    data = concept.to_dict()
    assert "restrictions" not in data and data["parents"] == ["/m/0kpv1t"]
    assert Concept.from_dict(data) == concept
    root = Concept(id="r", name="Root")
    assert root.to_dict() == {"id": "r", "name": "Root", "parents": []}
    assert Concept.from_dict(root.to_dict()) == root


def test_immutable_and_strict():
    concept = Concept(id="r", name="Root")
    with pytest.raises(dataclasses.FrozenInstanceError):
        concept.name = "x"  # type: ignore[misc]
    with pytest.raises(KeyError, match="unknown field"):
        Concept.from_dict({"id": "r", "name": "R", "colour": "red"})
