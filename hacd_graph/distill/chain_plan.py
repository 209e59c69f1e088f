r"""An ancestor table rewritten as chains of marginals, for kernels that gather instead of sum.

A concept's log-marginal sums one term per entry of its table row, ``K`` gathers per concept.
But in a hierarchy the row of ``c`` contains the row of any of its ancestors, so

.. math::

    \ell_c = \ell_{b(c)} + u_c + \sum_{r \in R(c)} u_r, \qquad
    R(c) = A[c] \setminus (\{c\} \cup A[b(c)])

where the *base* :math:`b(c)` is the ancestor with the largest row and :math:`u` are the
per-concept terms. In a tree :math:`R(c)` is empty; in the AudioSet-like random DAGs of
the benchmark it holds 0.1 entries on average, against 15 table entries per row. Computing
:math:`\ell` base-first takes one gather of the base's marginal per concept, in *levels*
(a concept's level is one more than its base's), each level depending only on the ones
before it.

The gradient runs the same chains backwards. With :math:`g_c = \partial L/\partial\ell_c`,
the total :math:`T_c = g_c + \sum_{c' : b(c') = c} T_{c'}` flows down the chains level by
level (deepest first), and the gradient with respect to a term is

.. math::

    \partial L / \partial u_a = T_a + \sum_{c :\, a \in R(c)} T_c ,

the same sum over descendants as :math:`\sum_{c :\, a \in A[c]} g_c`, with one entry per
concept plus one per residual entry instead of one per table entry. Positions are
ordered by level, then by base, so the concepts sharing a base (its chain children) are
contiguous and their :math:`T` sum is a segmented scan without atomics.

The plan is exact for any table the HDL accepts: a concept gets a base only where the
base's row (free of repeated entries) is contained in its own and strictly shorter, so
tables that are not closed under ancestors, repeat entries or hold cycles simply get fewer
chains (a concept without a base gathers its whole row as residual terms). The Triton
kernel and the CPU extension's vectorised kernel both walk this plan. A plan is built once
per hierarchy and travels with its table in
:class:`hacd_graph.distill.ancestor_plan.AncestorPlan`; nothing here caches.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch
from torch import Tensor

_SUBSET_CHUNK = 65536  # concepts per chunk of the row-containment test ([chunk, K, K] bools)


@dataclass(frozen=True)
class ChainPlan:
    """An ancestor table prepared for the chain kernels (all int tensors on the table's device).

    Positions ``0..N-1`` order the concepts by level, then by base position, then by index.

    Attributes:
        order: ``[N]`` int32, the concept at each position.
        position: ``[N]`` int32, the position of each concept (inverse of ``order``).
        base: ``[N]`` int32 by position, the position of the concept's base or ``-1``.
        segment_start: ``[N]`` int8 by position, 1 where a run of concepts sharing a base
            (or a level) starts.
        residual_t: ``[R, N]`` int32, by position, the residual ancestors as *slots*
            (see ``slot``), left-aligned and padded with ``-1``; ``R >= 1``.
        residual_count: ``[N]`` int32 by position, the valid entries of each column.
        level_start: ``[D + 1]`` int32, the first position of each level, then ``N``.
        rdesc_c: ``[E]`` int32, for every residual entry ``(c, a)`` sorted by the position
            of ``a`` then of ``c``, the position of ``c`` (``E >= 1``: one ``-1`` entry when
            there are none).
        rdesc_a: ``[E]`` int32, the position of ``a`` of each residual entry.
        rdesc_start: ``[E]`` int8, 1 where a new ``a`` starts.
        has_rdesc: ``[N]`` int8 by concept, 1 where the concept is a residual of another.
        slot: ``[N]`` int32 by concept, a compact index ``0..S-1`` of the concepts that are
            residuals of another (``has_rdesc``), ``-1`` elsewhere: kernels keep those
            concepts' own terms there, since a chain overwrites a term with its marginal.
        num_levels: ``D``.
        num_rdesc: the number of residual entries (``E`` without the padding).
        num_slots: ``S``.
    """

    order: Tensor
    position: Tensor
    base: Tensor
    segment_start: Tensor
    residual_t: Tensor
    residual_count: Tensor
    level_start: Tensor
    rdesc_c: Tensor
    rdesc_a: Tensor
    rdesc_start: Tensor
    has_rdesc: Tensor
    slot: Tensor
    num_levels: int
    num_rdesc: int
    num_slots: int

    @property
    def num_concepts(self) -> int:
        return int(self.order.numel())

    def to(self, device: torch.device | str) -> ChainPlan:
        """This plan with every tensor on ``device`` (``self`` when they already are)."""
        device = torch.device(device)
        if self.order.device == device:
            return self
        moved = {f.name: getattr(self, f.name).to(device) for f in fields(self)
                 if isinstance(getattr(self, f.name), Tensor)}
        return replace(self, **moved)

    def cpu_tensors(self) -> list[Tensor]:
        """The tensors the CPU extension's ``hdl_fused(..., chains=...)`` takes."""
        return [self.order, self.base, self.residual_t, self.residual_count, self.slot]

    def gathers_per_concept(self) -> float:
        """Marginal gathers per concept (base + residuals) that replace ``K`` table gathers."""
        with_base = int((self.base >= 0).sum())
        return (with_base + self.num_rdesc) / max(self.num_concepts, 1)


def _row_has_repeats(table: Tensor) -> Tensor:
    """``[N]`` bool: the row holds some valid entry twice."""
    ordered = table.sort(dim=1).values
    return ((ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)).any(dim=1)


def _contains(table: Tensor, rows: Tensor, others: Tensor) -> Tensor:
    """``[M, K]`` bool: entry ``k`` of row ``rows[m]`` occurs in row ``others[m]``."""
    out = torch.empty(rows.shape + (table.shape[1],), dtype=torch.bool, device=table.device)
    for start in range(0, rows.numel(), _SUBSET_CHUNK):
        part = slice(start, start + _SUBSET_CHUNK)
        mine, theirs = table[rows[part]], table[others[part]]
        out[part] = (mine.unsqueeze(2) == theirs.unsqueeze(1)).any(dim=2)
    return out


def _choose_bases(table: Tensor, valid: Tensor) -> Tensor:
    """``[N]`` int64: each concept's base concept, or ``-1``."""
    num_concepts = table.shape[0]
    concepts = torch.arange(num_concepts, device=table.device)
    count = valid.sum(dim=1)
    proper = valid & (table != concepts.unsqueeze(1))
    score = torch.where(proper, count[table.clamp(min=0)], -1)
    best = score.argmax(dim=1)
    candidate = table.gather(1, best.unsqueeze(1)).squeeze(1)
    has_candidate = score.gather(1, best.unsqueeze(1)).squeeze(1) > 0
    candidate = torch.where(has_candidate, candidate, concepts)
    repeats = _row_has_repeats(table)
    ok = has_candidate & (count[candidate] < count) & ~repeats & ~repeats[candidate]
    candidate_valid = valid[candidate]
    covered = _contains(table, candidate, concepts) | ~candidate_valid
    ok &= covered.all(dim=1)
    return torch.where(ok, candidate, -1)


def _levels(base: Tensor) -> Tensor:
    """``[N]`` int64: 0 without a base, else one more than the base's level."""
    level = torch.zeros_like(base)
    has_base = base >= 0
    safe_base = base.clamp(min=0)
    for _ in range(base.numel() + 1):  # bases have strictly shorter rows: at most K rounds
        new = torch.where(has_base, level[safe_base] + 1, 0)
        if torch.equal(new, level):
            return level
        level = new
    raise AssertionError("the base chains of the ancestor table have a cycle")


def _residual_mask(table: Tensor, valid: Tensor, base: Tensor) -> Tensor:
    """``[N, K]`` bool: the entries of each row that are neither the concept (its first
    occurrence) nor in the base's row."""
    num_concepts, width = table.shape
    concepts = torch.arange(num_concepts, device=table.device)
    is_self = table == concepts.unsqueeze(1)
    columns = torch.arange(width, device=table.device).expand_as(table)
    first_self = torch.where(is_self, columns, width).min(dim=1).values
    mask = valid & (columns != first_self.unsqueeze(1))
    has_base = base >= 0
    if bool(has_base.any()):
        with_base = has_base.nonzero().squeeze(1)
        in_base = _contains(table, with_base, base[with_base])
        mask[with_base] &= ~in_base
    return mask


def build_chain_plan(ancestors: Tensor) -> ChainPlan:
    """Choose every concept's base and residual, and order the concepts by level.

    Args:
        ancestors: ``[N, K]`` int32/int64 table (row ``c`` = ``c`` and its ancestors, padded
            with ``-1``), already checked: entries in ``[-1, N)``, row ``c`` holds ``c``.

    Returns:
        The :class:`ChainPlan` of the table.
    """
    num_concepts, width = ancestors.shape
    if num_concepts * max(width, 1) >= 2**31:
        raise ValueError(f"ancestor table of shape {tuple(ancestors.shape)} has more than "
                         "2^31 entries; the chain kernels index it with int32")
    device = ancestors.device
    table = ancestors.to(torch.int64)
    valid = table >= 0
    base = _choose_bases(table, valid)
    level = _levels(base)
    num_levels = int(level.max()) + 1 if num_concepts else 0

    # positions: level by level, each level sorted by (base position, concept)
    position = torch.empty(num_concepts, dtype=torch.int64, device=device)
    level_start = [0]
    for depth in range(num_levels):
        members = (level == depth).nonzero().squeeze(1)
        key = members if depth == 0 else position[base[members]] * num_concepts + members
        members = members[key.argsort()]
        position[members] = torch.arange(level_start[-1], level_start[-1] + members.numel(),
                                         device=device)
        level_start.append(level_start[-1] + members.numel())
    order = torch.empty_like(position)
    order[position] = torch.arange(num_concepts, device=device)
    base_position = torch.where(base >= 0, position[base.clamp(min=0)], -1)[order]
    starts = torch.tensor(level_start[:-1], dtype=torch.int64, device=device)
    segment_start = torch.ones(num_concepts, dtype=torch.int8, device=device)
    segment_start[1:] = (base_position[1:] != base_position[:-1]).to(torch.int8)
    segment_start[starts] = 1

    # the concepts that are residuals of another get a slot for their own terms
    residual = _residual_mask(table, valid, base)
    rows, cols = residual.nonzero(as_tuple=True)
    has_rdesc = torch.zeros(num_concepts, dtype=torch.int8, device=device)
    has_rdesc[table[rows, cols]] = 1
    slotted = has_rdesc.bool()
    num_slots = int(slotted.sum())
    slot = torch.full((num_concepts,), -1, dtype=torch.int64, device=device)
    slot[slotted] = torch.arange(num_slots, device=device)

    # residual entries (as slots), left-aligned per position
    in_order = residual[order]
    count = in_order.sum(dim=1)
    width_r = max(int(count.max()) if num_concepts else 0, 1)
    left = in_order.to(torch.int8).sort(dim=1, descending=True, stable=True).indices
    entries = slot[table[order].gather(1, left)[:, :width_r].clamp(min=0)]
    entries = torch.where(torch.arange(width_r, device=device) < count.unsqueeze(1), entries, -1)

    # residual entries inverted: for every a, the positions of the c with a in R(c)
    entry_a = position[table[rows, cols]]
    entry_c = position[rows]
    sort = torch.argsort(entry_a * num_concepts + entry_c)
    rdesc_a, rdesc_c = entry_a[sort], entry_c[sort]
    rdesc_start = torch.ones_like(rdesc_a, dtype=torch.int8)
    rdesc_start[1:] = (rdesc_a[1:] != rdesc_a[:-1]).to(torch.int8)
    num_rdesc = int(rdesc_a.numel())
    if num_rdesc == 0:  # kernels take pointers to non-empty tensors
        rdesc_a = rdesc_c = torch.full((1,), -1, dtype=torch.int64, device=device)
        rdesc_start = torch.ones(1, dtype=torch.int8, device=device)

    def int32(tensor: Tensor) -> Tensor:
        return tensor.to(torch.int32).contiguous()

    return ChainPlan(
        order=int32(order), position=int32(position), base=int32(base_position),
        segment_start=segment_start.contiguous(), residual_t=int32(entries.t()),
        residual_count=int32(count),
        level_start=torch.tensor(level_start, dtype=torch.int32, device=device),
        rdesc_c=int32(rdesc_c), rdesc_a=int32(rdesc_a), rdesc_start=rdesc_start.contiguous(),
        has_rdesc=has_rdesc, slot=int32(slot), num_levels=num_levels, num_rdesc=num_rdesc,
        num_slots=num_slots,
    )
