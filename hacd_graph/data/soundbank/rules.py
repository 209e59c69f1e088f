"""The bank's labelling rules: ``rules.csv`` (source, pattern, MIDs, licence, note) and
``gm_programs.csv`` (General MIDI program / drum note -> MIDs), read into a ``RuleTable``.

A file is matched against the rules of its source in order; the first rule whose glob
matches the file's lower-cased path inside the package decides. A rule with MIDs ``-``
leaves the file out as uncertain; ``@gm`` looks the General MIDI program or drum note up
in ``gm_programs.csv`` (the rendered path says which: ``gm/program-PPP/...``,
``gm/drum-NN/...``; a freepats patch's file name starts with the number).
"""

from __future__ import annotations

import csv
import fnmatch
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

RULES_FILE = "rules.csv"
GM_FILE = "gm_programs.csv"


@dataclass(frozen=True)
class Rule:
    """One line of ``rules.csv``.

    Args:
        source: Debian package name.
        pattern: fnmatch glob on the lower-cased path inside the package.
        mids: AudioSet MIDs; empty = leave out (uncertain); ``("@gm",)`` = by GM number.
        licence: the matched files' licence.
        note: what the files are (or why they are left out).
        line: line number in the table (for reports).
    """

    source: str
    pattern: str
    mids: tuple[str, ...]
    licence: str
    note: str
    line: int

    @property
    def excluded(self) -> bool:
        """True for a rule that leaves its files out."""
        return not self.mids


def _rows(text: str) -> list[tuple[int, dict[str, str]]]:
    lines = [(k, ln) for k, ln in enumerate(text.splitlines(), 1) if ln and not ln.startswith("#")]
    reader = csv.DictReader([ln for _, ln in lines])
    return [(lines[i + 1][0], row) for i, row in enumerate(reader)]


def _read(name: str, path: str | Path | None) -> str:
    if path is not None:
        return Path(path).read_text(encoding="utf-8")
    return resources.files("hacd_graph.data.soundbank").joinpath(name).read_text("utf-8")


class RuleTable:
    """The labelling rules, by source.

    Args:
        rules_path: a rules CSV (default: the packaged ``rules.csv``).
        gm_path: a GM table CSV (default: the packaged ``gm_programs.csv``).
    """

    def __init__(self, rules_path: str | Path | None = None,
                 gm_path: str | Path | None = None) -> None:
        self.rules: list[Rule] = []
        for line, row in _rows(_read(RULES_FILE, rules_path)):
            mids = tuple(m for m in row["mids"].split() if m != "-")
            self.rules.append(Rule(row["source"], row["pattern"].lower(), mids,
                                   row["licence"], row["note"], line))
        self.gm: dict[tuple[str, int], tuple[str, tuple[str, ...]]] = {}
        for _, row in _rows(_read(GM_FILE, gm_path)):
            mids = tuple(m for m in row["mids"].split() if m != "-")
            self.gm[(row["kind"], int(row["number"]))] = (row["name"], mids)

    @property
    def sources(self) -> list[str]:
        """Packages named by the rules, in table order."""
        return list(dict.fromkeys(r.source for r in self.rules))

    def match(self, source: str, path: str) -> Rule | None:
        """The first rule of ``source`` whose pattern matches ``path`` (or ``None``)."""
        p = path.lower()
        for r in self.rules:
            if r.source == source and fnmatch.fnmatchcase(p, r.pattern):
                return r
        return None

    def gm_entry(self, path: str) -> tuple[str, int, str, tuple[str, ...]] | None:
        """``(kind, number, name, mids)`` of a rendered or freepats path, or ``None``."""
        p = path.lower()
        m = re.search(r"gm/(program|drum)-(\d+)/", p)
        if m:
            kind, num = m.group(1), int(m.group(2))
        else:
            m = re.search(r"/(tone|drum)_000/(\d+)_", p)
            if not m:
                return None
            kind, num = ("program" if m.group(1) == "tone" else "drum"), int(m.group(2))
        if (kind, num) not in self.gm:
            return None
        name, mids = self.gm[(kind, num)]
        return kind, num, name, mids

    def labels(self, source: str, path: str) -> tuple[Rule | None, tuple[str, ...]]:
        """``(rule, MIDs)`` for a file; MIDs are empty when it is left out or unmatched."""
        rule = self.match(source, path)
        if rule is None or rule.excluded:
            return rule, ()
        if rule.mids == ("@gm",):
            entry = self.gm_entry(path)
            return rule, entry[3] if entry else ()
        return rule, rule.mids
