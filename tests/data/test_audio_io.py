import numpy as np
import pytest
import soundfile as sf
import torch

from hacd_graph.data.audio_io import AudioReadError, fit_to_length, load_audio


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
        "non_finite": tmp_path / "nan.wav",
    }
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
