from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from hacd_graph.ach import ConceptHierarchy


def test_merged_size_and_depth(merged_ach: ConceptHierarchy, core_ach: ConceptHierarchy):
    assert len(merged_ach) >= 1000
    assert 5 <= merged_ach.depth <= 7
    assert len(merged_ach.children(merged_ach.root)) == len(core_ach.children(core_ach.root))
    assert merged_ach.name == "core+audioset"


def test_every_audioset_mid_once(merged_ach: ConceptHierarchy, audioset_ontology_path: Path):
    mids = [r["id"] for r in json.loads(audioset_ontology_path.read_text())]
    ids = Counter(merged_ach.ids)
    assert all(ids[mid] == 1 for mid in mids)
    claimed = Counter(c.audioset[0] for c in merged_ach.concepts if c.audioset)
    assert max(claimed.values()) == 1  # no AudioSet concept is duplicated by a core concept


def test_unified_concept(merged_ach: ConceptHierarchy):
    jazz = merged_ach.index("hacd:jazz")
    concept = merged_ach.concept(jazz)
    assert concept.id == "/m/03_d0" and concept.alt_ids == ("hacd:jazz",)
    assert concept.sources == ("core", "audioset") and concept.facet == "musical_attribute"
    assert merged_ach.index("/m/03_d0") == jazz
    assert "hacd:bebop" in merged_ach.ids  # core-only concepts keep their ids
    bebop = merged_ach.index("hacd:bebop")
    assert jazz in merged_ach.parents(bebop)


def test_audioset_structure_kept(merged_ach: ConceptHierarchy):
    clapping = merged_ach.index("/m/0l15bq")
    parent_ids = {merged_ach.ids[p] for p in merged_ach.parents(clapping)}
    assert {"/m/0k65p", "/t/dd00012"} <= parent_ids
    # core parents come first, AudioSet parents follow
    double_bass = merged_ach.concept("/m/02fsn")
    assert double_bass.parents[:2] == ("/m/0l14_3", "hacd:bass_instrument")
    assert merged_ach.concept("/m/059j3w").restrictions == ("blacklist",)
    assert merged_ach.concept("/t/dd00027").restrictions == ("abstract", "blacklist")


def test_audioset_roots_attach_and_facets(merged_ach: ConceptHierarchy):
    things = merged_ach.index("/t/dd00041")  # Sounds of things: no core counterpart
    assert merged_ach.parents(things) == [merged_ach.index("hacd:sound_source")]
    channel = merged_ach.index("/t/dd00123")
    assert merged_ach.parents(channel) == [merged_ach.index("hacd:acoustic_property")]
    assert merged_ach.concept("/t/dd00123").facet == "acoustic_property"
    assert merged_ach.concept("/m/0k4j").facet == "sound_source"  # Car, unified
    assert merged_ach.concept("/m/07rv9rh").facet == "sound_source"
    assert all(c.facet for c in merged_ach.concepts)
