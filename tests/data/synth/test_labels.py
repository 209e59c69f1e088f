from hacd_graph.data.synth import instruments
from hacd_graph.data.synth.catalog import (
    DRUM_PIECE_CONCEPTS,
    INSTRUMENT_CONCEPTS,
    SOURCE_CONCEPTS,
    all_concept_ids,
)
from hacd_graph.data.synth.labels import close_under_ancestors, scene_concepts, scene_labels
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


def test_close_under_ancestors_names_unknown_ids(ach):
    import pytest

    with pytest.raises(KeyError, match="hacd:not_a_concept"):
        close_under_ancestors(ach, ["hacd:not_a_concept"])
