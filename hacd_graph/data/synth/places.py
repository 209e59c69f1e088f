"""Scene settings: for each place, where it is (indoor room sizes or outdoors), which
ambiences it has, which foreground sources plausibly occur there (with weights) and how
likely music is, in which genres.

The pools follow what co-occurs in everyday recordings (and in AudioSet's label
co-occurrence): sirens and horns on streets, cups and laughter in cafes, cows on farms.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Place:
    """A scene setting.

    Args:
        key: the place's name (``"cafe"``).
        environment: ``"indoor"`` or ``"outdoor"``.
        rooms: room sizes to draw from (indoor only).
        backgrounds: ambience kinds to draw from.
        sources: ``{source key: weight}`` of plausible foreground sources.
        music_prob: probability that a scene here contains music.
        genres: ``{genre: weight}`` for music here.
    """

    key: str
    environment: str
    rooms: tuple[str, ...]
    backgrounds: tuple[str, ...]
    sources: dict[str, float]
    music_prob: float
    genres: dict[str, float]


_ALL_GENRES = {"jazz": 1.0, "rock": 1.0, "electronic": 1.0, "classical": 1.0, "folk": 1.0}

PLACES: dict[str, Place] = {
    p.key: p
    for p in [
        Place(
            "cafe",
            "indoor",
            ("medium", "small"),
            ("cafe",),
            {
                "male_speech": 3,
                "female_speech": 3,
                "child_speech": 1,
                "laughter": 1,
                "cough": 1,
                "glass_clink": 1,
                "footsteps": 1,
                "telephone_ring": 0.5,
                "door_slam": 0.5,
                "clapping": 0.5,
                "typing": 0.5,
            },
            0.5,
            {"jazz": 3.0, "folk": 1.0, "classical": 1.0, "electronic": 0.5},
        ),
        Place(
            "home",
            "indoor",
            ("small", "medium"),
            ("room_tone", "rain"),
            {
                "male_speech": 2,
                "female_speech": 2,
                "child_speech": 2,
                "dog_bark": 1.5,
                "cat_meow": 1.5,
                "knock": 1,
                "doorbell": 1,
                "clock_tick": 1,
                "telephone_ring": 1,
                "vacuum_cleaner": 1,
                "typing": 1,
                "cough": 1,
                "door_slam": 1,
                "footsteps": 1,
                "alarm": 0.5,
                "whistling": 0.5,
                "laughter": 1,
            },
            0.3,
            _ALL_GENRES,
        ),
        Place(
            "office",
            "indoor",
            ("small", "medium"),
            ("room_tone",),
            {
                "typing": 3,
                "male_speech": 2,
                "female_speech": 2,
                "telephone_ring": 2,
                "cough": 1,
                "clock_tick": 1,
                "door_slam": 0.5,
                "footsteps": 1,
                "alarm": 0.5,
                "knock": 1,
            },
            0.1,
            {"classical": 1.0, "jazz": 1.0, "electronic": 1.0},
        ),
        Place(
            "hall",
            "indoor",
            ("large",),
            ("crowd", "room_tone"),
            {
                "applause": 2,
                "clapping": 1,
                "cough": 1,
                "male_speech": 1,
                "female_speech": 1,
                "footsteps": 1,
            },
            0.8,
            {"classical": 3.0, "jazz": 1.0, "rock": 1.0, "folk": 0.5},
        ),
        Place(
            "workshop",
            "indoor",
            ("small", "medium"),
            ("room_tone",),
            {
                "drill": 3,
                "knock": 1,
                "door_slam": 1,
                "male_speech": 1,
                "female_speech": 1,
                "vacuum_cleaner": 1,
                "footsteps": 1,
                "whistling": 1,
            },
            0.2,
            {"rock": 2.0, "electronic": 1.0},
        ),
        Place(
            "street",
            "outdoor",
            (),
            ("street", "crowd"),
            {
                "car_engine": 2,
                "truck_engine": 1,
                "siren": 1.5,
                "car_horn": 1.5,
                "footsteps": 1,
                "male_speech": 1,
                "female_speech": 1,
                "dog_bark": 1,
                "helicopter": 0.5,
                "drill": 0.5,
                "bird_chirp": 0.5,
                "crow_caw": 0.5,
                "whistling": 0.5,
                "alarm": 0.5,
            },
            0.15,
            {"folk": 2.0, "jazz": 1.0, "rock": 1.0},
        ),
        Place(
            "park",
            "outdoor",
            (),
            ("park", "rain"),
            {
                "bird_chirp": 2,
                "crow_caw": 1,
                "dog_bark": 1.5,
                "male_speech": 1,
                "female_speech": 1,
                "child_speech": 1.5,
                "laughter": 1,
                "footsteps": 1,
                "owl_hoot": 0.5,
                "insect_chirp": 1,
                "duck_quack": 1,
                "whistling": 0.5,
                "clapping": 0.5,
                "stream": 1,
                "helicopter": 0.3,
            },
            0.15,
            {"folk": 2.0, "jazz": 1.0, "classical": 1.0},
        ),
        Place(
            "farm",
            "outdoor",
            (),
            ("park", "rain"),
            {
                "cow_moo": 2,
                "duck_quack": 1.5,
                "crow_caw": 1,
                "dog_bark": 1.5,
                "frog_croak": 1,
                "insect_chirp": 1,
                "truck_engine": 1,
                "thunder": 0.5,
                "wind": 1,
                "stream": 0.5,
                "male_speech": 0.5,
                "bird_chirp": 1,
            },
            0.05,
            {"folk": 1.0},
        ),
        Place(
            "wilderness",
            "outdoor",
            (),
            ("park", "rain"),
            {
                "ocean_waves": 1.5,
                "wind": 1,
                "thunder": 1,
                "stream": 1.5,
                "fire_crackle": 1.5,
                "bird_chirp": 1,
                "frog_croak": 1,
                "owl_hoot": 1,
                "insect_chirp": 1,
                "crow_caw": 0.5,
                "rain": 1,
            },
            0.05,
            {"folk": 1.0},
        ),
    ]
}
