"""The Audio Concept Hierarchy (ACH): sources, merge, validation, ancestor tables,
PyG / networkx export, variants for ablations, label mapping and rendering.

``build_ach()`` gives the embedded ``core`` hierarchy; ``build_ach(("core", "audioset"),
audioset_ontology=PATH)`` merges Google's AudioSet ontology into it. This package imports
nothing else from ``hacd_graph``; torch_geometric, networkx and matplotlib are imported only
by the functions that need them.
"""

from hacd_graph.ach.build import build_ach
from hacd_graph.ach.concept import Concept
from hacd_graph.ach.hierarchy import ConceptHierarchy
from hacd_graph.ach.validate import HierarchyError

__all__ = ["Concept", "ConceptHierarchy", "HierarchyError", "build_ach"]
