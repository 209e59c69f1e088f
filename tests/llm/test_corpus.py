import pytest

from hacd_graph.llm.corpus import TextCorpus, build_corpus, read_caption_csvs


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
