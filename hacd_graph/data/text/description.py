"""The hierarchical description of a scene, from the general to the specific:

general category -> main components -> details per component (music: genre, instruments,
tempo, style; other sound groups) -> human activity and setting -> acoustic properties ->
specific elements. For the seed's jazz-cafe example it reads:

    General category: environmental audio. Main components: music, human activity. Music
    details: genre jazz; instruments piano (prominent), double bass, drums; tempo moderate,
    swinging; style bebop-influenced. Human activity: conversation; indoor, likely a cafe;
    moderate crowd noise. Acoustic properties: moderate reverberation, medium-sized room;
    high fidelity. Specific elements: piano solo with fast arpeggios; walking bass line;
    brushes on snare, occasional cymbal accents; indistinct chatter, occasional laughter,
    clinking glasses.
"""

from __future__ import annotations

from hacd_graph.data.synth.record import MusicRecord, PartRecord, SceneRecord
from hacd_graph.data.synth.sources import SOURCES
from hacd_graph.data.text import phrases as ph

_BG_GROUPS = {
    "cafe": ("human activity",),
    "crowd": ("human activity",),
    "street": ("vehicles",),
    "rain": ("natural sounds",),
    "park": ("natural sounds", "animals"),
    "room_tone": (),
}
_GROUP_ORDER = (
    "music",
    "human activity",
    "animals",
    "natural sounds",
    "vehicles",
    "machines",
    "household sounds",
    "signals and alarms",
)
_SPEECH = ("male_speech", "female_speech", "child_speech")
_COUNT_WORDS = {1: "once", 2: "twice", 3: "three times", 4: "four times"}


def main_components(record: SceneRecord) -> list[str]:
    """The sound groups present, in a fixed general-to-specific order."""
    groups = {"music"} if record.music() else set()
    for s in record.sources():
        groups.add(ph.SOURCE_GROUPS[SOURCES[s.kind].category])
    groups.update(_BG_GROUPS[record.background.kind])
    if "footsteps" in record.background.elements:
        groups.add("human activity")
    return [g for g in _GROUP_ORDER if g in groups]


def general_category(record: SceneRecord) -> str:
    """``"music"``, ``"speech"`` or ``"environmental audio"``."""
    groups = main_components(record)
    if groups == ["music"]:
        return "music"
    if (
        groups == ["human activity"]
        and record.background.kind == "room_tone"
        and all(s.kind in _SPEECH for s in record.sources())
    ):
        return "speech"
    return "environmental audio"


def music_details(m: MusicRecord) -> str:
    """``genre jazz; instruments piano (prominent), ...; tempo moderate, swinging; style ...``."""
    names = []
    for p in m.parts:
        name = ph.INSTRUMENT_NAMES[p.instrument]
        if p.instrument == "synthesizer" and "offbeat_bass" in p.techniques:
            name = "synth bass"
        label = f"{name} (prominent)" if p.prominence == "prominent" else name
        if label not in names:
            names.append(label)
    feel = "swinging" if m.feel == "swing" else "straight"
    out = [f"genre {m.genre}", "instruments " + ", ".join(names), f"tempo {m.tempo_class}, {feel}"]
    if m.meter != "4/4":
        out.append(f"meter {m.meter}")
    if m.style:
        out.append(f"style {m.style}-influenced")
    return "; ".join(out)


def part_phrase(p: PartRecord) -> str:
    """A specific-element phrase for one part (``"piano solo with fast arpeggios"``)."""
    name = ph.INSTRUMENT_NAMES[p.instrument]
    t = p.techniques
    if p.instrument == "drum_kit":
        bits = []
        if "brushes" in t:
            bits.append("brushes on snare")
        elif "backbeat" in t:
            bits.append("steady backbeat on kick and snare with eighth-note hi-hats")
        else:
            bits.append("drums played with sticks")
        if "swing_ride" in t:
            bits.append("swinging ride cymbal")
        if "cymbal_accents" in t:
            bits.append("occasional cymbal accents")
        if "drum_fill" in t:
            bits.append("a tom fill")
        return ", ".join(bits)
    if p.instrument == "drum_machine":
        return "four-on-the-floor kick with claps and hi-hats"
    main = t[0]
    if main == "walking_bass":
        return "walking bass line"
    if main == "offbeat_bass":
        return "off-beat synth bass line"
    if main == "root_notes":
        return f"{name} playing root notes"
    if main == "comping":
        return f"{name} comping"
    if main == "strumming":
        return f"strummed {name}"
    if main == "power_chords":
        return f"distorted {name} power chords"
    if main == "sustained_chords":
        return "synth pad chords" if p.instrument == "synthesizer" else f"sustained {name} chords"
    role = {"solo": "solo", "melody": "melody", "accompaniment": "accompaniment"}.get(
        p.role, "part"
    )
    extras = [ph.TECHNIQUE_PHRASES[x] for x in t]
    return f"{name} {role} with " + ", ".join(extras)


def _source_phrase(kind: str, events: int) -> str:
    text = ph.SOURCE_PHRASES[kind][0][2]
    if events in _COUNT_WORDS and kind not in _SPEECH and events > 1:
        text += f" ({_COUNT_WORDS[events]})"
    return text


def describe(record: SceneRecord) -> str:
    """The hierarchical description of the clip (one paragraph, general to specific)."""
    sections = [
        f"General category: {general_category(record)}.",
        "Main components: " + ", ".join(main_components(record)) + ".",
    ]
    for m in record.music():
        sections.append(f"Music details: {music_details(m)}.")

    # Non-music foreground groups other than human activity.
    by_group: dict[str, list[str]] = {}
    for s in record.sources():
        group = ph.SOURCE_GROUPS[SOURCES[s.kind].category]
        if group != "human activity":
            by_group.setdefault(group, []).append(ph.SOURCE_PHRASES[s.kind][0][2])
    for g in _GROUP_ORDER:
        if g in by_group:
            sections.append(f"{g[0].upper() + g[1:]}: " + ", ".join(by_group[g]) + ".")

    bg = record.background
    a = record.acoustics
    setting = f"{a.environment}, likely {ph.PLACE_NAMES[record.place]}"
    speakers = [s for s in record.sources() if s.kind in _SPEECH]
    activity = []
    if "crowd_chatter" in bg.elements or len(speakers) >= 2:
        activity.append("conversation")
    elif speakers:
        activity.append("speech")
    human = [
        s.kind
        for s in record.sources()
        if SOURCES[s.kind].category == "human" and s.kind not in _SPEECH
    ]
    activity += [ph.SOURCE_PHRASES[k][0][2] for k in human]
    if "footsteps" in bg.elements and "footsteps" not in human:
        activity.append("footsteps")
    if activity:
        crowd = (
            f"; {dict(light='light', moderate='moderate', heavy='busy')[bg.intensity]} crowd noise"
            if "crowd_chatter" in bg.elements
            else ""
        )
        sections.append(f"Human activity: {', '.join(activity)}; {setting}{crowd}.")
    else:
        sections.append(f"Setting: {setting}.")

    acoustic = []
    reverb = {
        "dry": "dry acoustics",
        "slight": "slight reverberation",
        "moderate": "moderate reverberation",
        "strong": "strong reverberation",
    }[a.reverberation]
    acoustic.append(f"{reverb}, {a.room_size}-sized room" if a.room_size else f"{reverb}, open air")
    quality = [f"{a.fidelity} fidelity"]
    if a.bandwidth == "telephone":
        quality.append("telephone bandwidth")
    elif a.bandwidth == "am_radio":
        quality.append("AM radio bandwidth")
    if a.noise == "noisy":
        quality.append("audible hiss")
    if a.clipping:
        quality.append("clipping distortion")
    if a.loudness != "moderate":
        quality.append(f"{a.loudness} level")
    sections.append(
        "Acoustic properties: " + "; ".join([", ".join(acoustic), ", ".join(quality)]) + "."
    )

    specific: list[str] = []
    for m in record.music():
        specific += [part_phrase(p) for p in m.parts]
    for c in record.components:
        if c.source is not None:
            specific.append(_source_phrase(c.source.kind, c.source.events))
    bg_names = [ph.BACKGROUND_ELEMENT_NAMES[e] for e in bg.elements]
    if bg_names:
        specific.append(", ".join(bg_names))
    sections.append("Specific elements: " + "; ".join(specific) + ".")
    return " ".join(sections)
