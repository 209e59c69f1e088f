"""The AST front end against transformers' ASTFeatureExtractor on the same audio."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hacd_graph.data.features import FbankConfig, LogMelConfig
from hacd_graph.teacher.frontend import (
    ASTFbank,
    fbank_from_logmel,
    make_frontend,
    num_frames,
    silence_value,
)


@pytest.mark.parametrize("seconds", [0.7, 2.0])
def test_ast_fbank_matches_the_feature_extractor(seconds):
    from transformers import ASTFeatureExtractor

    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * 16000)) / 16000
    audio = (0.2 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(t.size))
    audio = audio.astype(np.float32)
    ours = ASTFbank(FbankConfig())(torch.from_numpy(audio))
    frames = ours.shape[0]
    assert frames == num_frames(FbankConfig(), audio.size)
    ext = ASTFeatureExtractor(max_length=frames + 20)  # pads 20 frames the AST way
    theirs = ext(audio, sampling_rate=16000, return_tensors="pt").input_values[0]
    torch.testing.assert_close(ours, theirs[:frames], atol=2e-4, rtol=1e-4)
    pad = -FbankConfig().norm_mean / (2 * FbankConfig().norm_std)
    torch.testing.assert_close(theirs[frames:], torch.full_like(theirs[frames:], pad))


def test_front_end_helpers():
    lm = LogMelConfig(n_mels=32, hop_length=160)
    fb = fbank_from_logmel(lm)
    assert fb.num_mel_bins == 32 and fb.frame_shift_ms == 10.0 and fb.frame_length_ms == 25.0
    assert make_frontend(fb)(torch.randn(2, 8000)).shape == (2, num_frames(fb, 8000), 32)
    logmel = make_frontend(lm)
    assert abs(silence_value(logmel, 16000) - float(np.log(lm.log_offset))) < 1e-4
