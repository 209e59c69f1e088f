"""Map dataset label vocabularies onto ACH concepts.

Supported vocabularies:

- AudioSet ``class_labels_indices.csv`` (``index,mid,display_name``; 527 classes);
- FSD50K ``vocabulary.csv`` (``index,label,mid``; no header; 200 classes);
- ESC-50 (50 classes, from ``meta/esc50.csv`` or the built-in class list), each given
  its AudioSet concept by the table shipped in ``resources/esc50_audioset.yaml``.

A MID maps to the concept whose id it is (merged hierarchies), else to the concept that
lists it in ``audioset`` (core hierarchy), else to what a variant redirected it to. When
none of these holds and the AudioSet ontology is given, the MID maps to its nearest
AudioSet ancestors that do map (``via`` records which); otherwise it is reported unmapped.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
import yaml

from hacd_graph.ach.audioset import load_audioset
from hacd_graph.ach.concept import Concept
from hacd_graph.ach.hierarchy import ConceptHierarchy
from hacd_graph.ach.labels import close_labels

ESC50_TABLE = Path(__file__).resolve().parent / "resources" / "esc50_audioset.yaml"
Ontology = str | Path | Sequence[Concept] | None


@dataclass(frozen=True)
class ClassMapping:
    """How one dataset class maps onto the hierarchy.

    Attributes:
        index: The class index in the dataset's vocabulary.
        label: The dataset's label string.
        mid: The AudioSet MID of the class (``None`` when the dataset gives none).
        concepts: ACH indices the class maps to (before closure); empty when unmapped.
        via: ``"exact"`` (the class's own concept), ``"ancestor"`` (its nearest mapped
            AudioSet ancestor), ``"table"`` (a curated entry) or ``"unmapped"``.
    """

    index: int
    label: str
    mid: str | None
    concepts: tuple[int, ...]
    via: str


@dataclass(frozen=True)
class VocabularyMapping:
    """A dataset vocabulary mapped onto one hierarchy.

    Attributes:
        dataset: ``"audioset"``, ``"fsd50k"`` or ``"esc50"``.
        hierarchy: The hierarchy mapped onto.
        classes: One :class:`ClassMapping` per dataset class, in dataset index order.
    """

    dataset: str
    hierarchy: ConceptHierarchy
    classes: list[ClassMapping] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.classes)

    @property
    def unmapped(self) -> list[str]:
        """Labels of the classes that map to no concept."""
        return [c.label for c in self.classes if not c.concepts]

    @property
    def coverage(self) -> float:
        """Fraction of classes that map to at least one concept."""
        return sum(bool(c.concepts) for c in self.classes) / max(len(self.classes), 1)

    def by_label(self, label: str) -> ClassMapping:
        """The mapping of the class with this label (or MID)."""
        for mapping in self.classes:
            if label in (mapping.label, mapping.mid):
                return mapping
        raise KeyError(f"{self.dataset}: no class {label!r}")

    def concepts_for(self, classes: Iterable[int | str]) -> list[int]:
        """Closed ACH indices for a clip labelled with these dataset classes.

        Args:
            classes: Dataset class indices, labels or MIDs.
        """
        by_index = {c.index: c for c in self.classes}
        hits: list[int] = []
        for item in classes:
            mapping = by_index[int(item)] if isinstance(item, int) else self.by_label(item)
            hits.extend(mapping.concepts)
        return close_labels(self.hierarchy, hits)

    def multi_hot(self, clips: Sequence[Iterable[int | str]]) -> torch.Tensor:
        """Closed multi-hot ACH targets [B, N] for B clips' dataset labels."""
        out = torch.zeros(len(clips), len(self.hierarchy))
        for row, classes in enumerate(clips):
            indices = self.concepts_for(classes)
            if indices:
                out[row, indices] = 1
        return out

    def class_matrix(self) -> torch.Tensor:
        """FloatTensor [C, N]: row k is the closed multi-hot target of dataset class k
        (``targets = dataset_multi_hot @ class_matrix > 0`` maps a whole batch)."""
        out = torch.zeros(len(self.classes), len(self.hierarchy))
        for row, mapping in enumerate(self.classes):
            indices = close_labels(self.hierarchy, mapping.concepts)
            if indices:
                out[row, indices] = 1
        return out


class MidResolver:
    """Maps AudioSet MIDs to concepts of one hierarchy (see the module docstring)."""

    def __init__(self, hierarchy: ConceptHierarchy, ontology: Ontology = None) -> None:
        self.hierarchy = hierarchy
        self._ids = set(hierarchy.ids)
        self._listed: dict[str, list[int]] = {}
        for i, concept in enumerate(hierarchy.concepts):
            for mid in concept.audioset:
                self._listed.setdefault(mid, []).append(i)
        if ontology is None:
            self._parents: dict[str, tuple[str, ...]] = {}
        else:
            concepts = (
                ontology
                if isinstance(ontology, Sequence) and not isinstance(ontology, str)
                else load_audioset(ontology)
            )
            self._parents = {c.id: c.parents for c in concepts}

    def direct(self, mid: str) -> list[int]:
        """Concepts that are, list or stand for ``mid`` (no ontology walk)."""
        if mid in self._ids:
            return [self.hierarchy.index(mid)]
        if mid in self._listed:
            return list(self._listed[mid])
        return self.hierarchy.find(mid)

    def resolve(self, mid: str) -> tuple[list[int], str]:
        """``(concept indices, via)`` for ``mid``; ``via`` as in :class:`ClassMapping`."""
        found = self.direct(mid)
        if found:
            return found, "exact"
        frontier, seen = [mid], {mid}
        while frontier:
            parents = [p for m in frontier for p in self._parents.get(m, ()) if p not in seen]
            seen.update(parents)
            hits = sorted({i for p in parents for i in self.direct(p)})
            if hits:
                return hits, "ancestor"
            frontier = parents
        return [], "unmapped"


def map_audioset_labels(
    hierarchy: ConceptHierarchy, class_labels_csv: str | Path, ontology: Ontology = None
) -> VocabularyMapping:
    """Map AudioSet's ``class_labels_indices.csv`` (``index,mid,display_name``).

    Raises:
        ValueError: naming the file and line when a row is malformed.
    """
    resolver = MidResolver(hierarchy, ontology)
    classes = []
    for number, row in _csv_rows(class_labels_csv, header=("index", "mid", "display_name")):
        index, mid, label = _row(row, 3, class_labels_csv, number)
        concepts, via = resolver.resolve(mid)
        classes.append(ClassMapping(int(index), label, mid, tuple(concepts), via))
    return VocabularyMapping("audioset", hierarchy, classes)


def map_fsd50k_vocabulary(
    hierarchy: ConceptHierarchy, vocabulary_csv: str | Path, ontology: Ontology = None
) -> VocabularyMapping:
    """Map FSD50K's ``vocabulary.csv`` (``index,label,mid``, no header).

    Raises:
        ValueError: naming the file and line when a row is malformed.
    """
    resolver = MidResolver(hierarchy, ontology)
    classes = []
    for number, row in _csv_rows(vocabulary_csv, header=None):
        index, label, mid = _row(row, 3, vocabulary_csv, number)
        concepts, via = resolver.resolve(mid)
        classes.append(ClassMapping(int(index), label, mid, tuple(concepts), via))
    return VocabularyMapping("fsd50k", hierarchy, classes)


def map_esc50_classes(
    hierarchy: ConceptHierarchy, esc50_csv: str | Path | None = None, ontology: Ontology = None
) -> VocabularyMapping:
    """Map the 50 ESC-50 classes (from ``esc50.csv``'s ``target,category`` or built in).

    A class maps to its curated core concept when the hierarchy has it (a more specific
    concept than AudioSet offers), else through its AudioSet MID.

    Raises:
        ValueError: a category of ``esc50_csv`` is not in the built-in table.
    """
    with open(ESC50_TABLE, encoding="utf-8") as handle:
        table = yaml.safe_load(handle)
    if esc50_csv is None:
        categories = list(enumerate(table))
    else:
        found: dict[int, str] = {}
        with open(esc50_csv, encoding="utf-8", newline="") as handle:
            for record in csv.DictReader(handle):
                found[int(record["target"])] = record["category"]
        categories = sorted(found.items())
    resolver = MidResolver(hierarchy, ontology)
    classes = []
    for index, category in categories:
        if category not in table:
            raise ValueError(f"{esc50_csv}: ESC-50 category {category!r} is not in {ESC50_TABLE}")
        entry = table[category]
        mid = entry["audioset"]
        core = entry.get("core")
        if core is not None and core in hierarchy:
            concepts, via = hierarchy.resolve(core), "table"
        else:
            concepts, via = resolver.resolve(mid)
        classes.append(ClassMapping(index, category, mid, tuple(concepts), via))
    return VocabularyMapping("esc50", hierarchy, classes)


def _csv_rows(path: str | Path, header: tuple[str, ...] | None):
    with open(path, encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            if not row or not any(cell.strip() for cell in row):
                continue
            if number == 1 and header and [c.strip() for c in row] == list(header):
                continue
            yield number, [cell.strip() for cell in row]


def _row(row: list[str], width: int, path: str | Path, number: int) -> list[str]:
    if len(row) != width or not row[0].isdigit():
        raise ValueError(
            f"{path}, line {number}: expected {width} columns 'index,...', got {row!r}"
        )
    return row
