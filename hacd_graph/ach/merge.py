"""Merge the AudioSet ontology into the core hierarchy under one root.

Rules:
- A core concept whose first ``audioset`` MID is in the ontology is *unified* with that
  AudioSet concept: one node whose id is the MID (the core id stays resolvable as an
  ``alt_id``), with the core name, description and facet, the AudioSet name as an alias,
  the AudioSet restrictions, and the parents of both (core parents first).
- Every other AudioSet concept keeps its MID, name, description and restrictions, and all
  its AudioSet parents (mapped to the unified ids).
- AudioSet roots without a core counterpart attach under the core concept named for them
  in the core's ``audioset_attach`` table (``default`` otherwise).
- AudioSet-only concepts take the facet of their main (first) parent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from hacd_graph.ach.concept import Concept
from hacd_graph.ach.core import CoreSource
from hacd_graph.ach.validate import HierarchyError


def merge_audioset(
    core: CoreSource, audioset: Sequence[Concept], audioset_file: str = "<audioset>"
) -> tuple[list[Concept], dict[str, str]]:
    """Unify ``core`` with the AudioSet concepts.

    Args:
        core: The parsed core hierarchy (:func:`hacd_graph.ach.core.load_core`).
        audioset: Concepts from :func:`hacd_graph.ach.audioset.load_audioset`.
        audioset_file: Path of the ontology, for error messages.

    Returns:
        ``(concepts, files)``: the merged concepts (core order, then AudioSet order) and a
        map from each id to the file(s) that define it. Validation is left to
        :class:`~hacd_graph.ach.hierarchy.ConceptHierarchy`, which names those files.

    Raises:
        HierarchyError: the attachment table names an unknown concept.
    """
    by_mid = {concept.id: concept for concept in audioset}
    new_id: dict[str, str] = {}
    for concept in core.concepts:
        if concept.audioset and concept.audioset[0] in by_mid:
            new_id[concept.id] = concept.audioset[0]
    unified = {mid: core_id for core_id, mid in new_id.items()}

    def rename(concept_id: str) -> str:
        return new_id.get(concept_id, concept_id)

    default_attach = core.audioset_attach.get("default")
    merged: list[Concept] = []
    files: dict[str, str] = {}
    for concept in core.concepts:
        parents = [rename(p) for p in concept.parents]
        if concept.id not in new_id:
            merged.append(replace(concept, parents=tuple(parents)))
            files[concept.id] = core.files[concept.id]
            continue
        other = by_mid[new_id[concept.id]]
        parents += [rename(p) for p in other.parents if rename(p) not in parents]
        aliases = list(concept.aliases)
        if other.name.casefold() != concept.name.casefold() and other.name not in aliases:
            aliases.append(other.name)
        merged.append(
            replace(
                concept,
                id=other.id,
                parents=tuple(parents),
                aliases=tuple(aliases),
                restrictions=other.restrictions,
                alt_ids=(concept.id, *concept.alt_ids),
                sources=("core", "audioset"),
            )
        )
        files[other.id] = f"{core.files[concept.id]} + {audioset_file}"

    facet = {c.id: c.facet for c in merged}
    pending: list[Concept] = []
    for concept in audioset:
        if concept.id in unified:
            continue
        parents = tuple(rename(p) for p in concept.parents)
        if not parents:
            target = core.audioset_attach.get(concept.id, default_attach)
            if target is None:
                raise HierarchyError(
                    "AudioSet root has no place in the core: add it (or 'default') to "
                    "audioset_attach in the core's root file",
                    concept.id,
                    audioset_file,
                )
            parents = (rename(target),)
        pending.append(replace(concept, parents=parents))
        files[concept.id] = audioset_file

    # Facets flow down from the main parent; AudioSet lists parents before children
    # mostly but not always, so repeat until every facet is known.
    while pending:
        left = []
        for concept in pending:
            main = concept.parents[0]
            if main in facet:
                facet[concept.id] = facet[main]
                merged.append(replace(concept, facet=facet[main]))
            else:
                left.append(concept)
        if len(left) == len(pending):  # a cycle among AudioSet concepts: let validation say
            merged.extend(left)
            break
        pending = left
    return merged, files
