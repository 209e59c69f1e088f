"""Composing the run's config from ``configs/`` with Hydra's compose API.

``train.py --config NAME key=value ...`` becomes ``compose_config(NAME, ["key=value", ...])``:
``configs/NAME.yaml`` is a defaults list over the groups (ach, gnn, teacher, data, trainer,
deepspeed, experiment); overrides follow Hydra's grammar (``teacher=flat``,
``trainer.max_steps=50``, ``+new.key=1``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"


def compose_config(name: str, overrides: Sequence[str] = (),
                   config_dir: str | Path | None = None) -> DictConfig:
    """Compose ``configs/<name>.yaml`` with ``overrides``.

    Args:
        name: the top config (e.g. ``distill_gnn``).
        overrides: Hydra overrides.
        config_dir: the config folder (default: the project's ``configs/``).

    Returns:
        The composed config (not yet resolved).

    Raises:
        FileNotFoundError: no such config (the known ones are listed).
    """
    from hydra import compose, initialize_config_dir

    config_dir = Path(config_dir or CONFIG_DIR).resolve()
    if not (config_dir / f"{name}.yaml").exists():
        known = sorted(p.stem for p in config_dir.glob("*.yaml"))
        raise FileNotFoundError(f"no config '{name}' in {config_dir}; known: {known}")
    with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
        return compose(config_name=name, overrides=list(overrides))


def config_groups(config_dir: str | Path | None = None) -> dict[str, list[str]]:
    """Every config group and its options, e.g. ``{"gnn": ["gatv2", "gcn", ...], ...}``."""
    config_dir = Path(config_dir or CONFIG_DIR)
    return {d.name: sorted(p.stem for p in d.glob("*.yaml"))
            for d in sorted(config_dir.iterdir()) if d.is_dir()}
