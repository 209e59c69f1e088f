"""The bridge from audio frames and concepts into any Hugging Face causal LM.

Parts (configuration / processing / modeling, as transformers' ``qwen2_audio``):

- :class:`BridgeConfig` — settings, saved as ``config.json``;
- :class:`HierarchicalBridge` (queries over frames and probability-weighted concepts) and
  :class:`MLPBridge` (LLaVA-style baseline), both :class:`PretrainedBridge`
  (``save_pretrained`` / ``from_pretrained``);
- :func:`attach_bridge` -> :class:`AudioCausalLM` (placeholder splicing, ``generate``);
- :class:`AudioPromptProcessor` — prompts with the right number of placeholders;
- :class:`GraphConceptHead` — conditional concept logits from the LLM's hidden state;
- :func:`reproject_bridge` / :func:`realign_bridge` — import a bridge into another LLM.

The bridge takes tensors; it knows nothing of the hierarchy code or of training.
"""

from hacd_graph.bridge.audio_causal_lm import (
    AudioCausalLM,
    AudioCausalLMOutput,
    attach_bridge,
    summary_positions,
)
from hacd_graph.bridge.concept_head import ConceptHeadConfig, GraphConceptHead
from hacd_graph.bridge.config import BridgeConfig
from hacd_graph.bridge.embedding_merge import merge_audio_embeddings
from hacd_graph.bridge.hierarchical_bridge import HierarchicalBridge
from hacd_graph.bridge.mlp_bridge import MLPBridge
from hacd_graph.bridge.pretrained import (
    BridgeOutput,
    PretrainedBridge,
    build_bridge,
    load_bridge,
)
from hacd_graph.bridge.processing import AudioPromptProcessor
from hacd_graph.bridge.transfer import realign_bridge, reproject_bridge

__all__ = [
    "AudioCausalLM",
    "AudioCausalLMOutput",
    "AudioPromptProcessor",
    "BridgeConfig",
    "BridgeOutput",
    "ConceptHeadConfig",
    "GraphConceptHead",
    "HierarchicalBridge",
    "MLPBridge",
    "PretrainedBridge",
    "attach_bridge",
    "build_bridge",
    "load_bridge",
    "merge_audio_embeddings",
    "realign_bridge",
    "reproject_bridge",
    "summary_positions",
]
