import pytest

from hacd_graph.llm.corpus import (
    TextCorpus,
    build_corpus,
    core_concept_names,
    default_corpus,
    generated_texts,
    read_caption_csvs,
)


def test_reads_audiocaps_and_clotho_captions(meta_dir):
    captions = read_caption_csvs(meta_dir)
    # AudioCaps v1: 49,838 train captions, 5 x 495 val, 5 x 975 test; Clotho v1: 5 x (2,893 + 1,045)
    assert len(captions) == 49838 + 5 * 495 + 5 * 975 + 5 * (2893 + 1045)
    assert "A woman talks nearby as water pours" in captions
    assert "A person is turning a map over and over." in captions


def test_missing_folder_or_column(tmp_path):
    with pytest.raises(FileNotFoundError, match="no caption CSV"):
        read_caption_csvs(tmp_path)
    (tmp_path / "audiocaps").mkdir()
    (tmp_path / "audiocaps" / "train.csv").write_text("audiocap_id,text\n1,hello\n")
    with pytest.raises(ValueError, match=r"train.csv has no column\(s\) \['caption'\]"):
        read_caption_csvs(tmp_path)


def test_corpus_deduplicates_and_hashes(meta_dir):
    corpus = build_corpus(meta_dir, generated_texts=["A dog barks.", "  A dog   barks. "],
                          concept_names=["dog", "A dog barks."], limit=100)
    assert corpus.counts == {"captions": len(set(corpus.texts[:corpus.counts["captions"]])),
                             "generated": 1, "concepts": 1}
    assert corpus.texts[-2:] == ["A dog barks.", "dog"]
    again = build_corpus(meta_dir, ["A dog barks."], ["dog"], limit=100)
    assert again.digest() == corpus.digest()
    other = TextCorpus()
    other.add("x", reversed(corpus.texts))
    assert other.digest() != corpus.digest()
    with pytest.raises(ValueError, match="empty"):
        build_corpus(None)


def test_generated_texts_are_cached(tmp_path):
    texts = generated_texts(2, tmp_path, progress=False)
    # per clip: 5 captions, 1 description, 8 QA pairs
    assert len(texts) == 2 * (5 + 1 + 8)
    assert any(t.startswith("General category:") for t in texts)
    cached = list(tmp_path.glob("generated-2-*.json"))
    assert len(cached) == 1
    cached[0].write_text('["from the cache"]')
    assert generated_texts(2, tmp_path) == ["from the cache"]


def test_default_corpus_has_all_three_sources(tmp_path, meta_dir):
    names = core_concept_names()
    assert len(names) > 500 and "Speech" in names
    corpus = default_corpus(meta_dir, tmp_path, generated_clips=1, caption_limit=50,
                            progress=False)
    assert corpus.counts["captions"] == 50
    assert 0 < corpus.counts["generated"] <= 14 and corpus.counts["concepts"] > 500
