"""The frozen teacher's outputs for every clip, computed once and kept on disk.

Distillation reads, per clip, the teacher's frame features (the bridge's audio input), its
logits (the distillation target: conditional for a graph teacher, marginal for a flat one)
and its marginal probabilities (the bridge's concept weights). The teacher does not train,
so these are computed in one pass (tqdm) and saved; every epoch and every later run of the
same stage folder reads the file instead of running the teacher again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from hacd_graph.atomic_io import save_torch_atomic


@dataclass
class TeacherOutputs:
    """The teacher's outputs for C clips.

    Args:
        frames: ``[C, T, Da]`` float16 frame features.
        logits: ``[C, N]`` float32 logits.
        probs: ``[C, N]`` float32 marginal probabilities.
    """

    frames: torch.Tensor
    logits: torch.Tensor
    probs: torch.Tensor

    def __len__(self) -> int:
        return self.frames.shape[0]

    @property
    def audio_dim(self) -> int:
        """Da, the size of one frame feature."""
        return self.frames.shape[-1]


@torch.no_grad()
def run_teacher(teacher: nn.Module, features: torch.Tensor, batch_size: int = 64,
                desc: str = "teacher outputs", progress: bool = True) -> TeacherOutputs:
    """Run ``teacher`` (eval mode) over cached log-mel ``features`` ``[C, T, M]``."""
    teacher.eval()
    frames, logits, probs = [], [], []
    for start in tqdm(range(0, len(features), batch_size), desc=desc, leave=False,
                      disable=not progress):
        out = teacher(features=features[start:start + batch_size].float())
        frames.append(out.frames.to(torch.float16))
        logits.append(out.logits.float())
        probs.append(out.probs.float())
    return TeacherOutputs(torch.cat(frames), torch.cat(logits), torch.cat(probs))


def cached_teacher_outputs(path: Path, teacher: nn.Module, features: torch.Tensor,
                           batch_size: int = 64, progress: bool = True) -> TeacherOutputs:
    """The outputs saved at ``path``, or computed by :func:`run_teacher` and saved there.

    The file belongs to one stage folder, whose fingerprint already covers the teacher and
    the clips, so no key is stored with it; a file for another number of clips is refused.
    """
    path = Path(path)
    if path.is_file():
        saved = torch.load(path, map_location="cpu")
        outputs = TeacherOutputs(saved["frames"], saved["logits"], saved["probs"])
        if len(outputs) != len(features):
            raise ValueError(f"{path} holds teacher outputs for {len(outputs)} clips, the data "
                             f"has {len(features)}; delete it to recompute")
        return outputs
    outputs = run_teacher(teacher, features, batch_size, f"teacher outputs {path.stem}",
                          progress)
    save_torch_atomic({"frames": outputs.frames, "logits": outputs.logits,
                       "probs": outputs.probs}, path)
    return outputs
