import numpy as np
import pytest
import soundfile as sf
import torch

from hacd_graph.data.audio_io import (
    AudioReadError,
    SkipReport,
    check_audio,
    fit_to_length,
    load_audio,
)


@pytest.fixture
def tone(tmp_path):
    t = np.arange(8000) / 8000.0
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 440 * t)], axis=1) * 0.5
    path = tmp_path / "tone.wav"
    sf.write(path, stereo, 8000, subtype="PCM_16")
    return path


@pytest.mark.parametrize("fmt", ["wav", "flac", "ogg"])
def test_formats_mono_and_resample(tmp_path, fmt):
    x = (np.sin(2 * np.pi * 300 * np.arange(22050) / 22050) * 0.5).astype(np.float32)
    path = tmp_path / f"x.{fmt}"
    sf.write(path, np.stack([x, x], axis=1), 22050)
    y = load_audio(path, 16000)
    assert y.dtype == torch.float32 and y.dim() == 1 and abs(y.shape[0] - 16000) <= 1
    spec = np.abs(np.fft.rfft(y.numpy()))
    assert np.fft.rfftfreq(y.shape[0], 1 / 16000)[spec.argmax()] == pytest.approx(300, abs=3)


def test_pad_and_crop(tone):
    assert load_audio(tone, 8000, num_samples=10000)[8000:].abs().max() == 0
    w = torch.arange(10.0)
    assert fit_to_length(w, 4, "start").tolist() == [0, 1, 2, 3]
    assert fit_to_length(w, 4, "center").tolist() == [3, 4, 5, 6]
    g = torch.Generator().manual_seed(0)
    assert fit_to_length(w, 4, "random", g).shape == (4,)
    with pytest.raises(ValueError, match="crop"):
        fit_to_length(w, 4, "middle")


def test_bad_files_name_the_file(tmp_path, tone):
    data = tone.read_bytes()
    cases = {
        "missing": tmp_path / "nope.wav",
        "empty": tmp_path / "empty.wav",
        "truncated": tmp_path / "trunc.wav",
        "corrupt": tmp_path / "garbage.wav",
        "not_audio": tmp_path / "notes.wav",
        "non_finite": tmp_path / "nan.wav",
    }
    cases["not_audio"].write_text("this is a text file\n")
    cases["empty"].write_bytes(b"")
    cases["truncated"].write_bytes(data[: len(data) // 2])
    cases["corrupt"].write_bytes(b"RIFF" + bytes(range(256)) * 4)
    sf.write(
        cases["non_finite"], np.array([0.0, np.nan, 0.1], dtype=np.float32), 8000, subtype="FLOAT"
    )
    for reason, path in cases.items():
        with pytest.raises(AudioReadError) as err:
            load_audio(path)
        assert err.value.reason == reason and str(path) in str(err.value)


def test_check_audio_header_and_full(tmp_path, tone):
    nan = tmp_path / "nan.wav"
    sf.write(nan, np.array([0.0, np.nan, 0.1], dtype=np.float32), 8000, subtype="FLOAT")
    header_only = tmp_path / "header.wav"
    sf.write(header_only, np.zeros(0, dtype=np.float32), 8000)  # a header and 0 frames
    assert check_audio(tone) is None and check_audio(tone, full=False) is None
    assert check_audio(nan, full=False) is None and check_audio(nan).reason == "non_finite"
    assert check_audio(header_only, full=False).reason == "empty"


def test_skip_report_keeps_label_notes_apart():
    report = SkipReport()
    report.add(AudioReadError("a.wav", "truncated"))
    report.add(AudioReadError("b.wav", "not_audio"))
    report.counts["unmapped_label"] += 3
    assert report.total == 2
    assert report.summary() == (
        "skipped 2 bad audio files: not_audio 1, truncated 1; noted: unmapped_label 3")
