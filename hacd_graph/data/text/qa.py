"""Question–answer pairs from a scene record, at recorded levels of abstraction.

Levels: ``"general"`` (is there music? indoors or outdoors?), ``"category"`` (which genre?
which instrument family carries the melody? what kind of place?) and ``"specific"`` (is the
bass line walking? how many times does the dog bark?). Types: ``"yes_no"``, ``"choice"``,
``"counting"`` and ``"attribute"``. Negative yes/no questions ask only about sounds that
are absent from the whole clip, foreground and background.
"""

from __future__ import annotations

import numpy as np

from hacd_graph.data.synth.catalog import SOURCE_CONCEPTS
from hacd_graph.data.synth.record import SceneRecord
from hacd_graph.data.synth.sources import SOURCES
from hacd_graph.data.text import phrases as ph
from hacd_graph.data.text.description import general_category

LEVELS = ("general", "category", "specific")
QA_TYPES = ("yes_no", "choice", "counting", "attribute")
_COUNTABLE = {
    "dog_bark": "does the dog bark",
    "knock": "does someone knock",
    "car_horn": "does the horn honk",
    "cough": "does someone cough",
    "glass_clink": "do glasses clink",
    "crow_caw": "does the crow caw",
    "duck_quack": "does the duck quack",
    "cat_meow": "does the cat meow",
    "owl_hoot": "does the owl hoot",
}
_SPEECH = ("male_speech", "female_speech", "child_speech")
# Sources whose sound includes others: applause is many claps, traffic many engines.
_CONTAINS = {"applause": ("clapping",), "traffic": ("car_engine", "truck_engine")}


# The ACH concept each fixed question is about (its level in the hierarchy is a finer
# measure of the question's abstraction than the three named levels).
_TOPICS = {
    "Is there music?": "hacd:music",
    "Can you hear people talking?": "hacd:speech",
    "Are there any animal sounds?": "hacd:animal",
    "Is this recorded indoors or outdoors?": "hacd:acoustic_scene",
    "What is the general category of this audio?": "hacd:audio",
    "What kind of place does this sound like?": "hacd:acoustic_scene",
    "How reverberant is the space?": "hacd:reverberation",
    "Is the recording high, medium or low fidelity?": "hacd:fidelity",
    "Which instrument family carries the melody?": "hacd:musical_instrument",
    "How many instruments are playing?": "hacd:musical_instrument",
    "What is the tempo of the music?": "hacd:tempo",
    "Which animals can be heard?": "hacd:animal",
    "How many individual speakers can be heard in the foreground?": "hacd:speech",
    "Is the bass line walking?": "hacd:walking_bass",
    "Are brushes used on the snare?": "hacd:brushes_on_snare",
    "Are there cymbals?": "hacd:cymbal",
    "Does the music swing?": "hacd:swing_feel",
    "What is the meter of the music?": "hacd:meter",
    "Does it sound like a telephone call?": "hacd:telephone_band",
    "Is the signal clipped or distorted?": "hacd:clipping",
}


def _qa(
    question: str, answer: str, level: str, kind: str, concept: str | None = None
) -> dict[str, str]:
    topic = concept or _TOPICS.get(question)
    if topic is None:
        raise KeyError(f"no concept recorded for the question {question!r}")
    return {"question": question, "answer": answer, "level": level, "type": kind, "concept": topic}


def _yes(b: bool) -> str:
    return "yes" if b else "no"


def all_questions(record: SceneRecord, rng: np.random.Generator) -> list[dict[str, str]]:
    """Every question the record supports (callers usually sample a few with ``qa_pairs``)."""
    out: list[dict[str, str]] = []
    music = record.music()
    kinds = {s.kind for s in record.sources()} | set(record.background.elements)
    speech = bool(kinds & set(_SPEECH)) or "crowd_chatter" in kinds
    categories = {SOURCES[k].category for k in kinds if k in SOURCES}
    a = record.acoustics

    # General.
    out.append(_qa("Is there music?", _yes(bool(music)), "general", "yes_no"))
    out.append(_qa("Can you hear people talking?", _yes(speech), "general", "yes_no"))
    out.append(
        _qa("Are there any animal sounds?", _yes("animal" in categories), "general", "yes_no")
    )
    out.append(_qa("Is this recorded indoors or outdoors?", f"{a.environment}s", "general",
                   "choice"))  # environment is "indoor"/"outdoor": answer with the choice's word
    out.append(
        _qa(
            "What is the general category of this audio?",
            general_category(record),
            "general",
            "attribute",
        )
    )

    # Category.
    out.append(
        _qa(
            "What kind of place does this sound like?",
            ph.PLACE_NAMES[record.place],
            "category",
            "attribute",
        )
    )
    reverb = {
        "dry": "dry",
        "slight": "slightly reverberant",
        "moderate": "moderately reverberant",
        "strong": "very reverberant",
    }[a.reverberation]
    out.append(_qa("How reverberant is the space?", reverb, "category", "attribute"))
    out.append(
        _qa("Is the recording high, medium or low fidelity?", a.fidelity, "category", "choice")
    )
    for m in music:
        others = [g for g in ph.GENRE_NAMES if g != m.genre]
        options = sorted([m.genre, *rng.choice(others, 2, replace=False).tolist()])
        out.append(
            _qa(
                f"What genre is the music: {', '.join(options[:-1])} or {options[-1]}?",
                m.genre,
                "category",
                "choice",
                "hacd:genre",
            )
        )
        lead = next((p for p in m.parts if p.prominence == "prominent"), None)
        if lead is not None:
            out.append(
                _qa(
                    "Which instrument family carries the melody?",
                    ph.INSTRUMENT_FAMILIES[lead.instrument],
                    "category",
                    "attribute",
                )
            )
        out.append(
            _qa(
                "How many instruments are playing?",
                str(len(m.instruments())),
                "category",
                "counting",
            )
        )
        out.append(_qa("What is the tempo of the music?", m.tempo_class, "category", "attribute"))
    animals = [
        ph.SOURCE_PHRASES[k][0][0].split()[-1]
        for k in sorted(kinds)
        if k in SOURCES and SOURCES[k].category == "animal"
    ]
    if animals:
        out.append(_qa("Which animals can be heard?", ", ".join(animals), "category", "attribute"))
    speakers = [s for s in record.sources() if s.kind in _SPEECH]
    if speakers:
        out.append(
            _qa(
                "How many individual speakers can be heard in the foreground?",
                str(len(speakers)),
                "category",
                "counting",
            )
        )

    # Specific.
    for m in music:
        names = {p.instrument: p for p in m.parts}
        bass = next(
            (
                p
                for p in m.parts
                if p.instrument in ("double_bass", "electric_bass") or "bass" in p.techniques[0]
            ),
            None,
        )
        if bass is not None:
            out.append(
                _qa(
                    "Is the bass line walking?",
                    _yes("walking_bass" in bass.techniques),
                    "specific",
                    "yes_no",
                )
            )
        if "drum_kit" in names:
            kit = names["drum_kit"]
            out.append(
                _qa(
                    "Are brushes used on the snare?",
                    _yes("brushes" in kit.techniques),
                    "specific",
                    "yes_no",
                )
            )
            out.append(
                _qa(
                    "Are there cymbals?",
                    _yes(bool({"ride", "crash"} & set(kit.pieces))),
                    "specific",
                    "yes_no",
                )
            )
        out.append(_qa("Does the music swing?", _yes(m.feel == "swing"), "specific", "yes_no"))
        lead = next((p for p in m.parts if p.prominence == "prominent"), None)
        if lead is not None:
            out.append(
                _qa(
                    f"What is the {ph.INSTRUMENT_NAMES[lead.instrument]} playing?",
                    ph.TECHNIQUE_PHRASES[lead.techniques[0]],
                    "specific",
                    "attribute",
                    "hacd:playing_technique",
                )
            )
        out.append(_qa("What is the meter of the music?", m.meter, "specific", "attribute"))
    for s in record.sources():
        if (
            s.kind in _COUNTABLE
            and 1 <= s.events <= 6
            and sum(x.kind == s.kind for x in record.sources()) == 1
            and s.kind not in record.background.elements
        ):
            out.append(
                _qa(
                    f"How many times {_COUNTABLE[s.kind]}?",
                    str(s.events),
                    "specific",
                    "counting",
                    SOURCE_CONCEPTS[s.kind][0],
                )
            )
    # Never ask "is there X?" (answer no) when something present contains X.
    contained = {k for present in kinds for k in _CONTAINS.get(present, ())}
    absent = sorted(
        k
        for k in SOURCES
        if k not in kinds and k not in contained and not (k in _SPEECH and speech)
    )
    if absent:
        k = absent[int(rng.integers(len(absent)))]
        out.append(
            _qa(
                f"Is there {ph.SOURCE_PHRASES[k][0][2]}?",
                "no",
                "specific",
                "yes_no",
                SOURCE_CONCEPTS[k][0],
            )
        )
    present = sorted(k for k in kinds if k in ph.SOURCE_PHRASES)
    if present:
        k = present[int(rng.integers(len(present)))]
        out.append(
            _qa(
                f"Is there {ph.SOURCE_PHRASES[k][0][2]}?",
                "yes",
                "specific",
                "yes_no",
                SOURCE_CONCEPTS[k][0],
            )
        )
    out.append(
        _qa(
            "Does it sound like a telephone call?",
            _yes(a.bandwidth == "telephone"),
            "specific",
            "yes_no",
        )
    )
    out.append(_qa("Is the signal clipped or distorted?", _yes(a.clipping), "specific", "yes_no"))
    return out


def qa_pairs(record: SceneRecord, rng: np.random.Generator, k: int = 8) -> list[dict[str, str]]:
    """``k`` QA pairs (fewer if the record supports fewer), covering every level present.

    Returns:
        dicts with ``question``, ``answer``, ``level`` (in ``LEVELS``), ``type`` (in
        ``QA_TYPES``) and ``concept`` (the ACH concept id the question is about).
    """
    pool = all_questions(record, rng)
    order = rng.permutation(len(pool)).tolist()
    chosen: list[int] = []
    for level in LEVELS:  # one of each level first
        for i in order:
            if pool[i]["level"] == level:
                chosen.append(i)
                break
    for i in order:
        if len(chosen) >= k:
            break
        if i not in chosen:
            chosen.append(i)
    return [pool[i] for i in sorted(chosen[:k])]
