"""Labels of a synthetic clip: the ACH concepts its scene record says it contains, closed
under ancestors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hacd_graph.data.synth import catalog as cat
from hacd_graph.data.synth.record import MusicRecord, SceneRecord

if TYPE_CHECKING:
    from hacd_graph.ach import ConceptHierarchy

_SPEECH = ("male_speech", "female_speech", "child_speech")
_BASS = ("double_bass", "electric_bass")


def music_concepts(m: MusicRecord, place: str, bandwidth: str) -> set[str]:
    """The most specific concepts true of one piece of music in the clip."""
    ids = {
        "hacd:music",
        cat.GENRE_CONCEPTS[m.genre],
        cat.TEMPO_CONCEPTS[m.tempo_class],
        cat.FEEL_CONCEPTS[m.feel],
        "hacd:minor_key" if m.key.endswith("minor") else "hacd:major_key",
    }
    ids.update(cat.METER_CONCEPTS[m.meter])
    if m.style:
        ids.add(cat.STYLE_CONCEPTS[m.style])
    for p in m.parts:
        if p.instrument == "synthesizer":
            ids.add(cat.SYNTH_BY_TECHNIQUE.get(p.techniques[0], "hacd:synthesizer"))
        else:
            ids.update(cat.INSTRUMENT_CONCEPTS[p.instrument])
        for t in p.techniques:
            ids.update(cat.TECHNIQUE_CONCEPTS[t])
        if p.instrument == "drum_kit":
            ids.update(cat.DRUM_PIECE_CONCEPTS[x] for x in p.pieces)
        if p.instrument == "double_bass":
            ids.add("hacd:pizzicato")  # plucked, never bowed, in these arrangements
        if p.instrument in ("violin", "cello"):
            ids.add("hacd:arco")
        if p.role == "rhythm_section":
            if p.instrument in _BASS or "bass" in p.techniques[0]:
                ids.add("hacd:bass_role")
            elif p.instrument in ("drum_kit", "drum_machine"):
                ids.add("hacd:drum_role")
        elif p.role == "solo" and m.genre == "jazz":
            ids.add("hacd:improvised_solo")
        else:
            ids.add(cat.ROLE_CONCEPTS[p.role])
    if any(p.instrument in ("drum_kit", "drum_machine") for p in m.parts):
        ids.update(("hacd:beat", "hacd:regular_pulse"))
    if any(p.instrument not in ("drum_kit", "drum_machine") for p in m.parts):
        ids.update(("hacd:harmonic", "hacd:definite_pitch"))
    chordal = {
        "comping",
        "strumming",
        "power_chords",
        "sustained_chords",
        "arpeggios",
        "fast_arpeggios",
    }
    if any(chordal & set(p.techniques) for p in m.parts):
        ids.add("hacd:harmony")
    lineup = [(p.instrument, p.role) for p in m.parts]
    if m.genre == "jazz":
        if sorted(lineup) == sorted(
            [("piano", "solo"), ("double_bass", "rhythm_section"), ("drum_kit", "rhythm_section")]
        ):
            ids.add("hacd:piano_trio")
        else:
            ids.add("hacd:jazz_combo")
    elif m.genre == "rock":
        ids.add("hacd:rock_band")
    elif len(m.parts) == 1:
        ids.add("hacd:solo_performer")
    elif len(m.parts) == 2:
        ids.add("hacd:duo")
    else:
        ids.add("hacd:ensemble")
    if m.genre == "electronic" and any("four_on_the_floor" in p.techniques for p in m.parts):
        ids.add("hacd:house")
    if bandwidth == "full" and place in ("cafe", "hall"):
        ids.add("hacd:live_music")
    return ids


def scene_concepts(record: SceneRecord) -> set[str]:
    """The most specific ACH concept ids the clip truly contains (not yet closed)."""
    ids: set[str] = {cat.PLACE_CONCEPTS[record.place]}
    a = record.acoustics
    ids.add("hacd:indoor" if a.environment == "indoor" else "hacd:outdoor")
    speakers = 0
    for c in record.components:
        ids.add(cat.DISTANCE_CONCEPTS[c.distance])
        if c.music is not None:
            ids |= music_concepts(c.music, record.place, a.bandwidth)
            continue
        s = c.source
        ids.update(cat.SOURCE_CONCEPTS[s.kind])
        ids.update(cat.SOURCE_PROPERTIES[s.kind])
        speakers += s.kind in _SPEECH
        if s.kind == "car_engine" and s.attrs.get("rpm", 0) < 1000:
            ids.add("hacd:engine_idling")
        if s.kind == "laughter" and s.events <= 2:
            ids.add("hacd:occasional_laughter")
    if speakers >= 2:
        ids.add("hacd:two_person_conversation" if speakers == 2 else "hacd:group_conversation")
    bg = record.background
    for element, events in bg.elements.items():
        ids.update(cat.SOURCE_CONCEPTS[element])
        ids.update(cat.SOURCE_PROPERTIES[element])
        if element == "crowd_chatter":
            ids.add(cat.CROWD_CONCEPTS[bg.intensity])
        if element == "rain":
            ids.add(cat.RAIN_CONCEPTS[bg.intensity])
        if element == "laughter" and events <= 2:
            ids.add("hacd:occasional_laughter")
    if record.place == "street" and bg.kind == "street" and bg.intensity == "heavy":
        ids.add("hacd:busy_street")
    ids.add(cat.REVERB_CONCEPTS[a.reverberation])
    ids.add(cat.ROOM_CONCEPTS[a.room_size])
    ids.add(cat.LOUDNESS_CONCEPTS[a.loudness])
    ids.update(cat.BANDWIDTH_CONCEPTS[a.bandwidth])
    ids.add(cat.FIDELITY_CONCEPTS[a.fidelity])
    ids.update(cat.noise_floor_concepts(a.noise_floor_db))
    if a.clipping:
        ids.add("hacd:clipping")
    return ids


def scene_labels(record: SceneRecord, ach: ConceptHierarchy) -> list[str]:
    """All concept ids of the clip, closed under ancestors (the clip's training labels).

    Raises:
        KeyError: naming a concept the hierarchy lacks (a catalog/hierarchy mismatch).
    """
    from hacd_graph.ach.labels import close_ids

    ids = scene_concepts(record)
    if record.bank_events:  # real recordings: their MIDs as this ACH knows them
        from hacd_graph.ach.vocabulary import MidResolver

        known, resolver = set(ach.ids), MidResolver(ach)
        for event in record.bank_events:
            ids.update(c for c in event.labels if c in known)
            for mid in event.audioset:
                ids.update(ach.ids[i] for i in resolver.direct(mid))
    return close_ids(ach, sorted(ids))
