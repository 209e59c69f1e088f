from __future__ import annotations

import json

from hacd_graph.ach import ConceptHierarchy
from hacd_graph.ach.stats import format_stats, hierarchy_stats


def test_stats_toy(toy: ConceptHierarchy):
    stats = hierarchy_stats(toy)
    assert stats["concepts"] == 6 and stats["edges"] == 6 and stats["depth"] == 4
    assert stats["per_level"] == {"0": 1, "1": 3, "2": 1, "3": 1}
    assert stats["multi_parent"] == 1 and stats["max_parents"] == 2
    assert stats["leaves"] == 2 and stats["ancestor_table_width"] == 5
    assert stats["level_by_facet"] == {"(none)": [1, 3, 1, 1]}
    json.dumps(stats)  # JSON-ready


def test_stats_merged(merged_ach: ConceptHierarchy):
    stats = hierarchy_stats(merged_ach)
    assert sum(stats["per_facet"].values()) == len(merged_ach)
    assert sum(sum(row) for row in stats["level_by_facet"].values()) == len(merged_ach)
    assert stats["sources"]["core+audioset"] + stats["sources"]["audioset"] >= 632
    text = format_stats(stats)
    assert text.splitlines()[0].startswith(f"ACH core+audioset: {len(merged_ach)} concepts")
    assert "AudioSet restrictions: abstract" in text
    assert text.splitlines()[-1].split()[-1] == str(len(merged_ach))
