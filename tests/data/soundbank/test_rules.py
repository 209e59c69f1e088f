"""The labelling tables: every MID is a concept of the default hierarchy, rules match as
documented."""

from __future__ import annotations

from hacd_graph.data.soundbank import PACKAGES, RuleTable


def test_every_mid_is_in_the_hierarchy(ach_audioset):
    table = RuleTable()
    mids = {m for r in table.rules for m in r.mids if m != "@gm"}
    mids |= {m for _, ms in table.gm.values() for m in ms}
    missing = sorted(m for m in mids if m not in set(ach_audioset.ids))
    assert not missing, f"rules name MIDs the hierarchy lacks: {missing}"
    assert set(table.sources) == set(PACKAGES)


def test_first_match_wins_and_exclusions():
    t = RuleTable()
    rule, mids = t.labels("wesnoth-1.16-data",
                          "usr/share/games/wesnoth/1.16/data/core/sounds/wolf-growl-1.ogg")
    assert mids == ("/m/0ghcn6",)
    rule, mids = t.labels("wesnoth-1.16-data",
                          "usr/share/games/wesnoth/1.16/data/core/sounds/magic-holy-1.ogg")
    assert rule is not None and rule.excluded and mids == ()
    _, mids = t.labels("hedgewars-data", "usr/share/games/hedgewars/Data/Sounds/voices/"
                       "Default/Laugh.ogg")
    assert mids == ("/m/01j3sz",)
    _, mids = t.labels("hedgewars-data", "usr/share/games/hedgewars/Data/Sounds/voices/"
                       "Default/Hello.ogg")
    assert mids == ("/m/09x0r",)
    assert t.labels("no-such-package", "x.wav") == (None, ())


def test_general_midi_lookup():
    t = RuleTable()
    _, mids = t.labels("timgm6mb-soundfont", "gm/program-000/n60-v064-d0.5")
    assert mids == ("/m/05r5c",)  # piano
    _, mids = t.labels("timgm6mb-soundfont", "gm/drum-38/n38-v112-d0.5")
    assert mids == ("/m/06rvn",)  # snare drum
    _, mids = t.labels("freepats", "usr/share/midi/freepats/Tone_000/040_Violin.pat")
    assert mids == ("/m/07y_7",)
    _, mids = t.labels("timgm6mb-soundfont", "gm/program-127/n60-v064-d0.5")
    assert mids == ()  # GM sound effects are left out
