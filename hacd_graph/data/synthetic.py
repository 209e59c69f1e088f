"""A synthetic example: clip ``index`` of ``seed`` with its labels and text targets.

This is what the streaming dataset yields and what ``hacd-graph data synth`` writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from hacd_graph.data.synth.labels import scene_labels
from hacd_graph.data.synth.record import SceneRecord
from hacd_graph.data.synth.scene import SceneConfig, generate
from hacd_graph.data.text.register import CaptionRegister
from hacd_graph.data.text.targets import text_targets

if TYPE_CHECKING:
    from hacd_graph.ach import ConceptHierarchy


@dataclass
class SyntheticExample:
    """One generated clip.

    Args:
        audio: ``[S]`` float32 mono waveform.
        record: its scene record.
        labels: ACH concept ids, closed under ancestors.
        texts: ``caption``, ``captions``, ``description``, ``qa`` (see ``text_targets``).
    """

    audio: np.ndarray
    record: SceneRecord
    labels: list[str]
    texts: dict[str, Any]

    @property
    def key(self) -> str:
        """A unique name: ``s<seed>-<index>`` (zero-padded index)."""
        return f"s{self.record.seed}-{self.record.index:08d}"

    def manifest_entry(self, audio_path: str) -> dict[str, Any]:
        """This clip's JSON object in ``manifest.jsonl`` (DESIGN.md "Synthetic data on disk")."""
        return {
            "id": self.key,
            "audio": audio_path,
            "seed": self.record.seed,
            "index": self.record.index,
            "sample_rate": self.record.sample_rate,
            "duration": self.record.duration_s,
            "labels": self.labels,
            **self.texts,
            "record": self.record.to_dict(),
        }


def make_example(
    seed: int,
    index: int,
    ach: ConceptHierarchy,
    config: SceneConfig | None = None,
    register: CaptionRegister | None = None,
) -> SyntheticExample:
    """Generate clip ``index`` of ``seed`` with labels (over ``ach``) and text targets."""
    audio, record = generate(seed, index, config)
    return SyntheticExample(
        audio, record, scene_labels(record, ach), text_targets(record, register=register)
    )
