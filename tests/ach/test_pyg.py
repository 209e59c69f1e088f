from __future__ import annotations

import torch

from hacd_graph.ach import ConceptHierarchy
from hacd_graph.ach.pyg import CHILD_TO_PARENT, PARENT_TO_CHILD


def test_to_pyg(merged_ach: ConceptHierarchy):
    data = merged_ach.to_pyg()
    n, e = len(merged_ach), merged_ach.num_edges
    assert data.num_nodes == n
    assert data.edge_index.shape == (2, 2 * e) and data.edge_index.dtype == torch.long
    assert data.edge_type.tolist() == [PARENT_TO_CHILD] * e + [CHILD_TO_PARENT] * e
    down = data.edge_index[:, :e]
    assert set(map(tuple, down.t().tolist())) == set(merged_ach.edges())
    assert torch.equal(data.edge_index[:, e:], down.flip(0))
    assert torch.equal(data.level, merged_ach.level)
    assert [data.facet_names[f] for f in data.facet.tolist()] == merged_ach.facets
    assert data.concept_ids == merged_ach.ids
    assert data.edge_type_names == ["parent_to_child", "child_to_parent"]
    data.validate(raise_on_error=True)


def test_to_pyg_tiny(toy: ConceptHierarchy):
    data = toy.to_pyg()
    assert data.edge_index[:, data.edge_type == PARENT_TO_CHILD].shape[1] == toy.num_edges
    assert data.facet.tolist() == [data.facet_names.index("")] * len(toy)
