"""The hierarchy as a PyTorch Geometric graph for GNN encoders."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from hacd_graph.ach.core import FACETS

if TYPE_CHECKING:
    import torch_geometric.data

    from hacd_graph.ach.hierarchy import ConceptHierarchy

# edge_type values of :func:`to_pyg`
PARENT_TO_CHILD = 0
CHILD_TO_PARENT = 1
EDGE_TYPES = ("parent_to_child", "child_to_parent")


def facet_names(hierarchy: ConceptHierarchy) -> list[str]:
    """Facet vocabulary: the core facets in fixed order, then any others found, sorted."""
    extra = sorted(set(hierarchy.facets) - set(FACETS))
    return list(FACETS) + extra


def to_pyg(hierarchy: ConceptHierarchy) -> torch_geometric.data.Data:
    """Convert the hierarchy to a ``torch_geometric.data.Data``.

    Returns:
        ``Data`` with
        - ``edge_index`` LongTensor [2, 2E]: the E parent -> child edges, then the same
          edges reversed (child -> parent);
        - ``edge_type`` LongTensor [2E]: :data:`PARENT_TO_CHILD` (0) or
          :data:`CHILD_TO_PARENT` (1), names in ``edge_type_names``;
        - ``level`` LongTensor [N] (root = 0) and ``facet`` LongTensor [N] (indices into
          ``facet_names``);
        - ``num_nodes`` = N, ``concept_ids`` (list of N ids).

    Shapes:
        N concepts, E parent -> child edges.
    """
    from torch_geometric.data import Data

    edges = hierarchy.edges()
    down = torch.tensor(edges, dtype=torch.long).reshape(-1, 2).t()
    edge_index = torch.cat([down, down.flip(0)], dim=1)
    edge_type = torch.cat(
        [
            torch.full((down.shape[1],), PARENT_TO_CHILD, dtype=torch.long),
            torch.full((down.shape[1],), CHILD_TO_PARENT, dtype=torch.long),
        ]
    )
    names = facet_names(hierarchy)
    lookup = {name: i for i, name in enumerate(names)}
    facet = torch.tensor([lookup[f] for f in hierarchy.facets], dtype=torch.long)
    return Data(
        edge_index=edge_index,
        edge_type=edge_type,
        level=hierarchy.level,
        facet=facet,
        num_nodes=len(hierarchy),
        concept_ids=hierarchy.ids,
        facet_names=names,
        edge_type_names=list(EDGE_TYPES),
    )
