"""Log-marginals over ancestor paths and the marginal BCE, against a direct computation."""

from __future__ import annotations

import pytest
import torch

from hacd_graph.teacher.marginals import log1mexp, log_marginals, marginal_bce


def _direct(z, ach):
    """P(c) = Π_{a ∈ {c} ∪ anc(c)} σ(z_a), concept by concept."""
    s = torch.sigmoid(z.double())
    out = torch.ones_like(s)
    for c in range(len(ach)):
        for a in {c, *ach.ancestors(c)}:
            out[:, c] *= s[:, a]
    return out


def test_log_marginals_match_products(tiny_ach):
    z = torch.randn(5, 7, generator=torch.Generator().manual_seed(0)) * 3
    lp = log_marginals(z, tiny_ach.ancestor_table())
    torch.testing.assert_close(lp.exp().double(), _direct(z, tiny_ach), rtol=1e-5, atol=1e-6)
    # a concept never exceeds any of its parents (two-parent node included)
    for parent, child in tiny_ach.edges():
        assert (lp[:, child] <= lp[:, parent] + 1e-7).all()


def test_marginal_bce_matches_direct_and_gradchecks(tiny_ach):
    anc = tiny_ach.ancestor_table()
    z = torch.randn(3, 7, dtype=torch.float64, requires_grad=True)
    y = torch.zeros(3, 7, dtype=torch.float64)
    y[:, [tiny_ach.root, tiny_ach.index("hacd:animal"), tiny_ach.index("hacd:dog")]] = 1
    p = _direct(z, tiny_ach)
    ref = torch.nn.functional.binary_cross_entropy(p, y)
    torch.testing.assert_close(marginal_bce(z, y, anc), ref)
    assert torch.autograd.gradcheck(lambda x: marginal_bce(x, y, anc), (z,))


def test_extreme_logits_stay_finite(tiny_ach):
    anc = tiny_ach.ancestor_table()
    z = torch.tensor([[60.0] * 7, [-60.0] * 7], requires_grad=True)
    y = torch.tensor([[0.0] * 7, [1.0] * 7])
    loss = marginal_bce(z, y, anc)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z.grad).all()
    assert torch.isfinite(log1mexp(torch.zeros(1))).all()


def test_table_mismatch_is_named(tiny_ach):
    with pytest.raises(ValueError, match="7 rows"):
        log_marginals(torch.zeros(2, 5), tiny_ach.ancestor_table())
