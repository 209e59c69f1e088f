from hacd_graph.data.synth import instruments
from hacd_graph.data.synth.catalog import (
    DRUM_PIECE_CONCEPTS,
    INSTRUMENT_CONCEPTS,
    SOURCE_CONCEPTS,
    all_concept_ids,
)
from hacd_graph.data.synth.labels import scene_concepts, scene_labels
from hacd_graph.data.synth.sources import SOURCES


def test_every_emittable_concept_is_in_the_core_hierarchy(ach):
    missing = sorted(c for c in all_concept_ids() if c not in ach)
    assert not missing, f"concepts the generator emits but build_ach() lacks: {missing}"


def test_labels_are_closed_under_ancestors(ach, scenes, jazz_cafe):
    for _, record in [*scenes, jazz_cafe]:
        labels = scene_labels(record, ach)
        present = {ach.index(x) for x in labels}
        for i in present:
            assert ach.ancestors(i) <= present
        assert set(scene_concepts(record)) <= set(labels)
        assert all(c in all_concept_ids() for c in scene_concepts(record))


def test_renders_40_source_concepts_from_5_top_level_categories(ach):
    concepts = {c for k in SOURCES for c in SOURCE_CONCEPTS[k]}
    concepts |= {c for k in instruments.RANGES for c in INSTRUMENT_CONCEPTS[k]}
    concepts |= set(DRUM_PIECE_CONCEPTS.values())
    root = ach.index("hacd:sound_source")
    top = {
        ach.ids[t]
        for c in concepts
        for t in ach.ancestors(ach.index(c)) | {ach.index(c)}
        if root in ach.parents(t)
    }
    specific = {
        c for c in concepts if ach.index("hacd:sound_source") in ach.ancestors(ach.index(c))
    }
    assert len(specific) >= 40, len(specific)
    assert len(top) >= 5, top


def test_jazz_cafe_labels(ach, jazz_cafe):
    labels = set(scene_labels(jazz_cafe[1], ach))
    for c in (
        "hacd:jazz",
        "hacd:bebop",
        "hacd:piano",
        "hacd:fast_arpeggios",
        "hacd:double_bass",
        "hacd:walking_bass",
        "hacd:brushes_on_snare",
        "hacd:cymbal_accents",
        "hacd:swing_feel",
        "hacd:moderate_tempo",
        "hacd:cafe",
        "hacd:indoor",
        "hacd:medium_room",
        "hacd:moderate_reverb",
        "hacd:moderate_crowd",
        "hacd:babble",
        "hacd:laughter",
        "hacd:glass_clinking",
        "hacd:high_fidelity",
        "hacd:music",
        "hacd:audio",
    ):
        assert c in labels, c
    for absent in (
        "hacd:rock",
        "hacd:dog_bark",
        "hacd:telephone_band",
        "hacd:clipping",
        "hacd:outdoor",
    ):
        assert absent not in labels


def test_unknown_concepts_are_named(ach, jazz_cafe, monkeypatch):
    import pytest

    from hacd_graph.data.synth import catalog

    monkeypatch.setitem(catalog.GENRE_CONCEPTS, "jazz", "hacd:not_a_concept")
    with pytest.raises(KeyError, match="hacd:not_a_concept"):
        scene_labels(jazz_cafe[1], ach)


def test_rendered_concept_listing(ach):
    from hacd_graph.data.synth.catalog import rendered_source_concepts

    groups = rendered_source_concepts(ach)
    assert len(groups) >= 5
    assert len({c for names in groups.values() for c in names}) >= 40
    assert "Piano" in groups["Musical instrument"] and "Bark" in groups["Animal"]


def test_every_source_has_its_acoustic_properties():
    from hacd_graph.data.synth.catalog import SOURCE_PROPERTIES

    assert set(SOURCE_PROPERTIES) == set(SOURCE_CONCEPTS)
    for key, props in SOURCE_PROPERTIES.items():
        assert not {"hacd:definite_pitch", "hacd:indefinite_pitch"} <= set(props), key
        assert not {"hacd:impulsive", "hacd:sustained"} <= set(props), key
