"""The one training loop shared by every stage (teacher, distillation, fine-tuning).

A stage plugs in by implementing :class:`Stage` (model, data, loss, evaluation, export);
:func:`fit` does the rest with plain PyTorch or DeepSpeed ZeRO. Library modules never
import this package: only the pipeline (``hacd_graph.pipeline``) and ``train.py`` do.
"""

from hacd_graph.training.checkpoint import CheckpointMismatch
from hacd_graph.training.config import TrainerConfig, config_from_mapping
from hacd_graph.training.distributed import DistributedContext, init_distributed, seed_everything
from hacd_graph.training.loop import TrainResult, completed_result, fit
from hacd_graph.training.stage import Stage, StepOutput

__all__ = [
    "CheckpointMismatch",
    "DistributedContext",
    "Stage",
    "StepOutput",
    "TrainResult",
    "TrainerConfig",
    "completed_result",
    "config_from_mapping",
    "fit",
    "init_distributed",
    "seed_everything",
]
