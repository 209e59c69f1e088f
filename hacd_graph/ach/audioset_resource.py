"""Generate the AudioSet structure the package ships, from Google's ``ontology.json``.

The default pipeline's hierarchy is core + AudioSet, and it must build on a fresh clone
with no download. So the package ships the ontology's *structural* facts — each concept's
MID, name, ``child_ids`` and ``restrictions`` — in
``hacd_graph/ach/resources/audioset/ontology_structure.json``; descriptions, citation URIs
and positive examples are left out. :func:`hacd_graph.ach.audioset.load_audioset` reads
this file as it reads the full ``ontology.json`` (the concepts simply have no description).

Attribution: the AudioSet ontology is by Google (https://research.google.com/audioset/ontology,
https://github.com/audioset/ontology), licensed under CC BY-SA 4.0
(https://creativecommons.org/licenses/by-sa/4.0/). The shipped file is an adaptation
(modified: descriptions, citation URIs and positive examples removed) and is itself under
CC BY-SA 4.0; ``resources/audioset/NOTICE`` says so next to it.

Regenerate it (the file records the SHA-256 of the ``ontology.json`` it came from and the
pinned upstream commit)::

    python -m hacd_graph.ach.audioset_resource --ontology ../shared/data/audioset/ontology.json
    python -m hacd_graph.ach.audioset_resource --ontology ontology.json --check   # verify only

The output is deterministic (file order, one concept per line), so the same
``ontology.json`` always gives the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from hacd_graph.ach.audioset import (
    ONTOLOGY_SHA256,
    ONTOLOGY_URL,
    SHIPPED_ONTOLOGY,
    STRUCTURE_FORMAT,
    STRUCTURE_LICENCE,
)

#: The fields of ``ontology.json`` the package ships; the others are left out.
STRUCTURAL_FIELDS = ("id", "name", "child_ids", "restrictions")


def structural_records(records: Sequence[dict]) -> list[dict]:
    """Each ontology record reduced to :data:`STRUCTURAL_FIELDS` (file order kept).

    Raises:
        ValueError: a record is not an object or lacks ``id``, ``name`` or ``child_ids``
            (a missing ``restrictions`` becomes ``[]``).
    """
    out = []
    for position, record in enumerate(records):
        if not isinstance(record, dict):
            raise ValueError(f"ontology entry {position} is not an object")
        missing = [k for k in ("id", "name", "child_ids") if k not in record]
        if missing:
            raise ValueError(f"ontology entry {record.get('id', position)}: missing {missing}")
        out.append(
            {
                "id": record["id"],
                "name": record["name"],
                "child_ids": list(record["child_ids"]),
                "restrictions": list(record.get("restrictions", [])),
            }
        )
    return out


def render_structure(ontology: str | Path) -> str:
    """The text of the shipped structure file generated from ``ontology`` (``ontology.json``).

    The header names the source (its SHA-256, and the pinned upstream URL when the file
    is that version), the licence and the modification; ``concepts`` holds one
    :func:`structural_records` entry per line.
    """
    payload = Path(ontology).read_bytes()
    records = json.loads(payload)
    if not isinstance(records, list):
        raise ValueError(f"{ontology}: expected the JSON list of Google's ontology.json")
    digest = hashlib.sha256(payload).hexdigest()
    header = {
        "format": STRUCTURE_FORMAT,
        "licence": STRUCTURE_LICENCE,
        "source": {
            "file": "ontology.json",
            "sha256": digest,
            # Only claim the pinned upstream version when the bytes are that version.
            "upstream": ONTOLOGY_URL if digest == ONTOLOGY_SHA256 else None,
        },
        "generated_by": "python -m hacd_graph.ach.audioset_resource --ontology ontology.json",
    }
    lines = ["{"]
    for key, value in header.items():
        lines.append(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)},")
    lines.append('  "concepts": [')
    rows = [json.dumps(r, ensure_ascii=False) for r in structural_records(records)]
    lines.append(",\n".join(f"    {row}" for row in rows))
    lines.append("  ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def ship_audioset(ontology: str | Path, out: str | Path = SHIPPED_ONTOLOGY) -> Path:
    """Write the structure generated from ``ontology`` to ``out`` (the packaged file)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    tmp.write_text(render_structure(ontology), encoding="utf-8")
    tmp.replace(out)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m hacd_graph.ach.audioset_resource --ontology PATH [--out PATH] [--check]``."""
    parser = argparse.ArgumentParser(
        prog="python -m hacd_graph.ach.audioset_resource",
        description="Generate the AudioSet structure (MIDs, names, child_ids, restrictions; "
        "no descriptions) that hacd_graph ships, from Google's ontology.json (CC BY-SA 4.0).",
    )
    parser.add_argument("--ontology", required=True, help="Google's AudioSet ontology.json")
    parser.add_argument("--out", default=str(SHIPPED_ONTOLOGY), help="default: the packaged file")
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if --out differs from what would be written",
    )
    args = parser.parse_args(argv)
    text = render_structure(args.ontology)
    out = Path(args.out)
    if args.check:
        same = out.exists() and out.read_text(encoding="utf-8") == text
        print(f"{out}: {'up to date' if same else 'differs from ' + args.ontology}")
        return 0 if same else 1
    ship_audioset(args.ontology, out)
    count = len(json.loads(text)["concepts"])
    print(f"wrote {out} ({count} concepts, {len(text.encode()):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
