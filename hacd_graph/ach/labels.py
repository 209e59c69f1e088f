"""Labels over the hierarchy: closure under ancestors and multi-hot targets.

A concept that is present implies that all its ancestors are present, so every label set
the library produces is *closed*: it contains each label's ancestors (and so the root).

Also the package's one implementation of two pieces of table arithmetic that the teacher,
the distillation loss and the metrics share (downstream modules import them from here):
the ancestor matrix of an ancestor table (:func:`ancestor_pairs`,
:func:`table_ancestor_matrix`) and the maximum over each concept's descendants
(:func:`descendant_max`).
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


def ancestor_pairs(ancestors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``(c, a)`` pairs of an ancestor table, one per valid entry, in table order.

    Args:
        ancestors: ``[N, K]`` int table padded with ``-1`` (row ``c`` = ``c`` and its
            ancestors, ``ConceptHierarchy.ancestor_table()``).

    Returns:
        ``(rows, cols)``, two int64 tensors on the table's device: ``cols[i]`` is in the row
        ``rows[i]``.
    """
    index = ancestors.long()
    valid = index >= 0
    rows = torch.arange(index.shape[0], device=index.device).unsqueeze(1).expand_as(index)
    return rows[valid], index[valid]


def table_ancestor_matrix(ancestors: torch.Tensor) -> torch.Tensor:
    """BoolTensor ``[N, N]`` of a table: ``M[c, a]`` is true when ``a`` is in row ``c``."""
    rows, cols = ancestor_pairs(ancestors)
    matrix = torch.zeros(ancestors.shape[0], ancestors.shape[0], dtype=torch.bool,
                         device=ancestors.device)
    matrix[rows, cols] = True
    return matrix


def ancestor_matrix(hierarchy: ConceptHierarchy) -> torch.Tensor:
    """BoolTensor [N, N]: ``M[c, a]`` is true when ``a`` is ``c`` or one of its ancestors."""
    return table_ancestor_matrix(hierarchy.ancestor_table())


def descendant_max(values: torch.Tensor, ancestors: torch.Tensor) -> torch.Tensor:
    """``out[b, a] = max(values[b, a], max over the descendants c of a of values[b, c])``.

    Each value is pushed up into every entry of its concept's table row with one
    scatter-max (memory ``O(B N K)``, no ``[N, N]`` matrix); differentiable.

    Args:
        values: ``[B, N]`` float.
        ancestors: ``[N, K]`` ancestor table padded with ``-1`` (row ``c`` holds ``c``).

    Returns:
        ``[B, N]`` in the dtype of ``values``, with ``out[:, parent] >= out[:, child]``.
    """
    table = ancestors.to(values.device).long()
    batch, width = values.shape[0], table.shape[1]
    own = torch.arange(table.shape[0], device=values.device).unsqueeze(1).expand_as(table)
    index = torch.where(table >= 0, table, own).reshape(1, -1)  # padding points at c itself
    src = values.unsqueeze(2).expand(-1, -1, width).reshape(batch, -1)  # [B, N*K]
    return values.scatter_reduce(1, index.expand(batch, -1), src, reduce="amax")


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
    out = descendant_max(targets.to(torch.float32), hierarchy.ancestor_table())
    return out.to(targets.dtype)
