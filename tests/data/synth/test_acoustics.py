import numpy as np
import pytest

from hacd_graph.data.synth import acoustics, dsp

SR = 16000


def _rt60_schroeder(h: np.ndarray, sr: int) -> float:
    """RT60 from the -5..-25 dB slope of the Schroeder backward-integrated decay (T20 x 3)."""
    edc = np.cumsum(h[::-1].astype(np.float64) ** 2)[::-1]
    db = 10 * np.log10(edc / edc[0] + 1e-30)
    t = np.arange(h.size) / sr
    sel = (db <= -5) & (db >= -25)
    slope = np.polyfit(t[sel], db[sel], 1)[0]
    return -60.0 / slope


@pytest.mark.parametrize(("rt60", "room"), [(0.3, "small"), (0.7, "medium"), (1.4, "large")])
def test_rir_decays_at_the_requested_rt60(rt60, room):
    h = acoustics.room_impulse_response(np.random.default_rng(0), rt60, room, SR)
    assert abs(np.sum(h.astype(np.float64) ** 2) - 1.0) < 1e-4
    assert _rt60_schroeder(h, SR) == pytest.approx(rt60, rel=0.2)


def test_telephone_band_removes_high_and_low_frequencies():
    x = dsp.white(np.random.default_rng(1), SR)
    y = acoustics.band_limit(x, "telephone", SR, np.random.default_rng(2))
    spec = np.abs(np.fft.rfft(y)) ** 2
    f = np.fft.rfftfreq(y.size, 1 / SR)
    inband = spec[(f > 500) & (f < 3000)].mean()
    assert spec[f > 5000].mean() < 1e-3 * inband
    assert spec[f < 100].mean() < 1e-2 * inband


def test_clipping_and_loudness_are_measured():
    x = np.sin(np.linspace(0, 200, SR)).astype(np.float32) * np.linspace(0, 1, SR, dtype=np.float32)
    y, fraction = acoustics.clip_hard(x, 95.0)
    assert 0.04 < fraction < 0.07 and np.abs(y).max() == pytest.approx(0.99, abs=1e-6)
    z, level = acoustics.set_loudness(x, -20.0)
    assert level == pytest.approx(20 * np.log10(dsp.rms(z)), abs=1e-3)
    assert level == pytest.approx(-20.0, abs=0.01)
    _, capped = acoustics.set_loudness(x, 0.0)  # peak limit wins
    assert capped < 0.0


def test_classifiers():
    assert [acoustics.classify_reverberation(t) for t in (0.1, 0.4, 0.7, 1.5)] == [
        "dry",
        "slight",
        "moderate",
        "strong",
    ]
    assert [acoustics.classify_loudness(d) for d in (-40, -25, -10)] == [
        "quiet",
        "moderate",
        "loud",
    ]
    assert acoustics.classify_noise(-60) == "clean" and acoustics.classify_noise(-20) == "noisy"
