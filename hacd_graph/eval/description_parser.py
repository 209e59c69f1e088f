"""Parse a hierarchical description (generated or reference) back into ACH concepts.

The lexicon (phrase -> concept indices) has one source of truth, the generator itself:

- the phrase tables of ``hacd_graph.data.text.phrases`` with the catalog's concept ids
  (sources and background elements, instruments, techniques, genres, places; a sound group
  such as ``"animals"`` stands for the concepts every source of that group shares);
- phrases read off the generator's own text functions: ``part_phrase`` for every
  instrument x role x technique, and ``describe`` of a probe scene varied one attribute at a
  time (tempo, feel, meter, style, reverberation, room, fidelity, bandwidth, hiss, clipping,
  loudness, crowd size): a fragment written only for one value names that value's concepts;
- the hierarchy's concept names and aliases.

Matching is case-insensitive on word boundaries, leftmost and longest first
(``"smooth legato phrases"`` wins over the concept name ``"Smooth"``). Parsed concepts are
closed under ancestors. :attr:`DescriptionParser.expressible` is every concept that the
generator's own text can name (the parse of all its phrases and probe descriptions): a
description cannot be expected to mention anything else.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from hacd_graph.ach import ConceptHierarchy
from hacd_graph.data.synth import catalog as cat
from hacd_graph.data.synth.record import (
    AcousticsRecord,
    BackgroundRecord,
    ComponentRecord,
    MusicRecord,
    PartRecord,
    SceneRecord,
    SourceRecord,
)
from hacd_graph.data.synth.sources import SOURCES
from hacd_graph.data.text import phrases as ph
from hacd_graph.data.text.description import describe, part_phrase

_SECTION = re.compile(r"^([A-Za-z][A-Za-z &\-]{0,40}):\s*(.*)$", re.S)
_SENTENCE_END = re.compile(r"\.(?:\s+|$)")
_FRAGMENT_SPLIT = re.compile(r"[.;:,]\s*|\s+\(|\)")
_ARTICLE = re.compile(r"^(?:a|an|the)\s+")


@dataclass(frozen=True)
class ParsedDescription:
    """What a description says.

    Args:
        concepts: concept indices named by the text, closed under ancestors.
        sections: ``{header (lower case): content}`` of its ``"Header: content."`` sentences.
        failed: malformed output: no ``"Header: content."`` section, or no concept at all.
        reason: why it failed (``""`` when it did not).
    """

    concepts: frozenset[int]
    sections: dict[str, str] = field(default_factory=dict)
    failed: bool = False
    reason: str = ""


class DescriptionParser:
    """Phrase matcher from descriptions to concepts of one hierarchy (see the module doc).

    Args:
        ach: the hierarchy the concepts index (the default pipeline's is
            ``build_ach(("core", "audioset"))``); catalog ids it lacks are skipped.
    """

    def __init__(self, ach: ConceptHierarchy) -> None:
        self.ach = ach
        self._closure = [frozenset(ach.ancestors(i) | {i}) for i in range(len(ach))]
        generator = _generator_lexicon(ach)
        lexicon: dict[str, set[int]] = {}
        for i, concept in enumerate(ach.concepts):
            for text in (concept.name, *concept.aliases):
                key = _normalise(text)
                if key:
                    lexicon.setdefault(key, set()).add(i)
        lexicon.update(generator)  # the generator's meaning of its own phrases wins
        self.lexicon: dict[str, frozenset[int]] = {k: frozenset(v) for k, v in lexicon.items()}
        alternatives = sorted(self.lexicon, key=lambda p: (-len(p), p))
        self._pattern = re.compile(
            r"(?<!\w)(?:" + "|".join(re.escape(p) for p in alternatives) + r")(?!\w)"
        )
        written = set(generator)
        for text in _probe_descriptions():
            written |= set(self.find_phrases(text))
        self.named: frozenset[int] = frozenset(i for p in written for i in self.lexicon[p])
        self.expressible: frozenset[int] = self._close(self.named)

    def expected(self, labels: Iterable[int]) -> frozenset[int]:
        """What a perfect description of a clip with ``labels`` names: its labels that some
        phrase of the generator names, closed under ancestors (a subset of
        ``labels ∩ expressible``: ``Timbre`` is expected only through a nameable timbre)."""
        return self._close(set(labels) & self.named)

    @classmethod
    def from_hierarchy(cls, ach: ConceptHierarchy) -> DescriptionParser:
        """The parser of ``ach`` (same as ``DescriptionParser(ach)``)."""
        return cls(ach)

    def find_phrases(self, text: str) -> list[str]:
        """The lexicon phrases found in ``text``, leftmost-longest, without overlaps."""
        return self._pattern.findall(_normalise(text))

    def parse(self, text: str) -> ParsedDescription:
        """Concepts and sections of one description; never raises on a string.

        Concepts come from the whole text (headers included), so a description that lost
        its format still counts for what it names; ``failed`` reports the lost format.
        """
        text = text if isinstance(text, str) else str(text)
        sections: dict[str, str] = {}
        for sentence in _SENTENCE_END.split(text):
            m = _SECTION.match(sentence.strip())
            if m and m.group(2).strip():
                sections.setdefault(" ".join(m.group(1).lower().split()), m.group(2).strip())
        concepts = self._close(i for p in self.find_phrases(text) for i in self.lexicon[p])
        reason = ""
        if not sections:
            reason = "no 'Name: content.' section"
        elif not concepts:
            reason = "no concept named"
        return ParsedDescription(concepts, sections, bool(reason), reason)

    def _close(self, indices: Iterable[int]) -> frozenset[int]:
        out: set[int] = set()
        for i in indices:
            out |= self._closure[i]
        return frozenset(out)


def _normalise(text: str) -> str:
    return " ".join(text.casefold().split())


def _ids(ach: ConceptHierarchy, ids: Iterable[str | None]) -> set[int]:
    return {i for cid in ids if cid for i in ach.find(cid)}


def _closed(ach: ConceptHierarchy, i: int) -> set[int]:
    return ach.ancestors(i) | {i}


def _generator_lexicon(ach: ConceptHierarchy) -> dict[str, set[int]]:
    """Phrase -> concept indices from the generator's tables and text functions."""
    out: dict[str, set[int]] = {}

    def add(phrase: str, ids: Iterable[str | None]) -> None:
        key = _normalise(phrase)
        found = _ids(ach, ids)
        if key and found:
            out.setdefault(key, set()).update(found)

    for kind, forms in ph.SOURCE_PHRASES.items():
        for _, _, nominal in forms:
            add(nominal, cat.SOURCE_CONCEPTS[kind])
    for element, name in ph.BACKGROUND_ELEMENT_NAMES.items():
        add(name, cat.SOURCE_CONCEPTS[element])
    for category, group in ph.SOURCE_GROUPS.items():
        shared = [
            set().union(*(_closed(ach, i) for i in _ids(ach, cat.SOURCE_CONCEPTS[k])))
            for k, s in SOURCES.items()
            if s.category == category and _ids(ach, cat.SOURCE_CONCEPTS[k])
        ]
        if shared:
            common = set.intersection(*shared) - {ach.root}
            add(group, (ach.ids[i] for i in common))
    for key, name in ph.INSTRUMENT_NAMES.items():
        add(name, cat.INSTRUMENT_CONCEPTS[key])
    for key, text in ph.TECHNIQUE_PHRASES.items():
        add(text, cat.TECHNIQUE_CONCEPTS[key])
        add(_ARTICLE.sub("", text), cat.TECHNIQUE_CONCEPTS[key])
    for key, name in ph.GENRE_NAMES.items():
        add(f"genre {name}", (cat.GENRE_CONCEPTS[key],))
        add(name, (cat.GENRE_CONCEPTS[key],))
    for key, name in ph.PLACE_NAMES.items():
        add(name, (cat.PLACE_CONCEPTS[key],))
        add(_ARTICLE.sub("", name), (cat.PLACE_CONCEPTS[key],))
    for phrase, ids in _part_phrases().items():
        add(phrase, ids)
    for phrase, ids in _attribute_phrases().items():
        add(phrase, ids)
    return out


def _instrument_ids(instrument: str, techniques: Sequence[str]) -> tuple[str, ...]:
    if instrument == "synthesizer":
        return (cat.SYNTH_BY_TECHNIQUE.get(techniques[0], "hacd:synthesizer"),)
    return cat.INSTRUMENT_CONCEPTS[instrument]


def _part_phrases() -> dict[str, set[str]]:
    """Every single-technique part phrase ``part_phrase`` writes -> the concept ids true of
    every part that it is written for (``"walking bass line"`` names no instrument)."""
    out: dict[str, set[str]] = {}

    def meet(text: str, ids: set[str]) -> None:
        out[text] = out[text] & ids if text in out else set(ids)

    for instrument in ph.INSTRUMENT_NAMES:
        base = set(part_phrase(PartRecord(instrument, "rhythm_section", ["sticks"])).split(", "))
        for technique in cat.TECHNIQUE_CONCEPTS:
            for role in (*cat.ROLE_CONCEPTS, "rhythm_section"):
                text = part_phrase(PartRecord(instrument, role, [technique]))
                ids = {*_instrument_ids(instrument, [technique]),
                       *cat.TECHNIQUE_CONCEPTS[technique], cat.ROLE_CONCEPTS.get(role)}
                meet(text, {i for i in ids if i})
                for piece in set(text.split(", ")) - base - {text}:  # drums: one per technique
                    meet(piece, set(cat.TECHNIQUE_CONCEPTS[technique]))
    return out


# ------------------------------------------------------------- probing ``describe``
def _probe_scene() -> SceneRecord:
    """A scene with music, a source, speech and crowd chatter: every section is written."""
    music = MusicRecord(
        genre="jazz", style=None, tempo_bpm=120.0, tempo_class="moderate", meter="4/4",
        feel="straight", key="C major",
        parts=[PartRecord("piano", "solo", ["arpeggios"], "prominent")],
    )
    return SceneRecord(
        seed=0, index=0, sample_rate=16000, duration_s=4.0, place="cafe", preset=None,
        components=[
            ComponentRecord(music=music),
            ComponentRecord(source=SourceRecord("dog_bark", events=1)),
            ComponentRecord(source=SourceRecord("male_speech")),
        ],
        background=BackgroundRecord("cafe", "moderate", {"crowd_chatter": 0}),
        acoustics=AcousticsRecord(
            environment="indoor", room_size="medium", rt60_s=0.5, reverberation="moderate",
            snr_db=10.0, noise_floor_db=-60.0, noise="clean", bandwidth="full", clipping=False,
            loudness_db=-20.0, loudness="moderate", fidelity="high",
        ),
    )


def _vary(scene: SceneRecord, part: str, name: str, value: object) -> SceneRecord:
    if part == "music":
        music = dataclasses.replace(scene.components[0].music, **{name: value})
        components = [ComponentRecord(music=music), *scene.components[1:]]
        return dataclasses.replace(scene, components=components)
    changed = dataclasses.replace(getattr(scene, part), **{name: value})
    return dataclasses.replace(scene, **{part: changed})


def _noisy_ids() -> tuple[str, ...]:
    """Concepts of every hiss level the generator calls ``"noisy"``."""
    from hacd_graph.data.synth.acoustics import classify_noise

    levels = [set(cat.noise_floor_concepts(db)) for db in (-34.0, -30.0, -20.0, -10.0, 0.0)
              if classify_noise(db) == "noisy"]
    return tuple(set.intersection(*levels)) if levels else ()


def _attribute_probes() -> list[tuple[str, str, dict[object, tuple[str, ...]]]]:
    """(record part, field, value -> concept ids) for every attribute ``describe`` writes."""
    def one(table: dict) -> dict[object, tuple[str, ...]]:
        return {k: (v,) for k, v in table.items()}

    return [
        ("music", "tempo_class", one(cat.TEMPO_CONCEPTS)),
        ("music", "feel", one(cat.FEEL_CONCEPTS)),
        ("music", "meter", dict(cat.METER_CONCEPTS)),
        ("music", "style", {None: (), **one(cat.STYLE_CONCEPTS)}),
        ("acoustics", "reverberation", one(cat.REVERB_CONCEPTS)),
        ("acoustics", "room_size", one(cat.ROOM_CONCEPTS)),
        ("acoustics", "fidelity", one(cat.FIDELITY_CONCEPTS)),
        ("acoustics", "bandwidth", dict(cat.BANDWIDTH_CONCEPTS)),
        ("acoustics", "loudness", one(cat.LOUDNESS_CONCEPTS)),
        ("acoustics", "noise", {"clean": (), "noisy": _noisy_ids()}),
        ("acoustics", "clipping", {False: (), True: ("hacd:clipping",)}),
        ("acoustics", "environment", {"indoor": ("hacd:indoor",), "outdoor": ("hacd:outdoor",)}),
        ("background", "intensity", one(cat.CROWD_CONCEPTS)),
    ]


def _fragments(text: str) -> set[str]:
    return {_normalise(f) for f in _FRAGMENT_SPLIT.split(text) if f.strip()}


def _attribute_phrases() -> dict[str, set[str]]:
    """Fragments ``describe`` writes for exactly one value of an attribute -> its ids."""
    base = _probe_scene()
    out: dict[str, set[str]] = {}
    for part, name, table in _attribute_probes():
        written = {v: _fragments(describe(_vary(base, part, name, v))) for v in table}
        for value, fragments in written.items():
            others = set().union(*(f for v, f in written.items() if v != value))
            for fragment in fragments - others:
                out.setdefault(fragment, set()).update(table[value])
    return out


def _probe_descriptions() -> list[str]:
    """Descriptions of probe scenes (every header and general category the generator has)."""
    base = _probe_scene()
    speech_only = dataclasses.replace(
        base, components=[base.components[2], base.components[2]],
        background=BackgroundRecord("room_tone", "moderate", {}),
    )
    music_only = dataclasses.replace(
        base, components=base.components[:1], background=BackgroundRecord("room_tone")
    )
    texts = [describe(s) for s in (base, speech_only, music_only)]
    for part, name, table in _attribute_probes():
        texts += [describe(_vary(base, part, name, v)) for v in table]
    return texts


# ------------------------------------------------------------------------ scoring
def _as_array(x: np.ndarray | torch.Tensor) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def expected_truth(true_labels: np.ndarray | torch.Tensor,
                   parser: DescriptionParser) -> np.ndarray:
    """``[C, N]`` bool: row c is ``parser.expected(labels[c])``, what a perfect description
    of clip c names (the truth to hold parsed descriptions against)."""
    labels = _as_array(true_labels) > 0.5
    out = np.zeros(labels.shape, dtype=bool)
    for c, row in enumerate(labels):
        out[c, list(parser.expected(np.flatnonzero(row).tolist()))] = True
    return out


def description_scores(
    predicted_texts: Sequence[str],
    true_labels: np.ndarray | torch.Tensor,
    ach: ConceptHierarchy,
    parser: DescriptionParser | None = None,
) -> dict[str, float]:
    """Per-level concept precision, recall and F1 of generated descriptions.

    The truth of clip c is ``parser.expected(labels[c]) ∪ (labels[c] ∩ predicted[c])``: its
    labels that the generator's text can name (closed under ancestors; a subset of
    ``labels ∩ parser.expressible``), plus any true concept the prediction names anyway, so
    naming a true concept is never a false positive. Counts are pooled over clips (micro), per
    level of the hierarchy; the root level 0 is left out. A level with no true and no
    predicted concept gets no key. P (R) is 0 where nothing was predicted (true).

    Args:
        predicted_texts: C generated descriptions.
        true_labels: ``[C, N]`` 0/1 labels (closed under ancestors).
        ach: the hierarchy of the labels' columns.
        parser: its parser (built from ``ach`` when omitted; building takes ~1 s).

    Returns:
        ``description/level{L}/{P,R,F1}``, ``description/{P,R,F1}`` (all levels pooled),
        ``description/parse_failures`` (count) and ``description/parse_failure_rate``.
    """
    parser = parser or DescriptionParser(ach)
    labels = _as_array(true_labels) > 0.5
    if labels.ndim != 2 or labels.shape != (len(predicted_texts), len(ach)):
        raise ValueError(
            f"true_labels must be [C={len(predicted_texts)}, N={len(ach)}], got {labels.shape}"
        )
    level = ach.level.numpy()
    depth = int(level.max()) + 1
    counts = np.zeros((depth, 3), dtype=np.int64)  # tp, fp, fn per level
    failures = 0
    for text, row in zip(predicted_texts, labels, strict=True):
        parsed = parser.parse(text)
        failures += parsed.failed
        pred = np.zeros(len(ach), dtype=bool)
        pred[list(parsed.concepts)] = True
        truth = row & pred
        truth[list(parser.expected(np.flatnonzero(row).tolist()))] = True
        for k, mask in enumerate((pred & truth, pred & ~truth, truth & ~pred)):
            counts[:, k] += np.bincount(level[mask], minlength=depth)
    out: dict[str, float] = {}
    for lv in range(1, depth):
        if counts[lv].sum():
            out.update(_prf(f"description/level{lv}", *counts[lv]))
    out.update(_prf("description", *counts[1:].sum(axis=0)))
    out["description/parse_failures"] = float(failures)
    out["description/parse_failure_rate"] = failures / len(predicted_texts) if len(
        predicted_texts) else 0.0
    return out


def _prf(prefix: str, tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {f"{prefix}/P": float(p), f"{prefix}/R": float(r), f"{prefix}/F1": float(f)}
