"""``TextCorpus``: the text the default LLM's tokenizer and pre-training read.

Three sources, in this order: the real AudioCaps and Clotho captions (CSV files in their
published formats under a user-given folder), the generated captions / QA / descriptions,
and the concept names of the hierarchy. Texts are stripped and deduplicated (first
occurrence wins), so the corpus and its digest — the cache key of the tokenizer and the
pre-trained weights — do not depend on how often a caption repeats.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from hacd_graph.atomic_io import write_text_atomic

# (relative path, caption columns) of the caption files read from a metadata folder.
CAPTION_FILES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("audiocaps/train.csv", ("caption",)),
    ("audiocaps/val.csv", ("caption",)),
    ("audiocaps/test.csv", ("caption",)),
    ("clotho/clotho_captions_development.csv", tuple(f"caption_{i}" for i in range(1, 6))),
    ("clotho/clotho_captions_evaluation.csv", tuple(f"caption_{i}" for i in range(1, 6))),
)


def read_caption_csvs(meta_dir: str | Path) -> list[str]:
    """Read every AudioCaps and Clotho caption found under ``meta_dir``.

    Expects ``meta_dir/audiocaps/{train,val,test}.csv`` (column ``caption``) and
    ``meta_dir/clotho/clotho_captions_{development,evaluation}.csv`` (``caption_1..5``);
    missing files are skipped, but at least one must exist.

    Raises:
        FileNotFoundError: none of the caption files is there.
        ValueError: a file lacks its caption column.
    """
    meta_dir = Path(meta_dir)
    captions: list[str] = []
    found = 0
    for rel, columns in CAPTION_FILES:
        path = meta_dir / rel
        if not path.is_file():
            continue
        found += 1
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in columns if c not in (reader.fieldnames or [])]
            if missing:
                raise ValueError(f"{path} has no column(s) {missing}; found {reader.fieldnames}")
            for row in reader:
                captions.extend(row[c] for c in columns if row[c] and row[c].strip())
    if not found:
        expected = ", ".join(rel for rel, _ in CAPTION_FILES)
        raise FileNotFoundError(f"no caption CSV under {meta_dir} (looked for {expected})")
    return captions


@dataclass
class TextCorpus:
    """Deduplicated texts with where they came from.

    Attributes:
        texts: the texts, stripped, in first-seen order.
        counts: number of (new) texts contributed by each source name.
    """

    texts: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, source: str, texts: Iterable[str]) -> None:
        """Append ``texts`` under ``source``, skipping empty strings and duplicates."""
        seen = set(self.texts)
        added = 0
        for text in texts:
            text = " ".join(str(text).split())
            if text and text not in seen:
                seen.add(text)
                self.texts.append(text)
                added += 1
        self.counts[source] = self.counts.get(source, 0) + added

    def digest(self) -> str:
        """SHA-256 of the texts (order included), the cache key of what is built on them."""
        h = hashlib.sha256()
        for text in self.texts:
            h.update(text.encode("utf-8"))
            h.update(b"\n")
        return h.hexdigest()

    def __len__(self) -> int:
        return len(self.texts)


def build_corpus(
    meta_dir: str | Path | None = None,
    generated_texts: Iterable[str] = (),
    concept_names: Iterable[str] = (),
    limit: int | None = None,
) -> TextCorpus:
    """Gather the default LLM's text.

    Args:
        meta_dir: folder with the AudioCaps/Clotho caption CSVs (None: no real captions).
        generated_texts: captions, QA and descriptions from ``hacd_graph.data``.
        concept_names: the hierarchy's concept names.
        limit: keep at most this many real captions (tiny builds in tests).

    Raises:
        ValueError: the corpus comes out empty.
    """
    corpus = TextCorpus()
    if meta_dir is not None:
        captions = read_caption_csvs(meta_dir)
        corpus.add("captions", captions if limit is None else captions[:limit])
    corpus.add("generated", generated_texts)
    corpus.add("concepts", concept_names)
    if not corpus.texts:
        raise ValueError("the text corpus is empty: give meta_dir, generated texts or "
                         "concept names")
    return corpus


GENERATED_SEED = 90_001  # a seed of its own: no pipeline clip's text is seen in pre-training


def _generator_code_digest() -> str:
    """Digest of the generator's and text targets' source, so edits there refresh caches."""
    import hacd_graph.data.synth as synth
    import hacd_graph.data.text as text

    h = hashlib.sha256()
    for package in (synth, text):
        for path in sorted(Path(package.__file__).parent.glob("*.py")):
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def generated_texts(num_clips: int, cache_dir: str | Path, seed: int = GENERATED_SEED,
                    progress: bool = True) -> list[str]:
    """Captions, descriptions and QA of ``num_clips`` synthetic scenes (``hacd_graph.data``).

    Scenes are rendered to get their records (the text comes from the record), which costs
    a fraction of a second each, so the texts are cached as JSON under ``cache_dir``, keyed
    by ``num_clips``, ``seed`` and the generator's source code. A QA pair becomes
    ``"question answer"``.
    """
    from tqdm.auto import tqdm

    path = Path(cache_dir) / f"generated-{num_clips}-{seed}-{_generator_code_digest()}.json"
    if path.is_file():
        return json.loads(path.read_text())
    from hacd_graph.data.synth.scene import generate
    from hacd_graph.data.text.targets import text_targets

    texts: list[str] = []
    for index in tqdm(range(num_clips), desc="generated texts", disable=not progress):
        _, record = generate(seed, index)
        targets = text_targets(record)
        texts.extend(targets["captions"])
        texts.append(targets["description"])
        texts.extend(f"{qa['question']} {qa['answer']}" for qa in targets["qa"])
    write_text_atomic(path, json.dumps(texts))
    return texts


def core_concept_names() -> list[str]:
    """Names of the concepts of the embedded core hierarchy (``hacd_graph.ach``)."""
    from hacd_graph.ach import build_ach

    return list(build_ach().names)


def default_corpus(meta_dir: str | Path | None, cache_dir: str | Path,
                   generated_clips: int = 500, concepts: bool = True,
                   caption_limit: int | None = None, progress: bool = True) -> TextCorpus:
    """The default LLM's corpus: real captions, ``generated_clips`` scenes' texts, and the
    core hierarchy's concept names (each part optional)."""
    generated = (generated_texts(generated_clips, cache_dir, progress=progress)
                 if generated_clips else [])
    names = core_concept_names() if concepts else []
    return build_corpus(meta_dir, generated, names, limit=caption_limit)
