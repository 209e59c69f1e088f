"""Template text targets of a bank clip from its labels: caption, hierarchical description
and QA pairs, in the same fields and QA format as the synthetic data (``text/targets.py``).

Only what the labels say is written: the most specific concepts name the sound, their
ancestors give the general category and main components.
"""

from __future__ import annotations

from typing import Any

from hacd_graph.ach import ConceptHierarchy


def _name(ach: ConceptHierarchy, i: int) -> str:
    return ach.names[i].split(",")[0].strip().lower()


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def most_specific(ach: ConceptHierarchy, concepts: set[int]) -> list[int]:
    """The labelled concepts none of whose descendants are labelled, deepest first."""
    covered = {a for c in concepts for a in ach.ancestors(c)}
    leaves = [c for c in concepts if c not in covered]
    return sorted(leaves, key=lambda c: (-int(ach.level[c]), ach.names[c]))


def bank_texts(ach: ConceptHierarchy, concepts: set[int], source_package: str) -> dict[str, Any]:
    """``caption``, ``captions``, ``description`` and ``qa`` of one bank clip.

    Args:
        ach: the hierarchy the labels belong to.
        concepts: labelled concept indices, closed under ancestors.
        source_package: the Debian package the recording comes from (not written into the
            text; kept for the caller's record).
    """
    del source_package
    level = [int(x) for x in ach.level.tolist()]
    leaves = most_specific(ach, concepts)
    leaf_names = list(dict.fromkeys(_name(ach, c) for c in leaves))
    # "general" = the top concepts under the root, looking through a bare "sound source".
    tops = {c for c in concepts if level[c] == 1 and "source" not in ach.ids[c]}
    tops |= {c for c in concepts if level[c] == 2 and any(
        "source" in ach.ids[p] for p in ach.parents(c))}
    general_ids = sorted(tops, key=lambda c: ach.names[c])
    general = [_name(ach, c) for c in general_ids]
    main = sorted({_name(ach, c) for c in concepts
                   if c not in tops and any(p in tops for p in ach.parents(c))})
    caption = f"The sound of {_join(leaf_names)}." if leaf_names else "A sound."
    captions = [caption, f"{_join(leaf_names).capitalize()} can be heard.",
                f"A recording of {_join(leaf_names)}."]
    parts = []
    if general:
        parts.append(f"General category: {_join(general)}.")
    if main:
        parts.append(f"Main components: {_join(main)}.")
    if leaf_names:
        parts.append(f"Specific elements: {_join(leaf_names)}.")
    qa: list[dict[str, Any]] = []
    if general:
        qa.append({"question": "What is the general category of this audio?",
                   "answer": _join(general), "level": "general", "type": "attribute",
                   "concept": ach.ids[general_ids[0]]})
    if leaves:
        qa.append({"question": "What is the most specific sound you can identify?",
                   "answer": leaf_names[0], "level": "specific", "type": "attribute",
                   "concept": ach.ids[leaves[0]]})
    music = [c for c in range(len(ach)) if level[c] == 1 and "music" in ach.names[c].lower()]
    if music:
        qa.append({"question": "Is there music?",
                   "answer": "yes" if music[0] in concepts else "no",
                   "level": "general", "type": "yes_no", "concept": ach.ids[music[0]]})
    return {"caption": caption, "captions": captions, "description": " ".join(parts), "qa": qa}
