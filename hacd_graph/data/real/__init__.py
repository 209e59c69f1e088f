"""Loaders of real datasets in their official formats (users bring their own audio):
AudioSet, FSD50K, ESC-50, Clotho and AudioCaps. Each returns ``(clips, report)``;
``write_manifest`` turns clips into a manifest for ``ManifestDataset``.
"""

from hacd_graph.data.real.audiocaps import load_audiocaps
from hacd_graph.data.real.audioset import load_audioset
from hacd_graph.data.real.clips import RealClip, write_manifest
from hacd_graph.data.real.clotho import load_clotho
from hacd_graph.data.real.esc50 import load_esc50
from hacd_graph.data.real.fsd50k import load_fsd50k

__all__ = [
    "RealClip",
    "load_audiocaps",
    "load_audioset",
    "load_clotho",
    "load_esc50",
    "load_fsd50k",
    "write_manifest",
]
