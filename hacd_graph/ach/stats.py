"""Summary statistics of a hierarchy, as a dict and as a readable table."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hacd_graph.ach.hierarchy import ConceptHierarchy


def hierarchy_stats(hierarchy: ConceptHierarchy) -> dict[str, Any]:
    """Counts that describe the shape of the hierarchy.

    Returns:
        A JSON-ready dict: ``name``, ``concepts``, ``edges``, ``depth``,
        ``per_level`` (level -> count), ``per_facet`` (facet -> count),
        ``level_by_facet`` (facet -> per-level counts), ``multi_parent`` (concepts with
        several parents), ``max_parents``, ``leaves``, ``ancestor_table_width`` (K),
        ``sources`` (how many concepts come from core, AudioSet or both),
        ``restrictions`` (AudioSet abstract / blacklist counts) and ``redirects``.
    """
    levels = hierarchy.levels
    facets = hierarchy.facets
    parents = [len(hierarchy.parents(i)) for i in range(len(hierarchy))]
    by_facet: dict[str, list[int]] = {}
    for level, facet in zip(levels, facets, strict=True):
        row = by_facet.setdefault(facet or "(none)", [0] * hierarchy.depth)
        row[level] += 1
    sources = Counter("+".join(c.sources) or "(unspecified)" for c in hierarchy.concepts)
    restrictions = Counter(r for c in hierarchy.concepts for r in c.restrictions)
    return {
        "name": hierarchy.name,
        "concepts": len(hierarchy),
        "edges": hierarchy.num_edges,
        "depth": hierarchy.depth,
        "per_level": {str(level): count for level, count in sorted(Counter(levels).items())},
        "per_facet": dict(sorted(Counter(f or "(none)" for f in facets).items())),
        "level_by_facet": dict(sorted(by_facet.items())),
        "multi_parent": sum(p > 1 for p in parents),
        "max_parents": max(parents),
        "leaves": len(hierarchy.leaves()),
        "ancestor_table_width": hierarchy.max_ancestors + 1,
        "sources": dict(sorted(sources.items())),
        "restrictions": dict(sorted(restrictions.items())),
        "redirects": len(hierarchy.redirects),
    }


def format_stats(stats: dict[str, Any]) -> str:
    """Render :func:`hierarchy_stats` as a text report with a level x facet table."""
    depth = stats["depth"]
    lines = [
        f"ACH {stats['name'] or '(unnamed)'}: {stats['concepts']} concepts, "
        f"{stats['edges']} edges, {depth} levels (0-{depth - 1})",
        f"multi-parent concepts: {stats['multi_parent']} (max {stats['max_parents']} parents); "
        f"leaves: {stats['leaves']}; ancestor table width K = {stats['ancestor_table_width']}",
        "sources: " + ", ".join(f"{k} {v}" for k, v in stats["sources"].items()),
    ]
    if stats["restrictions"]:
        lines.append(
            "AudioSet restrictions: "
            + ", ".join(f"{k} {v}" for k, v in stats["restrictions"].items())
        )
    if stats["redirects"]:
        lines.append(f"redirected ids (merged away by the variant): {stats['redirects']}")
    width = max(len(f) for f in stats["level_by_facet"]) + 2
    header = "facet".ljust(width) + "".join(f"L{level}".rjust(6) for level in range(depth))
    lines += ["", header + "total".rjust(8), "-" * (len(header) + 8)]
    for facet, row in stats["level_by_facet"].items():
        cells = "".join((str(n) if n else ".").rjust(6) for n in row)
        lines.append(facet.ljust(width) + cells + str(sum(row)).rjust(8))
    totals = "".join(str(stats["per_level"].get(str(level), 0)).rjust(6) for level in range(depth))
    lines.append("all".ljust(width) + totals + str(stats["concepts"]).rjust(8))
    return "\n".join(lines)
