"""An ancestor table inverted into descendant lists, for gradients computed by gathering.

The gradient of the HDL with respect to a concept's logit sums over the concept's
descendants (every ``c`` whose ancestor row holds ``a``). A GPU kernel cannot scatter into
registers, and atomics into memory are slow and non-deterministic, so the Triton backend
gathers instead: the table's valid entries ``(c, a)`` sorted by ``a`` give, for every ``a``,
one contiguous segment listing its descendants, which a segmented scan sums. The plan is
built once per table (a sort of its ``N K`` entries, on the table's device) and memoised.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class DescendantPlan:
    """An ancestor table prepared for the kernel: transposed, and inverted into descendants.

    Attributes:
        table_t: ``[K, N]`` int32, the table transposed (``-1`` = padding).
        desc_c: ``[E]`` int32, the concepts ``c`` of every valid entry ``(c, a)``, sorted by
            ``a`` then ``c``: the descendants of each ``a`` (itself included), one segment
            per ``a``.
        desc_a: ``[E]`` int32, the ``a`` of each entry.
        desc_start: ``[E]`` int8, 1 where a segment (a new ``a``) starts.
    """

    table_t: Tensor
    desc_c: Tensor
    desc_a: Tensor
    desc_start: Tensor

    @property
    def num_entries(self) -> int:
        return int(self.desc_c.numel())


def build_descendant_plan(ancestors: Tensor) -> DescendantPlan:
    """Transpose the ancestor table and sort its entries by ancestor (on its device).

    Args:
        ancestors: ``[N, K]`` int32/int64 table, row ``c`` = ``c`` and its ancestors, padded
            with ``-1``; entries already checked to lie in ``[-1, N)``.

    Returns:
        The :class:`DescendantPlan` of the table.
    """
    num_concepts, width = ancestors.shape
    if num_concepts * width >= 2**31:
        raise ValueError(f"ancestor table of shape {tuple(ancestors.shape)} has more than "
                         "2^31 entries; the Triton HDL indexes it with int32")
    table = ancestors.to(torch.int64)
    valid = table >= 0
    concept = torch.arange(num_concepts, device=table.device).unsqueeze(1).expand_as(table)
    entry_a, entry_c = table[valid], concept[valid]
    order = torch.argsort(entry_a * num_concepts + entry_c)
    desc_a = entry_a[order]
    desc_start = torch.ones_like(desc_a, dtype=torch.int8)
    desc_start[1:] = (desc_a[1:] != desc_a[:-1]).to(torch.int8)
    return DescendantPlan(
        table_t=table.t().contiguous().to(torch.int32),
        desc_c=entry_c[order].to(torch.int32).contiguous(),
        desc_a=desc_a.to(torch.int32).contiguous(),
        desc_start=desc_start.contiguous(),
    )


_PLAN_CACHE: dict[int, tuple[weakref.ref, int, DescendantPlan]] = {}
_PLAN_CACHE_SIZE = 16


def descendant_plan(ancestors: Tensor) -> DescendantPlan:
    """:func:`build_descendant_plan`, memoised per table tensor (rebuilt if it is modified).

    A training loop passes the same table every step; the plan (a sort of its ``N K``
    entries) is built on the first call only.
    """
    hit = _PLAN_CACHE.get(id(ancestors))
    if hit is not None and hit[0]() is ancestors and hit[1] == ancestors._version:
        return hit[2]
    plan = build_descendant_plan(ancestors)
    if len(_PLAN_CACHE) >= _PLAN_CACHE_SIZE:
        _PLAN_CACHE.pop(next(iter(_PLAN_CACHE)))
    _PLAN_CACHE[id(ancestors)] = (weakref.ref(ancestors), ancestors._version, plan)
    return plan
