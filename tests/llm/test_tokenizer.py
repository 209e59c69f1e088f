import pytest

from hacd_graph.llm.corpus import read_caption_csvs
from hacd_graph.llm.tokenizer import train_bpe_tokenizer


def test_trained_tokenizer_encodes_anything_and_merges_words(meta_dir):
    captions = read_caption_csvs(meta_dir)[:2000]
    tok = train_bpe_tokenizer(captions, vocab_size=600)
    assert 300 < len(tok) <= 600
    assert [tok.bos_token, tok.eos_token, tok.pad_token] == ["<s>", "</s>", "<pad>"]
    assert len({tok.bos_token_id, tok.eos_token_id, tok.pad_token_id}) == 3
    # frequent caption words are single tokens
    assert len(tok.tokenize("A man speaks")) == 3
    # byte-level: anything round-trips, nothing is unknown
    text = "Ünïcode — 鳥の声 and emojis 🐦 too"
    assert tok.decode(tok(text)["input_ids"]) == text


def test_vocab_size_too_small():
    with pytest.raises(ValueError, match="below the 256 bytes"):
        train_bpe_tokenizer(["a"], vocab_size=100)
