"""Concept ids (of the core ACH) for every key of the generator's vocabulary.

This is the only place where the generator's names meet the hierarchy; a test checks that
every id here exists in ``build_ach()``. Each entry lists the most specific concepts that
are true of the thing; ancestors are added by closure (``labels.scene_labels``).
"""

from __future__ import annotations

SOURCE_CONCEPTS: dict[str, tuple[str, ...]] = {
    "male_speech": ("hacd:male_speech",),
    "female_speech": ("hacd:female_speech",),
    "child_speech": ("hacd:child_speech",),
    "laughter": ("hacd:laughter",),
    "cough": ("hacd:cough",),
    "whistling": ("hacd:whistling",),
    "clapping": ("hacd:clapping",),
    "applause": ("hacd:applause",),
    "footsteps": ("hacd:footsteps_hard_floor", "hacd:movement"),
    "dog_bark": ("hacd:dog_bark",),
    "cat_meow": ("hacd:meow",),
    "bird_chirp": ("hacd:chirp",),
    "crow_caw": ("hacd:crow",),
    "cow_moo": ("hacd:moo",),
    "frog_croak": ("hacd:frog",),
    "insect_chirp": ("hacd:cricket",),
    "owl_hoot": ("hacd:owl",),
    "duck_quack": ("hacd:duck",),
    "rain": ("hacd:rain",),
    "wind": ("hacd:gusty_wind",),
    "stream": ("hacd:stream",),
    "ocean_waves": ("hacd:waves",),
    "thunder": ("hacd:thunder",),
    "fire_crackle": ("hacd:crackling_fire",),
    "car_engine": ("hacd:car", "hacd:engine"),
    "truck_engine": ("hacd:truck", "hacd:heavy_engine", "hacd:engine_idling"),
    "helicopter": ("hacd:helicopter",),
    "traffic": ("hacd:traffic",),
    "siren": ("hacd:siren",),
    "car_horn": ("hacd:car_horn",),
    "alarm": ("hacd:beep",),
    "telephone_ring": ("hacd:ringtone",),
    "doorbell": ("hacd:doorbell",),
    "clock_tick": ("hacd:clock_tick",),
    "drill": ("hacd:drill",),
    "vacuum_cleaner": ("hacd:vacuum_cleaner", "hacd:cleaning"),
    "knock": ("hacd:door_knock",),
    "typing": ("hacd:computer_keyboard",),
    "glass_clink": ("hacd:glass_clinking",),
    "door_slam": ("hacd:door_slam",),
    # background-only elements
    "crowd_chatter": ("hacd:babble", "hacd:indistinct_speech"),
    "hum": ("hacd:air_conditioning",),
}

# Low-level acoustic properties each source has by construction of its renderer
# (envelope, spectral structure, texture, pitch). Keep entries literal: only what the
# renderer always makes.
_IMP, _SUS, _INT, _PULSE, _IRR = (
    "hacd:impulsive",
    "hacd:sustained",
    "hacd:intermittent",
    "hacd:regular_pulse",
    "hacd:irregular_events",
)
_HARM, _INH, _NOISY = "hacd:harmonic", "hacd:inharmonic", "hacd:noisy"
_DEF, _INDEF = "hacd:definite_pitch", "hacd:indefinite_pitch"
SOURCE_PROPERTIES: dict[str, tuple[str, ...]] = {
    "male_speech": (_HARM, _DEF, _INT, "hacd:low_pitch"),
    "female_speech": (_HARM, _DEF, _INT, "hacd:low_pitch"),  # f0 ~ 205 Hz
    "child_speech": (_HARM, _DEF, _INT, "hacd:mid_pitch"),  # f0 ~ 290 Hz
    "laughter": (_INT, "hacd:breathy_texture"),
    "cough": (_IMP, _NOISY, _INDEF),
    "whistling": (_HARM, _DEF, "hacd:vibrato"),
    "clapping": (_IMP, _NOISY, _PULSE),
    "applause": (_NOISY, _SUS, _INDEF),
    "footsteps": (_IMP, _PULSE, _INDEF),
    "dog_bark": (_HARM, _INT, "hacd:rough_texture"),
    "cat_meow": (_HARM, _DEF, _INT, "hacd:rising_pitch", "hacd:falling_pitch"),
    "bird_chirp": (_INT, _DEF),
    "crow_caw": (_INT, "hacd:rough_texture", "hacd:harsh_timbre"),
    "cow_moo": (_HARM, _DEF, "hacd:low_pitch", _SUS),
    "frog_croak": (_INT, "hacd:buzzy_texture", "hacd:amplitude_modulated"),
    "insect_chirp": (_DEF, "hacd:amplitude_modulated"),
    "owl_hoot": (_HARM, _DEF, _INT, "hacd:smooth_texture"),
    "duck_quack": (_HARM, _INT, "hacd:buzzy_texture"),
    "rain": (_NOISY, _SUS, _INDEF),
    "wind": (_NOISY, _SUS, _INDEF, "hacd:swelling"),
    "stream": (_NOISY, _SUS, _INDEF),
    "ocean_waves": (_NOISY, "hacd:swelling", _INDEF),
    "thunder": (_NOISY, _INDEF, "hacd:slow_decay", "hacd:brown_noise"),
    "fire_crackle": (_NOISY, _IRR, _INDEF),
    "car_engine": (_HARM, _SUS),
    "truck_engine": (_HARM, _SUS, "hacd:very_low_pitch"),  # firing rate 30-45 Hz
    "helicopter": (_NOISY, _SUS, _PULSE, "hacd:amplitude_modulated"),
    "traffic": (_NOISY, _SUS, _INDEF),
    "siren": (_HARM, _DEF, _SUS, "hacd:oscillating_pitch"),
    "car_horn": (_HARM, _DEF, _INT, "hacd:buzzy_texture"),
    "alarm": (_HARM, _DEF, _PULSE, "hacd:high_pitch"),  # 2-3.2 kHz beeps, fixed rate
    "telephone_ring": (_DEF, "hacd:mid_pitch"),  # 440 + 480 Hz
    "doorbell": (_HARM, _DEF, "hacd:decaying"),
    "clock_tick": (_IMP, _PULSE, "hacd:fast_decay"),
    "drill": (_HARM, "hacd:harsh_timbre"),
    "vacuum_cleaner": (_NOISY, _SUS),
    "knock": (_IMP, "hacd:fast_decay", _INDEF),
    "typing": (_IMP, _IRR, _INDEF),
    "glass_clink": (_IMP, _INH, "hacd:metallic_texture", "hacd:high_pitch"),  # 2.5-4 kHz
    "door_slam": (_IMP, _INDEF),
    "crowd_chatter": (_SUS,),
    "hum": (_SUS,),
}

INSTRUMENT_CONCEPTS: dict[str, tuple[str, ...]] = {
    "piano": ("hacd:piano",),
    "acoustic_guitar": ("hacd:acoustic_guitar",),
    "electric_guitar": ("hacd:electric_guitar",),
    "double_bass": ("hacd:double_bass",),
    "electric_bass": ("hacd:bass_guitar",),
    "organ": ("hacd:organ",),
    "violin": ("hacd:violin",),
    "cello": ("hacd:cello",),
    "trumpet": ("hacd:trumpet",),
    "trombone": ("hacd:trombone",),
    "saxophone": ("hacd:saxophone",),
    "flute": ("hacd:flute",),
    "bells": ("hacd:glockenspiel",),
    "synthesizer": ("hacd:synthesizer",),
    "drum_kit": ("hacd:drum_kit",),
    "drum_machine": ("hacd:drum_machine",),
}

# The synthesizer's concept depends on what it plays.
SYNTH_BY_TECHNIQUE = {
    "sustained_chords": "hacd:synth_pad",
    "offbeat_bass": "hacd:synth_bass",
    "arpeggios": "hacd:synth_lead",
}

DRUM_PIECE_CONCEPTS: dict[str, str] = {
    "kick": "hacd:kick_drum",
    "snare": "hacd:snare_drum",
    "hihat": "hacd:hi_hat",
    "ride": "hacd:ride_cymbal",
    "crash": "hacd:crash_cymbal",
    "tom": "hacd:tom_tom",
}

TECHNIQUE_CONCEPTS: dict[str, tuple[str, ...]] = {
    "fast_arpeggios": ("hacd:fast_arpeggios",),
    "arpeggios": ("hacd:arpeggios",),
    "scalar_runs": ("hacd:melody",),
    "legato": ("hacd:legato",),
    "fingerpicking": ("hacd:fingerpicking",),
    "walking_bass": ("hacd:walking_bass",),
    "root_notes": ("hacd:bass_line",),
    "offbeat_bass": ("hacd:bass_line", "hacd:syncopation"),
    "power_chords": ("hacd:rhythm_guitar",),
    "distortion": ("hacd:harsh_timbre",),
    "comping": ("hacd:comping",),
    "strumming": ("hacd:strumming",),
    "sustained_chords": ("hacd:chordal_accompaniment",),
    "brushes": ("hacd:brushes_on_snare",),
    "sticks": (),
    "swing_ride": ("hacd:swing_ride",),
    "cymbal_accents": ("hacd:cymbal_accents",),
    "backbeat": ("hacd:backbeat", "hacd:straight_eighths_hihat"),
    "drum_fill": ("hacd:drum_fill",),
    "four_on_the_floor": ("hacd:four_on_the_floor",),
    "vibrato": ("hacd:vibrato",),
}

ROLE_CONCEPTS: dict[str, str] = {
    "solo": "hacd:solo",
    "melody": "hacd:lead_melody",
    "accompaniment": "hacd:accompaniment",
}

GENRE_CONCEPTS = {
    "jazz": "hacd:jazz",
    "rock": "hacd:rock",
    "electronic": "hacd:electronic_music",
    "classical": "hacd:classical",
    "folk": "hacd:folk",
}
STYLE_CONCEPTS = {"bebop": "hacd:bebop", "house": "hacd:house"}
TEMPO_CONCEPTS = {
    "slow": "hacd:slow_tempo",
    "moderate": "hacd:moderate_tempo",
    "fast": "hacd:fast_tempo",
}
METER_CONCEPTS = {
    "4/4": ("hacd:quadruple_meter",),
    "3/4": ("hacd:triple_meter",),
    "6/8": ("hacd:compound_meter", "hacd:duple_meter"),
}
FEEL_CONCEPTS = {"swing": "hacd:swing_feel", "straight": "hacd:straight_feel"}

PLACE_CONCEPTS = {
    "cafe": "hacd:cafe",
    "home": "hacd:living_room",
    "office": "hacd:office",
    "hall": "hacd:concert_hall",
    "workshop": "hacd:workplace",
    "street": "hacd:street",
    "park": "hacd:park",
    "farm": "hacd:farm",
    "wilderness": "hacd:natural_outdoor",
}
CROWD_CONCEPTS = {
    "light": "hacd:sparse_crowd",
    "moderate": "hacd:moderate_crowd",
    "heavy": "hacd:busy_crowd",
}
RAIN_CONCEPTS = {"light": "hacd:light_rain", "moderate": "hacd:rain", "heavy": "hacd:heavy_rain"}

REVERB_CONCEPTS = {
    "dry": "hacd:dry_acoustics",
    "slight": "hacd:slight_reverb",
    "moderate": "hacd:moderate_reverb",
    "strong": "hacd:strong_reverb",
}
ROOM_CONCEPTS = {
    "small": "hacd:small_room",
    "medium": "hacd:medium_room",
    "large": "hacd:large_room",
    None: "hacd:open_air",
}
DISTANCE_CONCEPTS = {"near": "hacd:near", "moderate": "hacd:mid_distance", "far": "hacd:far"}
LOUDNESS_CONCEPTS = {
    "quiet": "hacd:quiet",
    "moderate": "hacd:moderate_loudness",
    "loud": "hacd:loud",
}
BANDWIDTH_CONCEPTS = {
    "full": ("hacd:full_band",),
    "telephone": ("hacd:telephone_band", "hacd:phone_call"),
    "am_radio": ("hacd:am_radio_band", "hacd:radio_playback", "hacd:static_noise"),
}
FIDELITY_CONCEPTS = {
    "high": "hacd:high_fidelity",
    "medium": "hacd:medium_fidelity",
    "low": "hacd:low_fidelity",
}


def noise_floor_concepts(noise_floor_db: float) -> tuple[str, ...]:
    """Concepts of a recorder hiss ``noise_floor_db`` dB relative to the clip's level."""
    if noise_floor_db <= -50.0:
        return ("hacd:clean_signal",)
    if noise_floor_db <= -35.0:
        return ("hacd:low_noise",)
    if noise_floor_db <= -22.0:
        return ("hacd:moderate_noise", "hacd:tape_hiss")
    return ("hacd:high_noise", "hacd:tape_hiss")


def all_concept_ids() -> set[str]:
    """Every concept id the generator can emit (for checking against the hierarchy)."""
    ids: set[str] = {
        "hacd:music",
        "hacd:mild_clipping",
        "hacd:heavy_clipping",
        "hacd:conversation",
        "hacd:group_conversation",
        "hacd:two_person_conversation",
        "hacd:occasional_laughter",
        "hacd:dining",
        "hacd:piano_trio",
        "hacd:jazz_combo",
        "hacd:rock_band",
        "hacd:solo_performer",
        "hacd:duo",
        "hacd:live_music",
        "hacd:improvised_solo",
        "hacd:bass_role",
        "hacd:drum_role",
        "hacd:pizzicato",
        "hacd:arco",
        "hacd:major_key",
        "hacd:minor_key",
        "hacd:indoor",
        "hacd:outdoor",
        "hacd:office_work",
        "hacd:construction_work",
        "hacd:ensemble",
        "hacd:clipping",
        "hacd:busy_street",
        "hacd:beat",
        "hacd:regular_pulse",
        "hacd:harmonic",
        "hacd:definite_pitch",
        "hacd:harmony",
        "hacd:house",
    }
    for table in (
        SOURCE_PROPERTIES,
        SOURCE_CONCEPTS,
        INSTRUMENT_CONCEPTS,
        TECHNIQUE_CONCEPTS,
        METER_CONCEPTS,
        BANDWIDTH_CONCEPTS,
    ):
        for v in table.values():
            ids.update(v)
    for table in (
        SYNTH_BY_TECHNIQUE,
        DRUM_PIECE_CONCEPTS,
        ROLE_CONCEPTS,
        GENRE_CONCEPTS,
        STYLE_CONCEPTS,
        TEMPO_CONCEPTS,
        FEEL_CONCEPTS,
        PLACE_CONCEPTS,
        CROWD_CONCEPTS,
        RAIN_CONCEPTS,
        REVERB_CONCEPTS,
        ROOM_CONCEPTS,
        DISTANCE_CONCEPTS,
        LOUDNESS_CONCEPTS,
        FIDELITY_CONCEPTS,
    ):
        ids.update(table.values())
    for db in (-60.0, -40.0, -30.0, -10.0):
        ids.update(noise_floor_concepts(db))
    return ids


def rendered_source_concepts(ach) -> dict[str, list[str]]:
    """The sound-source concepts the generator renders, grouped by their top-level source
    category in ``ach`` (the children of ``hacd:sound_source``), as concept names.

    Args:
        ach: the core hierarchy (``build_ach()``).
    """
    from hacd_graph.data.synth import drums, instruments
    from hacd_graph.data.synth.sources import SOURCES

    ids = {c for k in SOURCES for c in SOURCE_CONCEPTS[k]}
    ids |= {
        c for k in (*instruments.RANGES, "drum_kit", "drum_machine") for c in INSTRUMENT_CONCEPTS[k]
    }
    ids |= set(SYNTH_BY_TECHNIQUE.values()) | {
        DRUM_PIECE_CONCEPTS[p.split("_")[0]]
        for p in drums.PIECES
        if p.split("_")[0] in DRUM_PIECE_CONCEPTS
    }
    root = ach.index("hacd:sound_source")
    groups: dict[str, set[str]] = {}
    for cid in ids:
        i = ach.index(cid)
        if root not in ach.ancestors(i):
            continue
        for t in sorted(ach.ancestors(i) | {i}):
            if root in ach.parents(t):
                groups.setdefault(ach.names[t], set()).add(ach.names[i])
    return {g: sorted(v) for g, v in sorted(groups.items())}
