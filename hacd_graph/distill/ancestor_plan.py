r"""The ancestor table of a hierarchy, checked once, with the chain plan the kernels walk.

A training step calls the loss with the same hierarchy every time. :class:`AncestorPlan`
holds what depends only on the hierarchy — the ``[N, K]`` table, checked once, and its
:class:`~hacd_graph.distill.chain_plan.ChainPlan` (built on first use by a fused kernel) —
so that it is built once, moved to the device once, and passed to
:func:`hacd_graph.distill.hierarchical_distillation_loss` as ``ancestors`` on every step:

.. code-block:: python

    plan = AncestorPlan.from_hierarchy(ach).to("cuda")
    for batch in loader:
        loss = hierarchical_distillation_loss(student(batch), teacher(batch), plan)

The plan is the cache, in plain sight: there is no module-level state, and a plain table
tensor passed to the loss gets a fresh plan for that call only.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from hacd_graph.distill.chain_plan import ChainPlan, build_chain_plan

if TYPE_CHECKING:
    from hacd_graph.ach import ConceptHierarchy

_INDEX_DTYPES = (torch.int32, torch.int64)


def check_table(ancestors: Tensor) -> None:
    """Raise ``TypeError``/``ValueError`` unless ``ancestors`` is an ``[N, K]`` int32/int64
    table with entries in ``[-1, N)`` whose row ``c`` contains ``c`` (one host sync)."""
    if not isinstance(ancestors, Tensor):
        raise TypeError(f"ancestors must be a torch.Tensor or an AncestorPlan, "
                        f"got {type(ancestors).__name__}")
    if ancestors.dim() != 2 or ancestors.shape[1] < 1:
        raise ValueError(f"ancestors must be [N, K] with K >= 1, got shape "
                         f"{tuple(ancestors.shape)}")
    if ancestors.dtype not in _INDEX_DTYPES:
        raise TypeError(f"ancestors must be int32 or int64, got {ancestors.dtype}")
    num_concepts = ancestors.shape[0]
    if num_concepts == 0:
        return
    out_of_range = (ancestors < -1) | (ancestors >= num_concepts)
    concepts = torch.arange(num_concepts, device=ancestors.device, dtype=ancestors.dtype)
    missing_self = ~(ancestors == concepts.unsqueeze(1)).any(dim=1)
    flags = torch.stack([out_of_range.any(), missing_self.any()]).tolist()
    if flags[0]:
        row, col = (int(i) for i in out_of_range.nonzero()[0])
        raise ValueError(
            f"ancestors[{row}, {col}] = {int(ancestors[row, col])} is out of range: entries "
            f"must be concept indices in [0, {num_concepts}) or -1 (padding)"
        )
    if flags[1]:
        row = int(missing_self.nonzero()[0, 0])
        raise ValueError(
            f"row {row} of the ancestor table does not contain concept {row} itself: "
            f"row c must hold c and its ancestors, got {ancestors[row].tolist()}"
        )


class AncestorPlan:
    """A checked ancestor table and, built on first use, its chain plan.

    Build it with :meth:`from_table` or :meth:`from_hierarchy` (which check the table),
    move it with :meth:`to`, and pass it as ``ancestors`` to
    :func:`hacd_graph.distill.hierarchical_distillation_loss`.

    Attributes:
        table: ``[N, K]`` int32/int64 contiguous table; row ``c`` = ``c`` and its
            ancestors, padded with ``-1``.
    """

    def __init__(self, table: Tensor, chains: ChainPlan | None = None) -> None:
        """Wrap an already checked table (use :meth:`from_table` to check it)."""
        self.table = table.contiguous()
        if chains is not None:
            self.__dict__["chains"] = chains

    @classmethod
    def from_table(cls, ancestors: Tensor) -> AncestorPlan:
        """Check ``ancestors`` (see :func:`check_table`) and wrap it."""
        check_table(ancestors)
        return cls(ancestors)

    @classmethod
    def from_hierarchy(cls, hierarchy: ConceptHierarchy,
                       device: torch.device | str = "cpu") -> AncestorPlan:
        """The plan of ``hierarchy.ancestor_table()``, on ``device``."""
        return cls.from_table(hierarchy.ancestor_table()).to(device)

    @functools.cached_property
    def chains(self) -> ChainPlan:
        """The table's :class:`ChainPlan`, built on first access and kept by this plan."""
        return build_chain_plan(self.table)

    @property
    def num_concepts(self) -> int:
        return int(self.table.shape[0])

    @property
    def device(self) -> torch.device:
        return self.table.device

    def to(self, device: torch.device | str) -> AncestorPlan:
        """This plan on ``device`` (``self`` when it is there already); a chain plan
        already built moves with it."""
        device = torch.device(device)
        if self.table.device == device:
            return self
        chains = self.__dict__.get("chains")
        return AncestorPlan(self.table.to(device),
                            None if chains is None else chains.to(device))

    def __repr__(self) -> str:
        built = "built" if "chains" in self.__dict__ else "not built"
        return (f"AncestorPlan(N={self.num_concepts}, K={int(self.table.shape[1])}, "
                f"dtype={self.table.dtype}, device={self.device}, chains {built})")


def as_plan(ancestors: Tensor | AncestorPlan) -> AncestorPlan:
    """``ancestors`` itself when it is a plan, else a fresh (checked) plan of the table."""
    if isinstance(ancestors, AncestorPlan):
        return ancestors
    return AncestorPlan.from_table(ancestors)
