"""Composing the run's config from ``configs/`` with Hydra's compose API.

``train.py --config NAME key=value ...`` becomes ``compose_config(NAME, ["key=value", ...])``:
``configs/NAME.yaml`` is a defaults list over the groups (ach, gnn, teacher, data, trainer,
deepspeed, experiment); overrides follow Hydra's grammar (``teacher=flat``,
``trainer.max_steps=50``, ``+new.key=1``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig

from hacd_graph.errors import ConfigError, fold_lines

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
        ConfigError: one line: no such config (the known ones are listed), an override
            Hydra cannot parse, an unknown group option (the known ones are listed) or an
            unknown key.
    """
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    config_dir = Path(config_dir or CONFIG_DIR).resolve()
    if not (config_dir / f"{name}.yaml").exists():
        known = sorted(p.stem for p in config_dir.glob("*.yaml"))
        raise ConfigError(f"--config {name}: no configs/{name}.yaml in {config_dir}; "
                          f"known: {', '.join(known)}")
    with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
        try:
            return compose(config_name=name, overrides=list(overrides))
        except (HydraException, OmegaConfBaseException) as error:
            message = hydra_message(error)
            key = unknown_key(error)
            if key is not None:  # list the keys next to it, from the config without it
                rest = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") != key]
                try:
                    node = compose(config_name=name, overrides=rest)
                except (HydraException, OmegaConfBaseException):
                    node = None
                path: list[str] = []
                for part in key.split(".")[:-1]:  # down to the deepest node that exists
                    child = node.get(part) if isinstance(node, DictConfig) else None
                    if not isinstance(child, DictConfig):
                        break
                    node, path = child, [*path, part]
                if isinstance(node, DictConfig):
                    where = ".".join(path) or "the top level"
                    message += f"; keys under {where}: {', '.join(sorted(map(str, node)))}"
            raise ConfigError(message) from error


def unknown_key(error: BaseException) -> str | None:
    """The key of an override that names no setting (Hydra: "Could not override"), if so."""
    unknown = re.match(r"Could not override '([^']+)'", str(error))
    cause = error.__cause__
    if unknown and cause is not None and "not in struct" in str(cause):
        return unknown.group(1)
    return None


def hydra_message(error: BaseException) -> str:
    """One line for a Hydra composition error (its own text is several lines long)."""
    text = str(error)
    key = unknown_key(error)
    if key is not None:
        return f"unknown config key '{key}': the config has no such setting"
    override = getattr(error, "override", None)  # hydra's OverrideParseException
    if override is not None:
        detail = fold_lines(text).removeprefix(f"Error parsing override '{override}'; ")
        return f"cannot parse the override '{override}': {detail}"
    return fold_lines(text)


def config_groups(config_dir: str | Path | None = None) -> dict[str, list[str]]:
    """Every config group and its options, e.g. ``{"gnn": ["gatv2", "gcn", ...], ...}``."""
    config_dir = Path(config_dir or CONFIG_DIR)
    return {d.name: sorted(p.stem for p in d.glob("*.yaml"))
            for d in sorted(config_dir.iterdir()) if d.is_dir()}
