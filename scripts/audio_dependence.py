"""Does the fine-tuned LLM's text depend on the audio? Measured on a run's held-out clips.

Prints, for the run's student (``TrainedRun``):

- how many distinct descriptions, captions and answers (to one fixed question) the LLM
  generates over the held-out clips (1 = the same text for every clip);
- the median norm of the bridge's soft tokens, as the LLM receives them, beside the median norm of the LLM's own
  token embeddings, and how much of a soft token changes from clip to clip (the median
  norm of its standard deviation over clips, as a fraction of its norm);
- how alike the bridge's queries read the audio (the mean cosine similarity of the queries'
  attention over the frames, last layer; 1 = every query reads the same frames).

    python scripts/audio_dependence.py RUN [--clips 64]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hacd_graph.eval.stage import load_held_out  # noqa: E402
from hacd_graph.eval.trained_run import TrainedRun  # noqa: E402
from hacd_graph.provenance import git_revision  # noqa: E402


@torch.no_grad()
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a finished run directory")
    parser.add_argument("--clips", type=int, default=64, help="held-out clips to use")
    args = parser.parse_args()
    run = TrainedRun.load(args.run)
    data = load_held_out(run, Path(run.config["data"].get("root") or args.run / "data")
                         / "eval")
    n = min(args.clips, len(data))
    frames, probs = data.frames[:n].float(), data.teacher_probs[:n].float()
    print(f"run {args.run} ({run.stage} student), git {git_revision(ROOT)}, {n} held-out clips")

    question = "Is there music?"
    texts = {
        "description": run.generate([run.prompts["description"]] * n, frames, probs, 64),
        "caption": run.generate([run.prompts["caption"]] * n, frames, probs, 24),
        f"answer to {question!r}": run.generate(
            [run.prompts["aqa"].format(question=question)] * n, frames, probs, 4),
    }
    for task, out in texts.items():
        print(f"distinct {task}s: {len(set(out))} of {n}")

    lm = run.model.audio_lm
    # the soft tokens as the LLM receives them (after bridge.match_text_norm, when set)
    ids = run.processor([run.prompts["description"]] * n)["input_ids"]
    merged, _ = lm.embed(ids, frames, run.model.concept_embeddings, probs)
    tokens = merged[ids == lm.audio_token_id].view(n, lm.num_queries, -1)  # [B, Q, H]
    embedding = lm.llm.get_input_embeddings().weight
    soft = float(tokens.norm(dim=-1).median())
    print(f"soft-token norm (median): {soft:.3f}; LLM token-embedding norm (median): "
          f"{float(embedding.norm(dim=-1).median()):.3f}")
    change = float(tokens.std(dim=0).norm(dim=-1).median())
    print(f"clip-to-clip change of a soft token: {change:.3f} ({change / soft:.1%} of its norm)")
    out = lm.bridge(frames, run.model.concept_embeddings, probs, output_attentions=True)
    attention = out.audio_attentions[-1].mean(1)  # [B, Q, T]
    unit = torch.nn.functional.normalize(attention, dim=-1)
    similarity = unit @ unit.transpose(1, 2)  # [B, Q, Q]
    q = similarity.shape[-1]
    off_diagonal = (similarity.sum((1, 2)) - q) / (q * (q - 1))
    print(f"queries' attention over {attention.shape[-1]} frames: mean cosine similarity "
          f"between queries {float(off_diagonal.mean()):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
