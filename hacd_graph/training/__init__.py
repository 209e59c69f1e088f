"""The one training loop shared by every stage (teacher, distillation, fine-tuning).

A stage plugs in by implementing :class:`Stage` (model, data, loss, evaluation, export);
:func:`fit` does the rest with plain PyTorch (DDP across ranks) or DeepSpeed ZeRO.

Who imports this package: the pipeline (``hacd_graph.pipeline``) and ``train.py`` for the
run's stages, and the two build steps that train outside a run directory but through the
same loop: the default LLM's pre-training (``hacd_graph.llm.pretrain``) and bridge
re-alignment (``hacd_graph.bridge.transfer``). Each defines a small stage class (model,
batches, loss) and a thin function that calls :func:`fit`. This package imports nothing
from the rest of ``hacd_graph`` (but ``atomic_io``), so no import cycle can form.
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
