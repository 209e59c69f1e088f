"""All text targets of a clip from its scene record: captions, QA pairs, description."""

from __future__ import annotations

from typing import Any

import numpy as np

from hacd_graph.data.synth.record import SceneRecord
from hacd_graph.data.text.captions import captions
from hacd_graph.data.text.description import describe
from hacd_graph.data.text.qa import qa_pairs
from hacd_graph.data.text.register import CaptionRegister

_TEXT_STREAM = 7  # the text generator's own stream, so text never shifts the audio's randomness


def text_targets(
    record: SceneRecord,
    num_captions: int = 5,
    num_qa: int = 8,
    register: CaptionRegister | None = None,
) -> dict[str, Any]:
    """Deterministic text targets of a clip (seeded by the record's seed and index).

    Returns:
        ``{"caption": str, "captions": [str], "description": str, "qa": [{question, answer,
        level, type}]}``; ``caption`` is the first of ``captions``.
    """
    rng = np.random.default_rng(np.random.SeedSequence([record.seed, record.index, _TEXT_STREAM]))
    caps = captions(record, rng, num_captions, register)
    description = describe(record)
    if record.bank_events:  # real recordings: named as the bank's caption names them
        heard = list(dict.fromkeys(_bank_phrase(e.caption) for e in record.bank_events))
        sounds = heard[0] if len(heard) == 1 else ", ".join(heard[:-1]) + " and " + heard[-1]
        caps = [c.rstrip(".") + f", and {sounds} can be heard." for c in caps]
        description += f" Recorded elements: {sounds}."
    return {
        "caption": caps[0],
        "captions": caps,
        "description": description,
        "qa": qa_pairs(record, rng, num_qa),
    }


def _bank_phrase(caption: str) -> str:
    """``"The sound of a dog barking."`` -> ``"a dog barking"`` (the bank's template)."""
    text = caption.strip().rstrip(".")
    prefix = "the sound of "
    return text[len(prefix):] if text.lower().startswith(prefix) else text.lower()
