"""Labels over the hierarchy: closure under ancestors and multi-hot targets.

A concept that is present implies that all its ancestors are present, so every label set
the library produces is *closed*: it contains each label's ancestors (and so the root).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch

from hacd_graph.ach.hierarchy import ConceptHierarchy

Label = int | str


def label_indices(hierarchy: ConceptHierarchy, labels: Iterable[Label]) -> list[int]:
    """Indices of ``labels`` (indices, ids, alternative or redirected ids, names, aliases).

    A redirected id (a concept merged away by a variant) contributes every concept that
    stands for it now.

    Raises:
        KeyError: a label the hierarchy does not know (the message names it).
        IndexError: an index out of range.
    """
    out: list[int] = []
    for label in labels:
        if isinstance(label, str):
            out.extend(hierarchy.resolve(label))
        else:
            index = int(label)
            if not 0 <= index < len(hierarchy):
                raise IndexError(f"label index {index} out of range for {len(hierarchy)} concepts")
            out.append(index)
    return out


def close_labels(hierarchy: ConceptHierarchy, labels: Iterable[Label]) -> list[int]:
    """The closure of ``labels`` under ancestors, as sorted indices.

    An empty label set stays empty (nothing is known to be present).
    """
    closed: set[int] = set()
    for index in label_indices(hierarchy, labels):
        if index not in closed:
            closed.add(index)
            closed |= hierarchy.ancestors(index)
    return sorted(closed)


def close_ids(hierarchy: ConceptHierarchy, labels: Iterable[Label]) -> list[str]:
    """Like :func:`close_labels` but returns concept ids (in index order)."""
    ids = hierarchy.ids
    return [ids[i] for i in close_labels(hierarchy, labels)]


def is_closed(hierarchy: ConceptHierarchy, labels: Iterable[Label]) -> bool:
    """Whether ``labels`` already contains every ancestor of each of its labels."""
    present = set(label_indices(hierarchy, labels))
    return all(hierarchy.ancestors(i) <= present for i in present)


def ancestor_matrix(hierarchy: ConceptHierarchy) -> torch.Tensor:
    """BoolTensor [N, N]: ``M[c, a]`` is true when ``a`` is ``c`` or one of its ancestors."""
    table = hierarchy.ancestor_table()
    matrix = torch.zeros(len(hierarchy), len(hierarchy), dtype=torch.bool)
    rows = torch.arange(len(hierarchy)).unsqueeze(1).expand_as(table)
    valid = table >= 0
    matrix[rows[valid], table[valid]] = True
    return matrix


def multi_hot(
    hierarchy: ConceptHierarchy,
    label_sets: Sequence[Iterable[Label]],
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Closed multi-hot targets.

    Args:
        hierarchy: The hierarchy the labels refer to.
        label_sets: B label sets (indices, ids or names).
        dtype: Output dtype.

    Returns:
        Tensor [B, N] with 1 at every label and every ancestor of a label.
    """
    out = torch.zeros(len(label_sets), len(hierarchy), dtype=dtype)
    for row, labels in enumerate(label_sets):
        indices = close_labels(hierarchy, labels)
        if indices:
            out[row, indices] = 1
    return out


def close_multi_hot(hierarchy: ConceptHierarchy, targets: torch.Tensor) -> torch.Tensor:
    """Close a batch of multi-hot (or probability) targets under ancestors.

    Every ancestor of a positive entry becomes positive; for soft targets each concept
    gets the maximum of its own value and its descendants' values, which is the smallest
    ancestor-consistent target (a parent is at least as likely as any child).

    Shapes:
        targets: [B, N] (float or bool) -> same shape and dtype; works in B x N x K memory.
    """
    if targets.shape[-1] != len(hierarchy):
        raise ValueError(
            f"targets have {targets.shape[-1]} columns "
            f"but the hierarchy has {len(hierarchy)} concepts"
        )
    table = hierarchy.ancestor_table().to(targets.device)  # [N, K]
    own = torch.arange(len(hierarchy), device=targets.device).unsqueeze(1).expand_as(table)
    index = torch.where(table >= 0, table, own).reshape(1, -1)  # padding points at c itself
    values = targets.to(torch.float32)
    batch = values.shape[0]
    src = values.unsqueeze(2).expand(-1, -1, table.shape[1]).reshape(batch, -1)  # [B, N*K]
    # out[b, a] = max over c with a in A[c] of targets[b, c]
    out = values.clone().scatter_reduce_(1, index.expand(batch, -1), src, reduce="amax")
    return out.to(targets.dtype)
