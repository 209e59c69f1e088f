"""One node of the Audio Concept Hierarchy, as plain immutable data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

# Fields that hold tuples of strings; serialised as JSON lists and omitted when empty.
_TUPLE_FIELDS = ("parents", "aliases", "audioset", "restrictions", "alt_ids", "sources")


@dataclass(frozen=True)
class Concept:
    """A concept of the hierarchy.

    Args:
        id: Stable identifier: ``hacd:<snake_case>`` for concepts the project authors, the
            AudioSet MID (e.g. ``/m/0bt9lr``) for AudioSet concepts and for core concepts
            unified with one.
        name: Human-readable name.
        description: One sentence saying what the concept means.
        facet: The facet the concept belongs to (``sound_source``, ``acoustic_property``,
            ``musical_attribute``, ``acoustic_scene``, ``human_activity`` or ``root``).
        parents: Ids of the parent concepts, in order of preference (the first one is the
            concept's main parent, used for drawing trees).
        aliases: Other names, used to match dataset vocabularies.
        audioset: AudioSet MIDs the concept stands for (its own MID for AudioSet concepts).
        restrictions: AudioSet restrictions kept as attributes (``abstract``, ``blacklist``).
        alt_ids: Former or alternative ids that resolve to this concept (a core id kept
            after unification with an AudioSet MID).
        sources: Where the concept comes from (``core``, ``audioset``, ``file``...).
    """

    id: str
    name: str
    description: str = ""
    facet: str = ""
    parents: tuple[str, ...] = field(default=())
    aliases: tuple[str, ...] = field(default=())
    audioset: tuple[str, ...] = field(default=())
    restrictions: tuple[str, ...] = field(default=())
    alt_ids: tuple[str, ...] = field(default=())
    sources: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict; empty optional fields are left out."""
        out: dict[str, Any] = {"id": self.id, "name": self.name}
        if self.description:
            out["description"] = self.description
        if self.facet:
            out["facet"] = self.facet
        for key in _TUPLE_FIELDS:
            value = getattr(self, key)
            if value or key == "parents":
                out[key] = list(value)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Concept:
        """Inverse of :meth:`to_dict`; unknown keys raise ``KeyError`` naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise KeyError(f"concept {data.get('id')!r}: unknown field(s) {unknown}")
        kwargs: dict[str, Any] = dict(data)
        for key in _TUPLE_FIELDS:
            if key in kwargs:
                kwargs[key] = tuple(kwargs[key])
        return cls(**kwargs)
