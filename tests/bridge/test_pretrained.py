import pytest
import torch

from hacd_graph.bridge import (
    BridgeConfig,
    HierarchicalBridge,
    MLPBridge,
    PretrainedBridge,
    build_bridge,
    load_bridge,
)

from .conftest import make_audio, make_bridge


@pytest.mark.parametrize("bridge_type", ["hierarchical", "mlp"])
def test_save_and_load_round_trip_exactly(tmp_path, bridge_type):
    torch.manual_seed(1)
    config = BridgeConfig(audio_dim=12, concept_dim=10, llm_hidden_size=24, num_queries=5,
                          num_heads=2, hidden_size=8, concept_top_k=6,
                          bridge_type=bridge_type)
    bridge = build_bridge(config).eval()
    bridge.save_pretrained(tmp_path / "b")
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["config.json",
                                                                  "model.safetensors"]
    cls = HierarchicalBridge if bridge_type == "hierarchical" else MLPBridge
    for loaded in (cls.from_pretrained(tmp_path / "b"), load_bridge(tmp_path / "b")):
        assert type(loaded) is cls and loaded.config == config
        for (name, a), (_, b) in zip(bridge.state_dict().items(),
                                     loaded.state_dict().items(), strict=True):
            assert torch.equal(a, b), name
        audio, concepts, probs = make_audio(2)
        assert torch.equal(bridge(audio, concepts, probs), loaded.eval()(audio, concepts, probs))


def test_loading_into_the_wrong_class_or_missing_weights(tmp_path):
    make_bridge().save_pretrained(tmp_path / "h")
    with pytest.raises(ValueError, match="MLPBridge needs bridge_type='mlp'"):
        MLPBridge.from_pretrained(tmp_path / "h")
    (tmp_path / "h" / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="no weights"):
        PretrainedBridge.from_pretrained(tmp_path / "h")
