import numpy as np

from hacd_graph.data.synth.sources import SOURCES
from hacd_graph.data.text import phrases as ph
from hacd_graph.data.text.captions import captions
from hacd_graph.data.text.register import CaptionRegister


def test_several_distinct_captions(scenes, jazz_cafe):
    for _, r in [*scenes[:10], jazz_cafe]:
        caps = captions(r, np.random.default_rng(0), 5)
        assert len(caps) >= 3 and len(set(caps)) == len(caps)
        assert all(c[0].isupper() for c in caps)


def test_captions_never_name_absent_sources(scenes):
    for _, r in scenes:
        present = {s.kind for s in r.sources()} | set(r.background.elements)
        absent_subjects = {ph.SOURCE_PHRASES[k][0][2] for k in SOURCES if k not in present}
        for c in captions(r, np.random.default_rng(1), 5):
            for subject in absent_subjects:
                if len(subject.split()) >= 3:  # "a dog barking"-style unique phrases
                    assert subject not in c.lower(), (subject, c)


def test_temporal_connectors_only_when_the_second_sound_starts_later(scenes):
    for _, r in scenes:
        comps = sorted(r.components, key=lambda c: (c.music is None, -c.level_db, c.start_s))
        if len(comps) >= 2 and comps[1].start_s <= comps[0].start_s + 0.5:
            for c in captions(r, np.random.default_rng(2), 5):
                assert "followed by" not in c and ", then" not in c


def test_vocabulary_variety(scenes):
    words = {
        w
        for _, r in scenes
        for c in captions(r, np.random.default_rng(3), 5)
        for w in c.lower().split()
    }
    assert len(words) > 150


def test_register_follows_the_given_corpus(scenes, meta_dir):
    clotho = CaptionRegister.from_csvs([meta_dir / "clotho" / "clotho_captions_development.csv"])
    assert clotho.period_rate > 0.8 and clotho.captions > 10000
    caps = [c for _, r in scenes for c in captions(r, np.random.default_rng(4), 3, clotho)]
    assert np.mean([c.endswith(".") for c in caps]) > 0.6
