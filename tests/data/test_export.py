import json
import tarfile

import numpy as np
import soundfile as sf

from hacd_graph.data.export import MANIFEST, PARTIAL, read_manifest, write_synthetic
from hacd_graph.data.shards import write_shards
from hacd_graph.data.synth.scene import SceneConfig, generate

CFG = SceneConfig(duration_s=1.0)


def test_write_manifest_resume_and_shards(tmp_path, ach):
    out = tmp_path / "synth"
    manifest = write_synthetic(out, 5, seed=2, config=CFG, progress=False)
    entries = read_manifest(manifest)
    assert [e["index"] for e in entries] == list(range(5))
    for e in entries:
        assert {"audio", "labels", "caption", "description", "qa"} <= set(e)
        audio, sr = sf.read(out / e["audio"], dtype="float32")
        assert sr == 16000 and audio.shape == (16000,)
        ref, _ = generate(2, e["index"], CFG)
        assert np.abs(audio - ref).max() < 1e-4  # 16-bit PCM of the same clip
        assert all(lbl in ach for lbl in e["labels"])
    assert not (out / PARTIAL).exists()

    # A killed run: clip 3's WAV is gone, clip 4's line is half-written.
    # Resuming redoes only what is missing.
    (out / entries[3]["audio"]).unlink()
    lines = (out / MANIFEST).read_text().splitlines()
    (out / MANIFEST).unlink()
    (out / PARTIAL).write_text("\n".join(lines[:4]) + "\n" + lines[4][:20])
    mtime0 = (out / entries[0]["audio"]).stat().st_mtime_ns
    write_synthetic(out, 7, seed=2, config=CFG, progress=False)
    again = read_manifest(out)
    assert [e["index"] for e in again] == list(range(7))
    assert again[:3] == entries[:3]
    assert (out / entries[0]["audio"]).stat().st_mtime_ns == mtime0
    assert (out / entries[3]["audio"]).exists()
    # a complete folder is left as it is (two processes may share it)
    stamp = (out / MANIFEST).stat().st_mtime_ns
    write_synthetic(out, 7, seed=2, config=CFG, progress=False)
    assert (out / MANIFEST).stat().st_mtime_ns == stamp and not (out / PARTIAL).exists()

    shards = write_shards(out, tmp_path / "shards", shard_size=3, progress=False)
    assert [p.name for p in shards] == ["shard-000000.tar", "shard-000001.tar", "shard-000002.tar"]
    with tarfile.open(shards[0]) as tar:
        names = tar.getnames()
        assert names[:2] == [f"{again[0]['id']}.wav", f"{again[0]['id']}.json"]
        meta = json.loads(tar.extractfile(names[1]).read())
        assert meta["labels"] == again[0]["labels"]


def test_parallel_writer_matches_serial(tmp_path):
    a = read_manifest(
        write_synthetic(tmp_path / "a", 4, seed=9, config=CFG, workers=2, progress=False)
    )
    b = read_manifest(
        write_synthetic(tmp_path / "b", 4, seed=9, config=CFG, workers=1, progress=False)
    )
    assert a == b


def test_refuses_to_resume_with_other_settings(tmp_path):
    import pytest

    write_synthetic(tmp_path, 1, seed=1, config=CFG, progress=False)
    with pytest.raises(ValueError, match="seed"):
        write_synthetic(tmp_path, 2, seed=2, config=CFG, progress=False)
    with pytest.raises(ValueError, match="config.duration_s"):
        write_synthetic(tmp_path, 2, seed=1, config=SceneConfig(duration_s=2.0), progress=False)
    write_synthetic(tmp_path, 2, seed=1, config=CFG, progress=False)  # same settings: resumes
