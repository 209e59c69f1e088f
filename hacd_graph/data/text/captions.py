"""Captions from a scene record, in several phrasings, in the register of AudioCaps/Clotho.

A caption names the foreground components (most prominent first) with varied subjects and
verbs from the phrase bank, joins them with connectors drawn in the proportions a
``CaptionRegister`` measured from real captions (temporal connectors such as "followed by"
only when the second sound really starts later), and may add the setting and one
recording property. Nothing absent from the record is ever mentioned.
"""

from __future__ import annotations

import numpy as np

from hacd_graph.data.synth.record import ComponentRecord, MusicRecord, PartRecord, SceneRecord
from hacd_graph.data.text import phrases as ph
from hacd_graph.data.text.register import CaptionRegister

_EVENT_KINDS = {
    "dog_bark",
    "knock",
    "car_horn",
    "cough",
    "glass_clink",
    "crow_caw",
    "duck_quack",
    "owl_hoot",
    "cat_meow",
    "laughter",
    "frog_croak",
}
_TEMPORAL = ("followed by", "then")


def _count_adverb(events: int) -> str:
    return {1: "once", 2: "twice"}.get(events, "several times")


def music_phrase(m: MusicRecord, rng: np.random.Generator) -> tuple[str, str, str]:
    """(subject, verb phrase, nominal phrase) describing a piece of music."""
    genre = ph.GENRE_NAMES[m.genre]
    lead = next((p for p in m.parts if p.prominence == "prominent"), m.parts[0])
    lead_name = ph.INSTRUMENT_NAMES[lead.instrument]
    others = [ph.INSTRUMENT_NAMES[p.instrument] for p in m.parts if p is not lead]
    others = list(dict.fromkeys(o for o in others if o != lead_name))
    tech = ph.TECHNIQUE_PHRASES[lead.techniques[0]]
    tempo = {"slow": "slow", "moderate": "mid-tempo", "fast": "fast"}[m.tempo_class]
    options = [
        (
            ph.ENSEMBLE_NAMES[m.genre] if len(m.parts) > 1 else f"a {lead_name}",
            "plays",
            f"{genre} music playing",
        ),
        (f"{tempo} {genre} music", "plays", f"{tempo} {genre} music"),
        (f"a {lead_name}", f"plays {tech}", f"a {lead_name} playing {tech}"),
    ]
    if others:
        rest = others[0] if len(others) == 1 else ", ".join(others[:-1]) + " and " + others[-1]
        options.append(
            (
                f"a {lead_name}",
                f"plays {tech} over {rest}",
                f"{genre} music with {lead_name} and {rest}",
            )
        )
    if m.feel == "swing":
        options.append(
            (
                f"a swinging {genre} band" if len(m.parts) > 1 else f"a {lead_name}",
                "plays",
                f"swinging {genre} music",
            )
        )
    support = [_support_phrase(p) for p in m.parts if p is not lead]
    support = [x for x in support if x]
    if support:
        backing = (
            support[0] if len(support) == 1 else ", ".join(support[:-1]) + " and " + support[-1]
        )
        options += [
            (f"a {lead_name}", f"plays {tech} over {backing}", f"a {lead_name} over {backing}"),
            (
                f"{genre} {lead_name}",
                f"plays with {backing}",
                f"{genre} {lead_name} with {backing}",
            ),
            (
                f"a {tempo} {genre} tune",
                f"features a {lead_name} and {backing}",
                f"a {tempo} {genre} tune with a {lead_name}",
            ),
        ]
    return options[int(rng.integers(len(options)))]


def _support_phrase(p: PartRecord) -> str:
    """A short nominal phrase for a supporting part ("a walking bass", "brushed drums")."""
    name = ph.INSTRUMENT_NAMES[p.instrument]
    t = p.techniques[0]
    if p.instrument == "drum_kit":
        return {"brushes": "brushed drums", "backbeat": "a steady backbeat"}.get(t, "drums")
    if p.instrument == "drum_machine":
        return "a thumping drum machine"
    return {
        "walking_bass": f"a walking {name}",
        "comping": f"{name} chords",
        "strumming": f"a strummed {name}",
        "power_chords": f"distorted {name}",
        "sustained_chords": f"{name} pads"
        if p.instrument == "synthesizer"
        else f"sustained {name}",
        "root_notes": name,
        "offbeat_bass": "an off-beat synth bass",
    }.get(t, name)


def component_phrase(c: ComponentRecord, rng: np.random.Generator) -> tuple[str, str, str]:
    """(subject, verb phrase, nominal phrase) of one foreground component, with its modifiers."""
    if c.music is not None:
        subj, verb, nom = music_phrase(c.music, rng)
    else:
        bank = ph.SOURCE_PHRASES[c.source.kind]  # type: ignore[union-attr]
        subj, verb, nom = bank[int(rng.integers(len(bank)))]
        events = c.source.events  # type: ignore[union-attr]
        if c.source.kind in _EVENT_KINDS and events >= 1 and rng.random() < 0.5:  # type: ignore[union-attr]
            verb = f"{verb} {_count_adverb(events)}"
    if c.distance == "far" and rng.random() < 0.7:
        verb, nom = f"{verb} in the distance", f"{nom} in the distance"
    elif c.distance == "near" and rng.random() < 0.2:
        verb, nom = f"{verb} nearby", f"{nom} nearby"
    return subj, verb, nom


def _join(a: tuple[str, str, str], b: tuple[str, str, str], connector: str) -> str:
    if connector == "followed by":
        return f"{a[0]} {a[1]}, followed by {b[2]}"
    if connector == "then":
        return f"{a[0]} {a[1]}, then {b[0]} {b[1]}"
    if connector == "with":
        return f"{a[2]} with {b[2]}"
    if connector == "in the background":
        where = "" if b[2].endswith(("in the distance", "nearby")) else " in the background"
        return f"{a[0]} {a[1]} with {b[2]}{where}"
    if connector in ("while", "as"):
        return f"{a[0]} {a[1]} {connector} {b[0]} {b[1]}"
    return f"{a[0]} {a[1]} and {b[0]} {b[1]}"


def background_phrase(record: SceneRecord, rng: np.random.Generator) -> str:
    """A phrase placing the components in their ambience ("as people chat and glasses clink")."""
    bg = record.background
    options = list(ph.BACKGROUND_PHRASES[bg.kind])
    if bg.kind in ("cafe", "crowd"):
        acts = (
            ["people chat"]
            + (["someone laughs"] if "laughter" in bg.elements else [])
            + (["glasses clink"] if "glass_clink" in bg.elements else [])
        )
        if len(acts) > 1:
            options.append("as " + ", ".join(acts[:-1]) + " and " + acts[-1])
            options.append("over " + ", ".join(ph.BACKGROUND_ELEMENT_NAMES[e] for e in bg.elements))
    return options[int(rng.integers(len(options)))]


def _acoustic_suffix(record: SceneRecord, rng: np.random.Generator) -> str:
    a = record.acoustics
    options = []
    if a.bandwidth == "telephone":
        options += [" over a telephone line", " through a phone"]
    elif a.bandwidth == "am_radio":
        options += [" on an old radio", " over a crackly radio"]
    if a.clipping:
        options += [" with heavy distortion", ", distorted by clipping"]
    if a.reverberation == "strong":
        options += [" in a reverberant hall", " with a lot of echo"]
    if a.noise == "noisy":
        options += [", with an audible hiss", " on a hissy recording"]
    if not options or rng.random() < 0.4:
        return ""
    return options[int(rng.integers(len(options)))]


def caption(
    record: SceneRecord, rng: np.random.Generator, register: CaptionRegister | None = None
) -> str:
    """One caption of the clip."""
    reg = register or CaptionRegister()
    comps = sorted(record.components, key=lambda c: (c.music is None, -c.level_db, c.start_s))
    comps = comps[:3]
    parts = [component_phrase(c, rng) for c in comps]
    text = f"{parts[0][0]} {parts[0][1]}"
    if len(parts) >= 2:
        weights = dict(reg.connector_rate)
        for k in ("nearby", "in the distance"):
            weights.pop(k, None)
        if comps[1].start_s <= comps[0].start_s + 0.5:
            for k in _TEMPORAL:
                weights.pop(k, None)
        keys = list(weights)
        p = np.array([weights[k] for k in keys]) + 1e-3
        connector = keys[int(rng.choice(len(keys), p=p / p.sum()))]
        text = _join(parts[0], parts[1], connector)
        if len(parts) == 3:
            text += (
                f" and {parts[2][2]}"
                if connector in ("with", "followed by")
                else f" and {parts[2][0]} {parts[2][1]}"
            )
    if rng.random() < 0.6:
        text += " " + background_phrase(record, rng)
    text += _acoustic_suffix(record, rng)
    text = text[0].upper() + text[1:]
    if rng.random() < reg.period_rate:
        text += "."
    return text


def captions(
    record: SceneRecord,
    rng: np.random.Generator,
    k: int = 5,
    register: CaptionRegister | None = None,
) -> list[str]:
    """Up to ``k`` distinct captions of the clip (fewer only if phrasings run out)."""
    out: list[str] = []
    for _ in range(8 * k):
        c = caption(record, rng, register)
        if c not in out:
            out.append(c)
        if len(out) == k:
            break
    return out
