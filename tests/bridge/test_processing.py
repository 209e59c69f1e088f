import pytest
import torch

from hacd_graph.bridge import AudioPromptProcessor

A = 999


def test_prompt_layout_and_labels(tiny_tokenizer_factory):
    tok = tiny_tokenizer_factory()
    proc = AudioPromptProcessor(tok, num_queries=3, audio_token_id=A)
    ids, labels = proc.encode("Listen: <audio> What is it?", "A dog barks.")
    prompt = [tok.bos_token_id] + tok("Listen:", add_special_tokens=False)["input_ids"]
    assert ids[: len(prompt)] == prompt
    assert ids[len(prompt): len(prompt) + 3] == [A, A, A]
    target = tok(" A dog barks.", add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    assert ids[-len(target):] == target and labels[-len(target):] == target
    assert set(labels[: -len(target)]) == {-100}
    assert tok.decode(ids[len(prompt) + 3: -len(target)]).strip() == "What is it?"
    # no marker: the clip goes first
    ids, _ = proc.encode("Describe.")
    assert ids[:4] == [tok.bos_token_id, A, A, A]


@pytest.mark.parametrize("side", ["left", "right"])
def test_batch_padding(tiny_tokenizer_factory, side):
    tok = tiny_tokenizer_factory()
    proc = AudioPromptProcessor(tok, num_queries=2, audio_token_id=A)
    batch = proc(["<audio> a", "<audio> a much longer prompt here"], ["x", "y z"],
                 padding_side=side)
    assert set(batch) == {"input_ids", "attention_mask", "labels"}
    assert (batch["input_ids"] == A).sum(1).tolist() == [2, 2]
    pads = batch["attention_mask"] == 0
    assert pads[0].any() and not pads[1].any()
    assert (batch["labels"][pads] == -100).all()
    assert (batch["input_ids"][pads] == tok.pad_token_id).all()
    first_pad = pads[0].nonzero().flatten()
    if side == "left":
        assert first_pad.tolist() == list(range(len(first_pad)))
    else:
        assert first_pad[-1] == batch["input_ids"].shape[1] - 1


def test_max_length_and_errors(tiny_tokenizer_factory):
    tok = tiny_tokenizer_factory()
    proc = AudioPromptProcessor(tok, num_queries=2, audio_token_id=A)
    batch = proc(["<audio>"], ["a long target sentence about rain and thunder"], max_length=6)
    assert batch["input_ids"].shape == (1, 6)
    with pytest.raises(ValueError, match="longer than max_length=2"):
        proc(["<audio>"], ["x"], max_length=2)
    with pytest.raises(ValueError, match="2 audio markers"):
        proc(["<audio> and <audio>"])
    with pytest.raises(ValueError, match="2 prompts but 1 targets"):
        proc(["a", "b"], ["x"])
    with pytest.raises(ValueError, match="padding_side"):
        proc(["a"], padding_side="middle")


def test_batch_decode_drops_prompt_and_placeholders(tiny_tokenizer_factory):
    tok = tiny_tokenizer_factory()
    proc = AudioPromptProcessor(tok, num_queries=2, audio_token_id=len(tok))
    text = tok(" a dog barks", add_special_tokens=False)["input_ids"]
    seq = torch.tensor([[tok.bos_token_id, len(tok), len(tok), *text, tok.eos_token_id]])
    assert proc.batch_decode(seq) == ["a dog barks"]
    assert proc.batch_decode(seq, prompt_length=3 + 1) == [tok.decode(text[1:]).strip()]


def test_chat_template_wraps_the_prompt(tiny_tokenizer_factory):
    tok = tiny_tokenizer_factory()
    with pytest.raises(ValueError, match="no chat template"):
        AudioPromptProcessor(tok, 2, A, chat_template=True)
    tok.chat_template = ("{% for m in messages %}<s>{{ m['role'] }}: {{ m['content'] }}\n"
                         "{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}")
    proc = AudioPromptProcessor(tok, 2, A, chat_template=True)
    ids, _ = proc.encode("Hear <audio> then answer.", "Rain.")
    assert ids.count(A) == 2 and ids.count(tok.bos_token_id) == 1
    text = tok.decode([t for t in ids if t != A])
    assert text.startswith("<s>user: Hear ") and "then answer.\nassistant: Rain." in text
