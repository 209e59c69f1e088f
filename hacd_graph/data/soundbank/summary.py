"""The bank's size table: clips per AudioSet top category (the ontology's roots, reached
through each clip's MIDs) and the ACH concepts the labels cover."""

from __future__ import annotations

from collections import Counter
from typing import Any


def audioset_roots() -> dict[str, set[str]]:
    """For every AudioSet MID, the names of the ontology roots above it (or itself)."""
    from hacd_graph.ach.audioset import load_audioset

    concepts = {c.id: c for c in load_audioset()}
    memo: dict[str, set[str]] = {}

    def roots(mid: str) -> set[str]:
        if mid not in memo:
            parents = [p for p in concepts[mid].parents if p in concepts]
            memo[mid] = ({concepts[mid].name} if not parents
                         else set().union(*(roots(p) for p in parents)))
        return memo[mid]

    return {mid: roots(mid) for mid in concepts}


def bank_table(entries: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """A Markdown table of clips (and hours) per AudioSet top category and per package,
    and the counts behind it.

    A clip with MIDs under two roots counts once in each; the total counts it once.
    """
    roots = audioset_roots()
    per_root: Counter = Counter()
    seconds: Counter = Counter()
    per_pkg: Counter = Counter()
    mids: set[str] = set()
    concepts: set[str] = set()
    for e in entries:
        rs = set().union(*(roots.get(m, {"(not in AudioSet)"}) for m in e["audioset"]))
        for r in rs:
            per_root[r] += 1
            seconds[r] += e["duration"]
        per_pkg[e["source_package"]] += 1
        mids.update(e["audioset"])
        concepts.update(e["labels"])
    total_s = sum(e["duration"] for e in entries)
    rows = ["| AudioSet top category | clips | minutes |", "|---|---:|---:|"]
    rows += [f"| {r} | {n} | {seconds[r] / 60:.1f} |" for r, n in per_root.most_common()]
    rows += [f"| **all** | **{len(entries)}** | **{total_s / 60:.1f}** |", "",
             "| package | clips |", "|---|---:|"]
    rows += [f"| {p} | {n} |" for p, n in per_pkg.most_common()]
    rows += ["", f"{len(mids)} AudioSet classes, {len(concepts)} ACH concepts covered "
             "(labels closed under ancestors)."]
    stats = {"clips": len(entries), "minutes": round(total_s / 60, 1),
             "per_root": dict(per_root), "per_package": dict(per_pkg),
             "audioset_classes": len(mids), "ach_concepts": len(concepts)}
    return "\n".join(rows), stats
