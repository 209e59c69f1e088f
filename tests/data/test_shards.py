import json
import tarfile

import numpy as np
import soundfile as sf

from hacd_graph.data.shards import write_synthetic_shards
from hacd_graph.data.synth.scene import SceneConfig, generate

CFG = SceneConfig(duration_s=0.5)


def test_generate_straight_into_shards_and_resume(tmp_path):
    paths = write_synthetic_shards(tmp_path, 5, seed=4, config=CFG, shard_size=2, progress=False)
    assert [p.name for p in paths] == ["shard-000000.tar", "shard-000001.tar", "shard-000002.tar"]
    with tarfile.open(paths[1]) as tar:
        names = tar.getnames()
        assert names == [
            "s4-00000002.wav",
            "s4-00000002.json",
            "s4-00000003.wav",
            "s4-00000003.json",
        ]
        audio, sr = sf.read(tar.extractfile(names[0]))
        meta = json.loads(tar.extractfile(names[1]).read())
    assert sr == 16000 and np.abs(audio - generate(4, 2, CFG)[0]).max() < 1e-4
    assert meta["index"] == 2 and meta["labels"] and meta["description"]

    first = paths[0].stat().st_mtime_ns
    paths[1].unlink()
    write_synthetic_shards(tmp_path, 5, seed=4, config=CFG, shard_size=2, workers=2, progress=False)
    assert paths[1].exists() and paths[0].stat().st_mtime_ns == first
