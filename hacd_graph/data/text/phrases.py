"""The phrase bank captions and descriptions draw from: for each source, ways to say what
makes the sound and what it does, in the register of AudioCaps and Clotho captions ("a man
speaks", "a dog barks in the distance", "birds chirp as water trickles").

Each source has (subject, verb phrase, gerund phrase) triples: "a dog" / "barks" /
"a dog barking". Keep entries literal: a phrase may only say what the renderer makes.
"""

from __future__ import annotations

Phrase = tuple[str, str, str]  # subject, verb phrase (3rd person), nominal phrase

SOURCE_PHRASES: dict[str, list[Phrase]] = {
    "male_speech": [
        ("a man", "speaks", "a man speaking"),
        ("a man", "talks", "a man talking"),
        ("an adult male", "speaks", "an adult male speaking"),
    ],
    "female_speech": [
        ("a woman", "speaks", "a woman speaking"),
        ("a woman", "talks", "a woman talking"),
        ("an adult female", "speaks", "an adult female speaking"),
    ],
    "child_speech": [
        ("a child", "speaks", "a child speaking"),
        ("a young child", "talks", "a child talking"),
        ("a kid", "talks", "a kid talking"),
    ],
    "laughter": [
        ("someone", "laughs", "someone laughing"),
        ("a person", "laughs", "laughter"),
        ("people", "laugh", "people laughing"),
    ],
    "cough": [
        ("a person", "coughs", "a person coughing"),
        ("someone", "coughs", "coughing"),
        ("a man", "clears his throat and coughs", "coughing"),
    ],
    "whistling": [
        ("a person", "whistles a tune", "a person whistling"),
        ("someone", "whistles", "whistling"),
        ("a man", "whistles a melody", "a man whistling"),
    ],
    "clapping": [
        ("a person", "claps", "a person clapping"),
        ("someone", "claps their hands", "hand clapping"),
    ],
    "applause": [
        ("an audience", "applauds", "an audience applauding"),
        ("a crowd", "claps and applauds", "applause"),
        ("people", "applaud", "a round of applause"),
    ],
    "footsteps": [
        ("a person", "walks on a hard floor", "footsteps"),
        ("someone", "walks by", "footsteps on a hard surface"),
        ("a person", "walks", "people walking"),
    ],
    "dog_bark": [
        ("a dog", "barks", "a dog barking"),
        ("a dog", "barks loudly", "barking"),
        ("a dog", "yaps", "a dog barking"),
    ],
    "cat_meow": [("a cat", "meows", "a cat meowing"), ("a cat", "mews", "meowing")],
    "bird_chirp": [
        ("birds", "chirp", "birds chirping"),
        ("a bird", "sings", "birdsong"),
        ("small birds", "tweet", "birds tweeting"),
    ],
    "crow_caw": [("a crow", "caws", "a crow cawing"), ("a bird", "caws", "cawing")],
    "cow_moo": [("a cow", "moos", "a cow mooing"), ("cattle", "moo", "mooing")],
    "frog_croak": [("frogs", "croak", "frogs croaking"), ("a frog", "croaks", "croaking")],
    "insect_chirp": [
        ("crickets", "chirp", "crickets chirping"),
        ("insects", "chirp", "insects chirping"),
    ],
    "owl_hoot": [("an owl", "hoots", "an owl hooting"), ("an owl", "calls", "hooting")],
    "duck_quack": [("a duck", "quacks", "a duck quacking"), ("ducks", "quack", "ducks quacking")],
    "rain": [
        ("rain", "falls", "rain falling"),
        ("rain", "pours down", "pouring rain"),
        ("rain", "patters", "the patter of rain"),
    ],
    "wind": [("wind", "blows", "wind blowing"), ("the wind", "gusts", "gusting wind")],
    "stream": [
        ("water", "trickles", "water trickling"),
        ("a stream", "flows", "a stream flowing"),
        ("water", "babbles", "running water"),
    ],
    "ocean_waves": [
        ("waves", "crash on the shore", "waves crashing"),
        ("the surf", "rolls in", "ocean waves"),
    ],
    "thunder": [
        ("thunder", "rumbles", "thunder rumbling"),
        ("thunder", "cracks and rolls", "a thunderclap"),
    ],
    "fire_crackle": [
        ("a fire", "crackles", "a fire crackling"),
        ("wood", "crackles as it burns", "crackling flames"),
    ],
    "car_engine": [
        ("a car engine", "runs", "a car engine running"),
        ("a vehicle engine", "hums", "an engine humming"),
        ("a car", "idles", "a car idling"),
    ],
    "truck_engine": [
        ("a truck engine", "idles", "a truck idling"),
        ("a large vehicle", "rumbles", "a diesel engine rumbling"),
    ],
    "helicopter": [
        ("a helicopter", "flies overhead", "a helicopter flying"),
        ("helicopter blades", "thump", "the thumping of helicopter blades"),
    ],
    "traffic": [("traffic", "passes", "traffic passing"), ("cars", "drive by", "road traffic")],
    "siren": [
        ("a siren", "wails", "a siren wailing"),
        ("an emergency siren", "blares", "a siren blaring"),
        ("a siren", "sounds", "an emergency siren"),
    ],
    "car_horn": [("a car horn", "honks", "a car horn honking"), ("a horn", "beeps", "honking")],
    "alarm": [
        ("an alarm", "beeps", "an alarm beeping"),
        ("an electronic alarm", "beeps repeatedly", "beeping"),
    ],
    "telephone_ring": [
        ("a telephone", "rings", "a phone ringing"),
        ("a phone", "rings", "a telephone ringing"),
    ],
    "doorbell": [
        ("a doorbell", "chimes", "a doorbell ringing"),
        ("a doorbell", "rings", "a doorbell chime"),
    ],
    "clock_tick": [
        ("a clock", "ticks", "a clock ticking"),
        ("a clock", "ticks steadily", "ticking"),
    ],
    "drill": [("a power drill", "whirs", "a drill whirring"), ("a drill", "runs", "drilling")],
    "vacuum_cleaner": [
        ("a vacuum cleaner", "runs", "a vacuum cleaner running"),
        ("a vacuum", "whooshes", "vacuuming"),
    ],
    "knock": [
        ("someone", "knocks on a door", "knocking on a door"),
        ("a person", "knocks on wood", "knocking"),
    ],
    "typing": [
        ("someone", "types on a keyboard", "typing on a keyboard"),
        ("a person", "types", "keyboard clicks"),
    ],
    "glass_clink": [
        ("glasses", "clink", "glasses clinking"),
        ("dishes", "clink", "clinking glasses"),
    ],
    "door_slam": [
        ("a door", "slams shut", "a door slamming"),
        ("a door", "bangs shut", "a door slam"),
    ],
}

BACKGROUND_PHRASES: dict[str, list[str]] = {
    "cafe": [
        "in a busy cafe",
        "over the murmur of a cafe",
        "with cafe chatter in the background",
        "as people chat in a cafe",
    ],
    "crowd": [
        "over the chatter of a crowd",
        "as a crowd murmurs",
        "with people talking in the background",
    ],
    "street": ["on a busy street", "as traffic passes", "with traffic noise in the background"],
    "rain": ["as rain falls", "while rain pours down", "with rain in the background"],
    "park": [
        "outdoors with birds and wind",
        "with birds chirping in the background",
        "as wind blows and birds chirp",
    ],
    "room_tone": ["in a quiet room", "indoors", "in a room with a faint hum"],
}

INSTRUMENT_NAMES: dict[str, str] = {
    "piano": "piano",
    "acoustic_guitar": "acoustic guitar",
    "electric_guitar": "electric guitar",
    "double_bass": "double bass",
    "electric_bass": "bass guitar",
    "organ": "organ",
    "violin": "violin",
    "cello": "cello",
    "trumpet": "trumpet",
    "trombone": "trombone",
    "saxophone": "saxophone",
    "flute": "flute",
    "bells": "glockenspiel",
    "synthesizer": "synthesizer",
    "drum_kit": "drums",
    "drum_machine": "drum machine",
}

INSTRUMENT_FAMILIES: dict[str, str] = {
    "piano": "keyboards",
    "organ": "keyboards",
    "synthesizer": "keyboards",
    "acoustic_guitar": "strings",
    "electric_guitar": "strings",
    "double_bass": "strings",
    "electric_bass": "strings",
    "violin": "strings",
    "cello": "strings",
    "trumpet": "brass",
    "trombone": "brass",
    "saxophone": "woodwinds",
    "flute": "woodwinds",
    "bells": "percussion",
    "drum_kit": "percussion",
    "drum_machine": "percussion",
}

TECHNIQUE_PHRASES: dict[str, str] = {
    "fast_arpeggios": "fast arpeggios",
    "arpeggios": "arpeggios",
    "scalar_runs": "running lines",
    "legato": "smooth legato phrases",
    "fingerpicking": "fingerpicked patterns",
    "walking_bass": "a walking bass line",
    "root_notes": "root notes",
    "offbeat_bass": "an off-beat bass line",
    "power_chords": "power chords",
    "distortion": "distortion",
    "comping": "comping chords",
    "strumming": "strummed chords",
    "sustained_chords": "sustained chords",
    "brushes": "brushes on the snare",
    "sticks": "sticks",
    "swing_ride": "a swinging ride cymbal pattern",
    "cymbal_accents": "occasional cymbal accents",
    "backbeat": "a steady backbeat",
    "four_on_the_floor": "a four-on-the-floor kick",
    "drum_fill": "a tom fill",
    "vibrato": "vibrato",
}

GENRE_NAMES = {
    "jazz": "jazz",
    "rock": "rock",
    "electronic": "electronic dance",
    "classical": "classical",
    "folk": "folk",
}
ENSEMBLE_NAMES = {
    "jazz": "a jazz band",
    "rock": "a rock band",
    "electronic": "an electronic track",
    "classical": "a classical ensemble",
    "folk": "folk musicians",
}
PLACE_NAMES = {
    "cafe": "a cafe",
    "home": "a home",
    "office": "an office",
    "hall": "a concert hall",
    "workshop": "a workshop",
    "street": "a street",
    "park": "a park",
    "farm": "a farm",
    "wilderness": "the wilderness",
}
BACKGROUND_ELEMENT_NAMES = {
    "crowd_chatter": "indistinct chatter",
    "laughter": "occasional laughter",
    "glass_clink": "clinking glasses",
    "traffic": "traffic noise",
    "footsteps": "footsteps",
    "rain": "rain",
    "wind": "wind",
    "bird_chirp": "birds chirping",
    "hum": "a faint ventilation hum",
}

# Categories the description groups components into.
SOURCE_GROUPS: dict[str, str] = {
    "human": "human activity",
    "animal": "animals",
    "nature": "natural sounds",
    "vehicle": "vehicles",
    "machine": "machines",
    "household": "household sounds",
    "signal": "signals and alarms",
}
