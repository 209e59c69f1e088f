from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from hacd_graph.ach import ConceptHierarchy
from hacd_graph.ach.labels import close_labels
from hacd_graph.ach.vocabulary import (
    map_audioset_labels,
    map_esc50_classes,
    map_fsd50k_vocabulary,
)


@pytest.fixture(scope="module")
def class_labels(meta_dir: Path) -> Path:
    return meta_dir / "audioset" / "class_labels_indices.csv"


def test_audioset_labels_on_merged(merged_ach: ConceptHierarchy, class_labels: Path):
    mapping = map_audioset_labels(merged_ach, class_labels)
    assert len(mapping) == 527 and mapping.coverage == 1.0
    assert all(c.via == "exact" and merged_ach.ids[c.concepts[0]] == c.mid for c in mapping.classes)
    speech = mapping.by_label("Speech")
    assert speech.index == 0 and merged_ach.ids[speech.concepts[0]] == "/m/09x0r"


def test_audioset_labels_on_core(
    core_ach: ConceptHierarchy, class_labels: Path, audioset_ontology_path: Path
):
    plain = map_audioset_labels(core_ach, class_labels)
    assert 0.5 < plain.coverage < 1.0  # without the ontology only direct MIDs map
    mapping = map_audioset_labels(core_ach, class_labels, ontology=audioset_ontology_path)
    assert mapping.coverage == 1.0 and mapping.unmapped == []
    jazz = mapping.by_label("/m/03_d0")
    assert jazz.via == "exact" and core_ach.ids[jazz.concepts[0]] == "hacd:jazz"
    yodel = mapping.by_label("Yodeling")
    assert yodel.via == "ancestor" and core_ach.ids[yodel.concepts[0]] == "hacd:singing"


def test_dataset_targets(
    core_ach: ConceptHierarchy, class_labels: Path, audioset_ontology_path: Path
):
    mapping = map_audioset_labels(core_ach, class_labels, ontology=audioset_ontology_path)
    with open(class_labels) as handle:
        rows = list(csv.DictReader(handle))
    jazz_index = next(int(r["index"]) for r in rows if r["mid"] == "/m/03_d0")
    piano_index = next(int(r["index"]) for r in rows if r["mid"] == "/m/05r5c")
    expected = close_labels(core_ach, ["hacd:jazz", "hacd:piano"])
    assert mapping.concepts_for([jazz_index, piano_index]) == expected
    assert mapping.concepts_for(["Jazz", "/m/05r5c"]) == expected
    batch = mapping.multi_hot([[jazz_index, piano_index], []])
    assert batch[0].nonzero().flatten().tolist() == expected and batch[1].sum() == 0
    matrix = mapping.class_matrix()
    assert matrix.shape == (527, len(core_ach))
    clip = torch.zeros(1, 527)
    clip[0, [jazz_index, piano_index]] = 1
    assert torch.equal((clip @ matrix > 0).float(), batch[:1])


def test_fsd50k_vocabulary(core_ach, merged_ach, meta_dir: Path, audioset_ontology_path: Path):
    path = meta_dir / "fsd50k" / "vocabulary_sample.csv"
    on_merged = map_fsd50k_vocabulary(merged_ach, path)
    assert [(c.index, c.label, c.mid) for c in on_merged.classes] == [
        (53, "Crushing", "/m/07plct2"),
        (69, "Electric_guitar", "/m/02sgy"),
    ]
    assert on_merged.coverage == 1.0
    on_core = map_fsd50k_vocabulary(core_ach, path, ontology=audioset_ontology_path)
    guitar = on_core.by_label("Electric_guitar")
    assert core_ach.ids[guitar.concepts[0]] == "hacd:electric_guitar"
    crushing = on_core.by_label("Crushing")
    assert crushing.via == "ancestor" and core_ach.ids[crushing.concepts[0]] == "hacd:crushing"


def test_fsd50k_ground_truth_mids_map(merged_ach: ConceptHierarchy, meta_dir: Path):
    path = meta_dir / "fsd50k" / "vocabulary_sample.csv"
    mapping = map_fsd50k_vocabulary(merged_ach, path)
    with open(meta_dir / "fsd50k" / "dev_sample.csv") as handle:
        for row in csv.DictReader(handle):
            for mid in row["mids"].split(","):
                assert mid in merged_ach  # every FSD50K ground-truth MID is a concept
    assert mapping.concepts_for(["Electric_guitar"])[0] == merged_ach.root


@pytest.mark.parametrize("which", ["core_ach", "merged_ach"])
def test_esc50(request, which: str, meta_dir: Path):
    ach = request.getfixturevalue(which)
    from_file = map_esc50_classes(ach, meta_dir / "esc50" / "esc50.csv")
    built_in = map_esc50_classes(ach)
    assert len(from_file) == 50 and from_file.coverage == 1.0
    assert [(c.index, c.label) for c in from_file.classes] == [
        (c.index, c.label) for c in built_in.classes
    ]
    assert all(c.mid and c.mid.startswith("/") for c in from_file.classes)
    dog = from_file.by_label("dog")
    assert dog.mid == "/m/0bt9lr" and ach.concept(dog.concepts[0]).name == "Dog"
    sipping = from_file.by_label("drinking_sipping")
    assert sipping.via == "table" and ach.ids[sipping.concepts[0]] == "hacd:drinking"


def test_bad_vocabulary_rows(core_ach: ConceptHierarchy, tmp_path: Path):
    path = tmp_path / "vocabulary.csv"
    path.write_text("0,Dog,/m/0bt9lr\nbroken row\n")
    with pytest.raises(ValueError, match="vocabulary.csv, line 2"):
        map_fsd50k_vocabulary(core_ach, path)
    esc = tmp_path / "esc50.csv"
    esc.write_text("filename,fold,target,category,esc10,src_file,take\na.wav,1,0,kazoo,False,1,A\n")
    with pytest.raises(ValueError, match="kazoo"):
        map_esc50_classes(core_ach, esc)
