"""The teacher: log-mel front end, audio backbones (PANNs-style CNN, AST), graph-conditioned
and flat heads, hierarchical losses, and the teacher training stage.

Imports ``ach``, ``gnn`` and ``data.features``; never the training loop.
"""

from hacd_graph.teacher.losses import LOSSES, concept_probabilities, teacher_loss
from hacd_graph.teacher.marginals import log_marginals, marginal_bce
from hacd_graph.teacher.model import TeacherConfig, TeacherModel, TeacherOutput

__all__ = [
    "LOSSES",
    "TeacherConfig",
    "TeacherModel",
    "TeacherOutput",
    "concept_probabilities",
    "log_marginals",
    "marginal_bce",
    "teacher_loss",
]
