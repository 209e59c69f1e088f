"""Random concept hierarchies as ancestor tables, for testing and benchmarking the HDL.

The tables have the format of ``ConceptHierarchy.ancestor_table()`` (row ``c`` holds ``c``
and all its ancestors, padded with ``-1``) without needing a real hierarchy, so the kernels
can be exercised at any size: many-parent DAGs (as in AudioSet) and trees.
"""

from __future__ import annotations

import random

import torch
from torch import Tensor


def random_ancestor_table(
    num_concepts: int,
    width: int,
    max_parents: int = 3,
    seed: int = 0,
    dtype: torch.dtype = torch.int64,
    shuffle_rows: bool = False,
) -> Tensor:
    """A random single-root DAG over ``num_concepts`` concepts as an ancestor table.

    Concept 0 is the root; every other concept ``c`` draws 1..``max_parents`` parents among
    the concepts before it (favouring recent ones, so paths get deep), keeping only parents
    whose ancestors still fit in ``width`` entries; the first parent always fits (one is
    retried until it does). ``max_parents=1`` gives a tree.

    Args:
        num_concepts: N >= 1.
        width: K >= 1, the table width (the longest ancestor set, including the concept).
        max_parents: most parents a concept draws.
        seed: seed of the private random generator (global RNGs are untouched).
        dtype: int32 or int64.
        shuffle_rows: put each row's entries in random order (the concept need not come
            first); otherwise each row is sorted with its concept first.

    Returns:
        ``[N, K]`` table padded with ``-1``.
    """
    if num_concepts < 1 or width < 1:
        raise ValueError(f"need num_concepts >= 1 and width >= 1, got {num_concepts}, {width}")
    rng = random.Random(seed)
    rows: list[set[int]] = [{0}]
    for c in range(1, num_concepts):
        ancestors = {c}
        wanted = rng.randint(1, max_parents) if width > 1 else 0
        tries = 0
        while wanted > 0 and tries < 16:
            tries += 1
            low = max(0, c - rng.choice((4, 32, c)))
            parent = rng.randrange(low, c)
            if parent in ancestors:
                continue
            merged = ancestors | rows[parent]
            if len(merged) <= width:
                ancestors = merged
                wanted -= 1
            elif len(ancestors) == 1 and tries == 15:
                ancestors |= rows[0] if width > 1 else set()  # fall back to the root
        if len(ancestors) == 1 and width > 1:
            ancestors.add(0)
        rows.append(ancestors)
    table = torch.full((num_concepts, width), -1, dtype=dtype)
    for c, ancestors in enumerate(rows):
        entries = [c, *sorted(ancestors - {c})]
        if shuffle_rows:
            rng.shuffle(entries)
        table[c, : len(entries)] = torch.tensor(entries, dtype=dtype)
    return table
