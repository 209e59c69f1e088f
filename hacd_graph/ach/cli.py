"""``hacd-graph ach ...``: inspect, build and render the hierarchy.

Commands: ``stats`` (counts per level and facet), ``show CONCEPT`` (ancestor paths and
children), ``build --out ach.json`` (validate and save), ``render`` (PNG and HTML).
Every command picks its hierarchy with the same options (``--sources``,
``--audioset-ontology``, ``--hierarchy-file``, ``--ach``, ``--variant``...). A file given
without ``--sources`` selects its source (``--hierarchy-file F`` reads F); one that the
chosen sources would not read is refused rather than ignored. Errors are one line
(``hacd_graph.errors.run_main``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hacd_graph.ach.build import VARIANTS, apply_variant, build_ach
from hacd_graph.ach.hierarchy import ConceptHierarchy
from hacd_graph.errors import UserError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``ach`` command group to the ``hacd-graph`` parser."""
    group = subparsers.add_parser(
        "ach", help="inspect, build and render the Audio Concept Hierarchy"
    )
    commands = group.add_subparsers(dest="command", required=True, metavar="COMMAND")

    stats = commands.add_parser("stats", help="concepts per level and facet, multi-parents, depth")
    _add_source_arguments(stats)
    stats.add_argument("--json", action="store_true", help="print JSON instead of a table")
    stats.set_defaults(func=_stats)

    show = commands.add_parser("show", help="a concept's ancestor paths and children")
    show.add_argument("concept", help="concept id, name or alias (e.g. hacd:walking_bass, Jazz)")
    _add_source_arguments(show)
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=_show)

    build = commands.add_parser("build", help="validate the hierarchy and save it as JSON")
    _add_source_arguments(build)
    build.add_argument("--out", required=True, type=Path, help="output JSON path")
    build.set_defaults(func=_build)

    render = commands.add_parser("render", help="draw the hierarchy (PNG) and write an HTML tree")
    _add_source_arguments(render)
    render.add_argument("--out", type=Path, help="PNG path")
    render.add_argument("--html", type=Path, help="self-contained collapsible HTML tree path")
    render.add_argument("--root", help="draw only this concept's subtree")
    render.add_argument("--levels", type=int, help="draw at most this many levels below the root")
    render.set_defaults(func=_render)


def _add_source_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sources",
        default=None,
        help="comma-separated: core (default), core,audioset, or file (the default when "
        "--hierarchy-file is given)",
    )
    parser.add_argument("--audioset-ontology", type=Path, help="AudioSet ontology.json")
    parser.add_argument(
        "--download", action="store_true", help="download the pinned AudioSet ontology if needed"
    )
    parser.add_argument("--hierarchy-file", type=Path, help="parent,child CSV / JSON / GraphML")
    parser.add_argument("--ach", type=Path, help="a saved hierarchy JSON (instead of --sources)")
    parser.add_argument("--variant", default="full", choices=VARIANTS)
    parser.add_argument("--max-depth", type=int, help="levels kept by --variant truncated")
    parser.add_argument("--seed", type=int, default=0, help="seed of --variant shuffled")


def selected_sources(args: argparse.Namespace) -> str:
    """The sources the options select; a file option the sources would ignore is refused.

    ``--hierarchy-file`` alone means ``--sources file``; ``--audioset-ontology`` (or
    ``--download``) alone means ``--sources core,audioset``.

    Raises:
        UserError: ``--ach`` with other sources, or a file given for a source not chosen.
    """
    sources = args.sources
    if args.ach is not None:
        given = [flag for flag, value in (("--sources", sources),
                                          ("--hierarchy-file", args.hierarchy_file),
                                          ("--audioset-ontology", args.audioset_ontology))
                 if value is not None]
        if given:
            raise UserError(f"--ach {args.ach} is a whole saved hierarchy; drop {given[0]}")
        return "ach"
    if sources is None:
        if args.hierarchy_file is not None:
            sources = "file"
        elif args.audioset_ontology is not None or args.download:
            sources = "core,audioset"
        else:
            sources = "core"
    chosen = {s.strip() for s in sources.split(",")}
    if args.hierarchy_file is not None and "file" not in chosen:
        raise UserError(f"--hierarchy-file {args.hierarchy_file} is read only with "
                        f"--sources file, not --sources {sources}")
    if args.audioset_ontology is not None and "audioset" not in chosen:
        raise UserError(f"--audioset-ontology {args.audioset_ontology} is read only with "
                        f"--sources core,audioset, not --sources {sources}")
    return sources


def hierarchy_from_args(args: argparse.Namespace) -> ConceptHierarchy:
    """The hierarchy the source options of a command select (see :func:`selected_sources`)."""
    sources = selected_sources(args)
    if sources == "ach":
        hierarchy = ConceptHierarchy.load(args.ach)
        return apply_variant(hierarchy, args.variant, args.max_depth, args.seed)
    options = {"variant": args.variant, "max_depth": args.max_depth, "seed": args.seed}
    if args.hierarchy_file is not None:
        options["hierarchy_file"] = args.hierarchy_file
    if args.download:
        options["download"] = True
    return build_ach(sources, audioset_ontology=args.audioset_ontology, **options)


def _stats(args: argparse.Namespace) -> int:
    from hacd_graph.ach.stats import format_stats, hierarchy_stats

    stats = hierarchy_stats(hierarchy_from_args(args))
    print(json.dumps(stats, indent=1) if args.json else format_stats(stats))
    return 0


def _show(args: argparse.Namespace) -> int:
    hierarchy = hierarchy_from_args(args)
    try:
        targets = hierarchy.resolve(args.concept)
    except KeyError as error:  # an unknown concept: the message names it
        raise UserError(error.args[0] if error.args else str(error)) from error
    records = [describe_concept(hierarchy, index) for index in targets]
    if args.json:
        print(json.dumps(records if len(records) > 1 else records[0], indent=1, ensure_ascii=False))
        return 0
    if (
        len(targets) > 1
        or hierarchy.ids[targets[0]] != args.concept
        and args.concept in hierarchy.redirects
    ):
        print(f"{args.concept} was merged into: {', '.join(hierarchy.ids[t] for t in targets)}\n")
    for record in records:
        print(format_concept(record))
    return 0


def describe_concept(hierarchy: ConceptHierarchy, index: int) -> dict:
    """A JSON-ready record of one concept: fields, level, ancestor paths and children."""
    concept = hierarchy.concept(index)
    ids, names = hierarchy.ids, hierarchy.names
    return {
        **concept.to_dict(),
        "index": index,
        "level": hierarchy.levels[index],
        "paths": [
            [{"id": ids[i], "name": names[i]} for i in path]
            for path in hierarchy.paths_to_root(index)
        ],
        "children": [{"id": ids[i], "name": names[i]} for i in hierarchy.children(index)],
    }


def format_concept(record: dict) -> str:
    """Readable text for :func:`describe_concept`."""
    facet = record.get("facet", "-")
    lines = [f"{record['name']}  [{record['id']}]  level {record['level']}, facet {facet}"]
    if record.get("description"):
        lines.append(f"  {record['description']}")
    for key in ("aliases", "audioset", "restrictions", "alt_ids"):
        if record.get(key):
            lines.append(f"  {key}: {', '.join(record[key])}")
    lines.append(f"ancestor paths ({len(record['paths'])}):")
    for path in record["paths"]:
        lines.append("  " + " > ".join(step["name"] for step in path))
    lines.append(f"children ({len(record['children'])}):")
    lines += [f"  {child['name']}  [{child['id']}]" for child in record["children"]] or ["  (none)"]
    return "\n".join(lines)


def _build(args: argparse.Namespace) -> int:
    hierarchy = hierarchy_from_args(args)  # validated before anything is written
    hierarchy.save(args.out)
    print(f"wrote {args.out}: {hierarchy!r}")
    return 0


def _render(args: argparse.Namespace) -> int:
    if args.out is None and args.html is None:
        raise UserError("give --out PNG and/or --html HTML")
    from hacd_graph.ach.render import render_html, render_png

    hierarchy = hierarchy_from_args(args)
    if args.out is not None:
        render_png(hierarchy, args.out, root=args.root, levels=args.levels)
        print(f"wrote {args.out}")
    if args.html is not None:
        render_html(hierarchy, args.html, root=args.root)
        print(f"wrote {args.html}")
    return 0
