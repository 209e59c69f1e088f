import pytest
import torch

from hacd_graph.bridge import merge_audio_embeddings

A = 9  # the placeholder id


def test_worked_example_right_and_left_padding():
    # the docstring's example, Q = 3: rows of different lengths, placeholders anywhere
    input_ids = torch.tensor([[0, A, A, A, 5, 6, 2, 2],
                              [2, 2, 0, 7, A, A, A, 4]])
    embeds = torch.arange(8 * 2, dtype=torch.float32).view(2, 8, 1).expand(2, 8, 2).clone()
    audio = -torch.arange(1, 7, dtype=torch.float32).view(2, 3, 1).expand(2, 3, 2)
    merged = merge_audio_embeddings(input_ids, embeds, audio, A)
    assert merged[0, 1:4, 0].tolist() == [-1, -2, -3]
    assert merged[1, 4:7, 0].tolist() == [-4, -5, -6]
    keep = input_ids != A
    torch.testing.assert_close(merged[keep], embeds[keep])


def test_gradients_flow_to_the_audio_and_text_embeddings():
    input_ids = torch.tensor([[A, A, 3], [3, A, A]])
    embeds = torch.randn(2, 3, 4, requires_grad=True)
    audio = torch.randn(2, 2, 4, requires_grad=True)
    merge_audio_embeddings(input_ids, embeds, audio, A).sum().backward()
    assert (audio.grad == 1).all()
    assert embeds.grad[0, 2].eq(1).all() and embeds.grad[0, :2].eq(0).all()


def test_placeholder_count_mismatch_is_a_clear_error():
    input_ids = torch.tensor([[A, A, 3], [3, A, 5]])
    with pytest.raises(ValueError, match=r"exactly 2 audio placeholders.*rows \[1\] hold \{1: 1\}"):
        merge_audio_embeddings(input_ids, torch.randn(2, 3, 4), torch.randn(2, 2, 4), A)
    with pytest.raises(ValueError, match="width 5"):
        merge_audio_embeddings(input_ids, torch.randn(2, 3, 4), torch.randn(2, 2, 5), A)
    with pytest.raises(ValueError, match="3 clips"):
        merge_audio_embeddings(input_ids, torch.randn(2, 3, 4), torch.randn(3, 2, 4), A)
