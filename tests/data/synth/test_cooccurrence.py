import pytest

from hacd_graph.data.synth.cooccurrence import load_cooccurrence, measure, source_mids
from hacd_graph.data.synth.scene import SceneConfig, generate


@pytest.fixture(scope="module")
def segments(meta_dir):
    return (
        str(meta_dir / "audioset" / "eval_segments.csv"),
        str(meta_dir / "audioset" / "balanced_train_segments.csv"),
    )


def test_every_source_has_audioset_mids(ach):
    mids = source_mids(ach)
    assert all(mids[k] for k in mids), [k for k in mids if not mids[k]]


def test_lifts_from_real_audioset_clips(segments):
    table = load_cooccurrence(segments)
    assert table.clips == 20371 + 22160
    assert table.weight("car_engine", "car_horn") > 2.0
    assert table.weight("rain", "thunder") > 2.0
    assert table.weight("siren", "cow_moo") < 1.0
    assert table.weight("dog_bark", "dog_bark") == 1.0


def test_measure_counts_a_tiny_file(tmp_path, ach):
    csv = tmp_path / "seg.csv"
    rows = ['a,0,10,"/m/05tny_,/m/0k4j"'] * 6 + ['b,0,10,"/m/05tny_"'] * 4 + ['c,0,10,"/m/0k4j"']
    csv.write_text("# YTID, start_seconds, end_seconds, positive_labels\n" + "\n".join(rows) + "\n")
    table = measure([csv], ach)
    assert table.counts["dog_bark"] == 10 and table.counts["car_engine"] == 7 and table.clips == 11
    assert table.weight("dog_bark", "car_engine") == pytest.approx((6 + 0.5) / (10 * 7 / 11 + 0.5))


def test_sampler_uses_the_table_deterministically(segments):
    cfg = SceneConfig(places=("street",), duration_s=1.0, cooccurrence=segments)
    a = [generate(3, i, cfg)[1].to_dict() for i in range(4)]
    b = [generate(3, i, cfg)[1].to_dict() for i in range(4)]
    assert a == b
