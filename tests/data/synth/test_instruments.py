import numpy as np
import pytest

from hacd_graph.data.synth import drums, dsp, instruments

SR = 16000


def _f0(x: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    f = np.fft.rfftfreq(x.size, 1 / SR)
    band = (f > 50) & (f < 2000)
    return float(f[band][np.argmax(spec[band])])


@pytest.mark.parametrize("instrument", sorted(instruments.RANGES))
def test_notes_are_finite_and_normalised(instrument):
    lo, hi, _, _ = instruments.RANGES[instrument]
    x = instruments.note(instrument, (lo + hi) // 2, 0.5, SR)
    assert np.isfinite(x).all() and 0.1 < np.abs(x).max() <= 1.0
    assert x.size == int(0.55 * SR)


@pytest.mark.parametrize("instrument", ["acoustic_guitar", "piano", "organ", "flute", "trumpet"])
def test_note_pitch(instrument):
    x = instruments.note(instrument, 69, 1.0, SR)[: SR // 2]  # A4
    assert _f0(x) == pytest.approx(440.0, rel=0.03)


def test_karplus_strong_block_recursion_matches_the_sample_loop():
    rng = np.random.default_rng(0)
    y = instruments.karplus_strong(400.0, 600, SR, rng, 0.99, 1.0)
    p = round(SR / 400.0)
    ref = y[:p].astype(np.float64).tolist()
    for t in range(p, 600):
        ref.append(0.99 * 0.5 * (ref[t - p] + (ref[t - p - 1] if t - p - 1 >= 0 else 0.0)))
    assert np.allclose(y, np.array(ref, dtype=np.float32), atol=1e-5)


@pytest.mark.parametrize("piece", drums.PIECES)
def test_drum_hits(piece):
    x = drums.hit(piece, 1, SR)
    assert np.isfinite(x).all() and np.abs(x).max() == pytest.approx(1.0)
    assert not x.flags.writeable


def test_harmonic_sum_matches_direct_sines():
    phase = dsp.phase_from_freq(220.0, 2000, SR)
    amps = [1.0, 0.5, 0.25, 0.0, 0.1]
    ref = sum(a * np.sin((k + 1) * phase) for k, a in enumerate(amps))
    assert np.allclose(dsp.harmonic_sum(phase, amps, 220.0, SR), ref, atol=1e-3)


def test_noise_is_deterministic_given_the_generator():
    a = dsp.pink(np.random.default_rng(5), 1000)
    b = dsp.pink(np.random.default_rng(5), 1000)
    assert (
        np.array_equal(a, b) and abs(dsp.rms(dsp.white(np.random.default_rng(1), 50000)) - 1) < 0.05
    )
