import json

import pytest

from hacd_graph.bridge import BridgeConfig


def test_json_round_trip_is_exact(tmp_path):
    config = BridgeConfig(audio_dim=7, concept_dim=5, llm_hidden_size=11, num_queries=3,
                          num_layers=1, num_heads=2, hidden_size=6, concept_top_k=4,
                          bridge_type="hierarchical", extra={"note": "x"})
    config.to_json_file(tmp_path / "c" / "config.json")
    assert BridgeConfig.from_json_file(tmp_path / "c" / "config.json") == config
    assert json.loads((tmp_path / "c" / "config.json").read_text())["num_queries"] == 3
    assert not [p for p in (tmp_path / "c").iterdir() if p.name.startswith(".")]


def test_defaults_follow_the_contract():
    config = BridgeConfig(audio_dim=1, concept_dim=2, llm_hidden_size=8)
    assert (config.num_queries, config.num_layers, config.num_heads) == (32, 2, 8)


@pytest.mark.parametrize("changes, message", [
    ({"audio_dim": 0}, "audio_dim"),
    ({"hidden_size": 10, "num_heads": 3}, "divisible"),
    ({"bridge_type": "qformer"}, "bridge_type"),
    ({"concept_top_k": 0}, "concept_top_k"),
    ({"num_layers": -1}, "num_layers"),
])
def test_bad_settings_are_named(changes, message):
    base = dict(audio_dim=4, concept_dim=4, llm_hidden_size=8, hidden_size=8, num_heads=2)
    with pytest.raises(ValueError, match=message):
        BridgeConfig(**{**base, **changes})


def test_unknown_keys_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match="unknown BridgeConfig keys"):
        BridgeConfig.from_dict({"audio_dim": 1, "concept_dim": 1, "llm_hidden_size": 8,
                                "wat": 1})
    with pytest.raises(FileNotFoundError, match="no bridge config"):
        BridgeConfig.from_json_file(tmp_path / "nope.json")
