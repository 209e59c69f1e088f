"""A labelled sound bank of real recordings from openly licensed Debian packages.

``hacd-graph data soundbank --out DIR`` fetches the packages (``apt-get download``),
unpacks them, labels their recordings with AudioSet MIDs by the curated rules in
``rules.csv`` / ``gm_programs.csv`` and writes WAV + ``manifest.jsonl`` in the synthetic
data's format, with source package, licence and original path per clip. See ``build.py``.
"""

from hacd_graph.data.soundbank.build import SoundbankConfig, build_soundbank
from hacd_graph.data.soundbank.packages import (
    GAME_PACKAGES,
    INSTRUMENT_PACKAGES,
    PACKAGES,
    PackageClientMissing,
)
from hacd_graph.data.soundbank.rules import Rule, RuleTable

__all__ = [
    "GAME_PACKAGES",
    "INSTRUMENT_PACKAGES",
    "PACKAGES",
    "PackageClientMissing",
    "Rule",
    "RuleTable",
    "SoundbankConfig",
    "build_soundbank",
]
