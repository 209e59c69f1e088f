from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from hacd_graph.ach import ConceptHierarchy, HierarchyError, build_ach
from hacd_graph.ach.core import CORE_DIR, FACETS, load_core

# What the synthetic generator (issue 4) renders and the seed example describes.
GENERATOR_CONCEPTS = [
    "hacd:speech", "hacd:babble", "hacd:laughter", "hacd:chatter", "hacd:applause",
    "hacd:dog_bark", "hacd:bird_song", "hacd:cat", "hacd:piano", "hacd:double_bass",
    "hacd:snare_drum", "hacd:ride_cymbal", "hacd:crash_cymbal", "hacd:hi_hat",
    "hacd:kick_drum", "hacd:brushes", "hacd:bowed_string_instrument", "hacd:brass_instrument",
    "hacd:flute", "hacd:organ", "hacd:bell", "hacd:bass_instrument", "hacd:acoustic_guitar",
    "hacd:rain", "hacd:wind", "hacd:water", "hacd:thunder", "hacd:engine", "hacd:siren",
    "hacd:alarm_signal", "hacd:clock_tick", "hacd:door_knock", "hacd:footsteps",
    "hacd:glass_clinking", "hacd:jazz", "hacd:bebop", "hacd:swing_jazz", "hacd:cool_jazz",
    "hacd:rock", "hacd:electronic_music", "hacd:solo", "hacd:accompaniment",
    "hacd:rhythm_section", "hacd:walking_bass", "hacd:arpeggios", "hacd:fast_arpeggios",
    "hacd:comping", "hacd:swing_ride", "hacd:four_on_the_floor", "hacd:straight_feel",
    "hacd:swing_feel", "hacd:moderate_tempo", "hacd:quadruple_meter", "hacd:moderate_reverb",
    "hacd:medium_room", "hacd:telephone_band", "hacd:am_radio_band", "hacd:clipping",
    "hacd:high_fidelity", "hacd:low_bitrate", "hacd:high_noise", "hacd:far", "hacd:cafe",
    "hacd:street", "hacd:park", "hacd:office", "hacd:in_train", "hacd:indoor", "hacd:outdoor",
    "hacd:transport", "hacd:conversation", "hacd:crowd", "hacd:moderate_crowd",
    "hacd:busy_crowd", "hacd:cymbal_accents", "hacd:brushes_on_snare",
]  # fmt: skip


def test_core_size_levels_and_facets(core_ach: ConceptHierarchy):
    assert len(core_ach) >= 400
    assert core_ach.depth >= 5
    assert set(core_ach.facets) == set(FACETS)
    top = {core_ach.concept(c).facet for c in core_ach.children(core_ach.root)}
    assert top == set(FACETS) - {"root"}
    assert sum(len(core_ach.parents(i)) > 1 for i in range(len(core_ach))) >= 20


def test_core_ids_and_fields(core_ach: ConceptHierarchy):
    pattern = re.compile(r"^hacd:[a-z0-9]+(_[a-z0-9]+)*$")
    assert all(pattern.match(cid) for cid in core_ach.ids)
    assert len(set(core_ach.ids)) == len(core_ach)
    assert len({n.casefold() for n in core_ach.names}) == len(core_ach)
    assert all(c.description.endswith(".") for c in core_ach.concepts)
    mids = Counter(mid for c in core_ach.concepts for mid in c.audioset)
    assert mids and max(mids.values()) == 1


@pytest.mark.parametrize("concept_id", GENERATOR_CONCEPTS)
def test_generator_concepts_exist(core_ach: ConceptHierarchy, concept_id: str):
    assert concept_id in core_ach.ids


def test_seed_example_paths(core_ach: ConceptHierarchy):
    def ancestors(cid: str) -> set[str]:
        return {core_ach.ids[i] for i in core_ach.ancestors(cid)}

    assert {"hacd:playing_technique", "hacd:bass_line", "hacd:music"} <= ancestors(
        "hacd:walking_bass"
    )
    assert {"hacd:indoor", "hacd:food_venue", "hacd:acoustic_scene"} <= ancestors("hacd:cafe")
    assert {"hacd:jazz", "hacd:genre"} <= ancestors("hacd:bebop")
    assert {"hacd:bowed_string_instrument", "hacd:bass_instrument"} <= ancestors("hacd:double_bass")


def _write(directory: Path, name: str, text: str) -> None:
    (directory / name).write_text(text, encoding="utf-8")


ROOT = "facet: root\nconcepts:\n- {id: hacd:audio, name: Audio, parents: [], description: Root.}\n"


def test_load_core_from_custom_dir(tmp_path: Path):
    _write(tmp_path, "00_root.yaml", ROOT)
    _write(
        tmp_path,
        "10_x.yaml",
        "facet: sound_source\nconcepts:\n"
        "- {id: hacd:x, name: X, parents: [hacd:audio], description: An x., audioset: [/m/0x]}\n",
    )
    core = load_core(tmp_path)
    assert [c.id for c in core.concepts] == ["hacd:audio", "hacd:x"]
    assert core.concepts[1].facet == "sound_source" and core.concepts[1].audioset == ("/m/0x",)
    assert build_ach(core_dir=tmp_path).ids == ["hacd:audio", "hacd:x"]


@pytest.mark.parametrize(
    ("entry", "message", "concept"),
    [
        ("{id: hacd:x, name: X, description: d.}", "missing key", "hacd:x"),
        (
            "{id: hacd:x, name: X, parents: [hacd:audio], description: d., color: red}",
            "unknown key",
            "hacd:x",
        ),
        ("{id: x, name: X, parents: [hacd:audio], description: d.}", "snake_case", "x"),
        (
            "{id: hacd:x, name: X, parents: [hacd:nope], description: d.}",
            "unknown parent",
            "hacd:x",
        ),
        ("{id: hacd:x, name: X, parents: [hacd:x], description: d.}", "self-loop", "hacd:x"),
        (
            "{id: hacd:x, name: Audio, parents: [hacd:audio], description: d.}",
            "already used",
            "hacd:x",
        ),
        (
            "{id: hacd:x, name: X, parents: [hacd:audio], description: d., audioset: [dog]}",
            "MID",
            "hacd:x",
        ),
        ("{id: hacd:x, name: X, parents: [], description: d.}", "2 roots", "hacd:x"),
        (
            "{id: hacd:x, name: X, parents: [hacd:audio], description: d., aliases: [[a, b]]}",
            "list of strings",
            "hacd:x",
        ),
    ],
)
def test_bad_core_entries_name_file_and_concept(
    tmp_path: Path, entry: str, message: str, concept: str
):
    _write(tmp_path, "00_root.yaml", ROOT)
    _write(tmp_path, "10_bad.yaml", f"facet: sound_source\nconcepts:\n- {entry}\n")
    with pytest.raises(HierarchyError, match=message) as info:
        load_core(tmp_path)
    assert info.value.concept == concept
    assert info.value.file.endswith("10_bad.yaml")
    assert "10_bad.yaml" in str(info.value) and concept in str(info.value)


def test_cycle_and_duplicates_across_files(tmp_path: Path):
    _write(tmp_path, "00_root.yaml", ROOT)
    _write(
        tmp_path,
        "10_a.yaml",
        "facet: sound_source\nconcepts:\n"
        "- {id: hacd:a, name: A, parents: [hacd:audio, hacd:b], description: d.}\n"
        "- {id: hacd:b, name: B, parents: [hacd:a], description: d.}\n",
    )
    with pytest.raises(HierarchyError, match=r"cycle: hacd:\w -> hacd:\w -> hacd:\w") as info:
        load_core(tmp_path)
    assert info.value.file.endswith("10_a.yaml")
    _write(
        tmp_path,
        "10_a.yaml",
        "facet: sound_source\nconcepts:\n"
        "- {id: hacd:a, name: A, parents: [hacd:audio], description: d.}\n",
    )
    _write(
        tmp_path,
        "20_b.yaml",
        "facet: musical_attribute\nconcepts:\n"
        "- {id: hacd:a, name: A2, parents: [hacd:audio], description: d.}\n",
    )
    with pytest.raises(HierarchyError, match="duplicate id .*10_a.yaml") as info:
        load_core(tmp_path)
    assert info.value.file.endswith("20_b.yaml")


def test_bad_files(tmp_path: Path):
    with pytest.raises(HierarchyError, match="no core hierarchy files"):
        load_core(tmp_path)
    _write(tmp_path, "00_root.yaml", "facet: root\nconcepts: [unclosed\n")
    with pytest.raises(HierarchyError, match="not valid YAML"):
        load_core(tmp_path)
    _write(tmp_path, "00_root.yaml", "facet: sounds\nconcepts: []\n")
    with pytest.raises(HierarchyError, match="facet must be one of"):
        load_core(tmp_path)


def test_shipped_files_are_package_data():
    assert sorted(p.name for p in CORE_DIR.glob("*.yaml"))[0] == "00_root.yaml"
