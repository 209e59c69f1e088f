"""Pictures of the hierarchy: a PNG drawing and a self-contained collapsible HTML tree.

Both draw the DAG through its *main-parent tree*: each concept hangs under its first
parent one level up (the parent on its shortest path from the root). Further parents are
drawn as faint extra edges (PNG) or listed as "also under" links (HTML).
"""

from __future__ import annotations

import html
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from hacd_graph.ach.hierarchy import ConceptHierarchy
from hacd_graph.ach.serialize import write_text_atomic

FACET_COLOURS = {
    "root": "#333333",
    "sound_source": "#1f77b4",
    "acoustic_property": "#ff7f0e",
    "musical_attribute": "#2ca02c",
    "acoustic_scene": "#9467bd",
    "human_activity": "#d62728",
}
OTHER_COLOUR = "#7f7f7f"
LAYERED_MAX = 160  # up to this many nodes: left-to-right tree with every label


def main_parents(hierarchy: ConceptHierarchy) -> list[int]:
    """For each concept, its first parent one level up (-1 for the root)."""
    levels = hierarchy.levels
    out = [-1] * len(hierarchy)
    for c in range(1, len(hierarchy)):
        out[c] = next(p for p in hierarchy.parents(c) if levels[p] == levels[c] - 1)
    return out


def tree_children(hierarchy: ConceptHierarchy) -> list[list[int]]:
    """Children in the main-parent tree, ordered by index."""
    children: list[list[int]] = [[] for _ in range(len(hierarchy))]
    for child, parent in enumerate(main_parents(hierarchy)):
        if parent >= 0:
            children[parent].append(child)
    return children


def render_png(
    hierarchy: ConceptHierarchy,
    path: str | Path,
    root: str | None = None,
    levels: int | None = None,
    dpi: int = 130,
) -> Path:
    """Draw the hierarchy (or the subtree under ``root``) to a PNG, atomically.

    Large drawings (more than 160 concepts) are radial: the root in the centre, one ring
    per level, labels for the two innermost rings; small ones are a left-to-right tree
    with every concept labelled. Colours are facets.

    Args:
        hierarchy: What to draw.
        path: Output PNG path.
        root: Id or name of a concept whose subtree to draw.
        levels: Draw at most this many levels below the (sub)tree's root.
        dpi: Resolution.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    if root is not None:
        hierarchy = hierarchy.subtree(root)
    if levels is not None:
        hierarchy = hierarchy.truncated(levels + 1)
    children = tree_children(hierarchy)
    order = _leaf_order(children)
    depth = hierarchy.depth
    layered = len(hierarchy) <= LAYERED_MAX
    slot = np.zeros(len(hierarchy))
    for position, leaf in enumerate(order):
        slot[leaf] = position
    for node in reversed(range(len(hierarchy))):  # children have larger indices
        if children[node]:
            slot[node] = np.mean([slot[c] for c in children[node]])
    level = np.array(hierarchy.levels, dtype=float)
    if layered:
        xy = np.stack([level, -slot], axis=1)
        figure = Figure(figsize=(3.0 + 2.6 * depth, max(4.0, 0.22 * len(order) + 1.5)))
    else:
        angle = 2 * np.pi * slot / max(len(order), 1)
        xy = np.stack([level * np.cos(angle), level * np.sin(angle)], axis=1)
        figure = Figure(figsize=(16, 16))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    colours = [FACET_COLOURS.get(f, OTHER_COLOUR) for f in hierarchy.facets]
    parents = main_parents(hierarchy)
    tree_edges = [(xy[p], xy[c]) for c, p in enumerate(parents) if p >= 0]
    extra_edges = [(xy[p], xy[c]) for p, c in hierarchy.edges() if parents[c] != p]
    axes.add_collection(
        LineCollection(
            extra_edges, colors="#999999", linewidths=0.4, alpha=0.25, linestyles="dashed"
        )
    )
    axes.add_collection(
        LineCollection(
            tree_edges,
            colors=[colours[c] for c, p in enumerate(parents) if p >= 0],
            linewidths=0.6,
            alpha=0.7,
        )
    )
    sizes = 60.0 / (1.0 + level) ** 1.3
    axes.scatter(xy[:, 0], xy[:, 1], s=sizes, c=colours, zorder=3, linewidths=0)
    names = hierarchy.names
    for node in range(len(hierarchy)):
        if layered:
            axes.text(
                xy[node, 0] + 0.04, xy[node, 1], names[node], fontsize=7, va="center", ha="left"
            )
        elif level[node] <= 2:
            rotation = np.degrees(angle[node]) if node else 0.0
            flip = 90 < rotation % 360 < 270
            axes.text(
                xy[node, 0], xy[node, 1], f" {names[node]} ",
                fontsize=9 if level[node] <= 1 else 6,
                rotation=rotation + 180 if flip else rotation,
                ha="right" if flip else "left", va="center", rotation_mode="anchor", zorder=4,
            )  # fmt: skip
    present = [f for f in FACET_COLOURS if f in set(hierarchy.facets)]
    handles = [Line2D([], [], marker="o", ls="", color=FACET_COLOURS[f], label=f) for f in present]
    axes.legend(handles=handles, loc="upper left", fontsize=8, frameon=False)
    multi = sum(len(hierarchy.parents(i)) > 1 for i in range(len(hierarchy)))
    axes.set_title(
        f"{hierarchy.name or 'ACH'}: {len(hierarchy)} concepts, {depth} levels, "
        f"{multi} with several parents (dashed: further parents)"
    )
    axes.set_axis_off()
    axes.autoscale_view()
    if layered:
        axes.set_xlim(-0.2, depth + 0.8)
    else:
        axes.set_aspect("equal")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        figure.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def render_html(hierarchy: ConceptHierarchy, path: str | Path, root: str | None = None) -> Path:
    """Write a self-contained HTML page with a collapsible, searchable tree.

    Every concept appears once, under its main parent, with its id, level, facet colour
    and description (tooltip); further parents are listed as links. The search box shows
    the concepts whose name, id or aliases match, with their ancestors opened.
    """
    if root is not None:
        hierarchy = hierarchy.subtree(root)
    children = tree_children(hierarchy)
    parents = main_parents(hierarchy)
    ids, names, levels = hierarchy.ids, hierarchy.names, hierarchy.levels

    def node(i: int) -> str:
        concept = hierarchy.concept(i)
        search = " ".join([concept.name, concept.id, *concept.aliases, *concept.alt_ids]).lower()
        tip = concept.description or concept.name
        extras = [
            f'<a href="#c{p}">{html.escape(names[p])}</a>'
            for p in hierarchy.parents(i)
            if p != parents[i]
        ]
        also = f' <span class="also">also under {", ".join(extras)}</span>' if extras else ""
        mids = [m for m in concept.audioset if m != concept.id]
        mid_text = f' <span class="mid">AudioSet {", ".join(mids)}</span>' if mids else ""
        colour = FACET_COLOURS.get(concept.facet, OTHER_COLOUR)
        label = (
            f'<span class="dot" style="background:{colour}"></span>'
            f'<span class="name" title="{html.escape(tip)}">{html.escape(concept.name)}</span> '
            f"<code>{html.escape(concept.id)}</code> "
            f'<span class="lvl">L{levels[i]}</span>{mid_text}{also}'
        )
        attrs = f'id="c{i}" data-search="{html.escape(search)}"'
        if not children[i]:
            return f'<div class="leaf node" {attrs}>{label}</div>'
        inner = "".join(node(c) for c in children[i])
        is_open = " open" if levels[i] < 1 else ""
        count = f'<span class="count">({len(children[i])})</span>'
        return (
            f'<details class="node" {attrs}{is_open}>'
            f"<summary>{label} {count}</summary>{inner}</details>"
        )

    legend = "".join(
        f'<span class="key"><span class="dot" style="background:{colour}"></span>{facet}</span>'
        for facet, colour in FACET_COLOURS.items()
        if facet in set(hierarchy.facets)
    )
    title = html.escape(
        f"{hierarchy.name or 'ACH'}: {len(hierarchy)} concepts, {hierarchy.depth} levels"
    )
    page = _PAGE.format(title=title, legend=legend, tree=node(0), total=json.dumps(len(ids)))
    path = Path(path)
    write_text_atomic(path, page)
    return path


def _leaf_order(children: list[list[int]]) -> list[int]:
    order: list[int] = []
    stack = [0]
    while stack:
        node = stack.pop()
        if children[node]:
            stack.extend(reversed(children[node]))
        else:
            order.append(node)
    return order


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 1.5em; color: #222; }}
details.node, div.leaf {{ margin-left: 1.2em; }}
summary {{ cursor: pointer; }}
code {{ color: #777; font-size: 11px; }}
.lvl {{ color: #999; font-size: 11px; }}
.also, .mid, .count {{ color: #888; font-size: 12px; }}
.dot {{ display: inline-block; width: 9px; height: 9px; border-radius: 50%; margin-right: 5px; }}
.key {{ margin-right: 1em; }}
.hit > summary .name, .leaf.hit .name {{ background: #fff2a8; }}
#bar {{ position: sticky; top: 0; background: #fff; padding: .5em 0;
  border-bottom: 1px solid #ddd; }}
</style></head><body>
<h2>{title}</h2>
<div id="bar"><input id="q" size="40" placeholder="search names, ids, aliases">
<button id="open">expand all</button> <button id="close">collapse all</button>
<span id="n"></span><br>{legend}</div>
<div id="tree">{tree}</div>
<script>
const nodes = Array.from(document.querySelectorAll('.node'));
const q = document.getElementById('q'), n = document.getElementById('n');
function setAll(open) {{ document.querySelectorAll('details').forEach(d => d.open = open); }}
document.getElementById('open').onclick = () => setAll(true);
document.getElementById('close').onclick = () => setAll(false);
q.oninput = () => {{
  const term = q.value.trim().toLowerCase();
  nodes.forEach(el => {{ el.style.display = ''; el.classList.remove('hit'); }});
  if (!term) {{ n.textContent = ''; return; }}
  const keep = new Set();
  nodes.forEach(el => {{
    if (el.dataset.search.includes(term)) {{
      el.classList.add('hit');
      for (let p = el; p && p.classList; p = p.parentElement) {{
        if (!p.classList.contains('node')) continue;
        keep.add(p);
        if (p !== el && p.tagName === 'DETAILS') p.open = true;
      }}
    }}
  }});
  nodes.forEach(el => {{ if (!keep.has(el) && !el.closest('.hit')) el.style.display = 'none'; }});
  n.textContent = document.querySelectorAll('.hit').length + ' of ' + {total} + ' concepts match';
}};
</script></body></html>
"""
