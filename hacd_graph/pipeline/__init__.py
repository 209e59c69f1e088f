"""The pipeline that ``train.py`` runs: config composition and the stages in order.

This is the top of the import graph: it may import every part and the training loop;
nothing imports it but ``train.py``, the tests and the benchmarks.
"""

from hacd_graph.pipeline.compose import CONFIG_DIR, compose_config, config_groups
from hacd_graph.pipeline.runner import run_pipeline
from hacd_graph.pipeline.stages import STAGES, DataConfig

__all__ = ["CONFIG_DIR", "STAGES", "DataConfig", "compose_config", "config_groups",
           "run_pipeline"]
