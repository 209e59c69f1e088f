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


@pytest.mark.parametrize("magnitude", [60.0, 200.0, 1e4])
def test_extreme_logits_give_the_known_loss_and_gradient(tiny_ach, magnitude):
    """Every logit +M with labels 0, and -M with labels 1, in float32: the loss and the
    gradient have closed forms (k_c = |A[c]|, e = e^-M):
    row 0: -log(1 - sigma(M)^k_c) = M - log k_c + O(k_c e), d/dz_a = sum_{c ∋ a} 1/k_c;
    row 1: -log P(c) = k_c (M + log1p(e)), d/dz_a = -(number of c with a in A[c]);
    both over the 14 elements of the mean. In float32, sigma(M)^k rounds to 1 and a
    log(1 - P) from the log-marginal would be -inf."""
    anc = tiny_ach.ancestor_table()
    z = torch.tensor([[magnitude] * 7, [-magnitude] * 7], requires_grad=True)
    y = torch.tensor([[0.0] * 7, [1.0] * 7])
    loss = marginal_bce(z, y, anc)
    loss.backward()
    k = (anc >= 0).sum(dim=1).double()
    softplus = torch.log1p(torch.exp(torch.tensor(-magnitude, dtype=torch.float64)))
    row0 = magnitude - torch.log(k)
    row1 = k * (magnitude + softplus)
    expected = (row0.sum() + row1.sum()) / 14
    # float32 rounds log-domain values near -M to an ulp of M: relative error ~ M eps
    rtol = 1e-6 + 16 * 2.0**-24 * magnitude
    torch.testing.assert_close(loss.double(), expected, rtol=rtol, atol=0)
    inverse_k = torch.zeros(7, dtype=torch.float64).index_add_(
        0, anc[anc >= 0], (1 / k).unsqueeze(1).expand_as(anc)[anc >= 0])
    count = torch.zeros(7, dtype=torch.float64).index_add_(
        0, anc[anc >= 0], torch.ones(int((anc >= 0).sum()), dtype=torch.float64))
    torch.testing.assert_close(z.grad.double(), torch.stack([inverse_k, -count]) / 14,
                               rtol=rtol, atol=0)


def test_log1mexp_is_exact_on_both_branches():
    x = torch.tensor([0.0, -1e-30, -1e-3, -0.5, -0.7, -5.0, -100.0], dtype=torch.float64)
    expected = torch.tensor([-float("inf"), -69.07755278982137052, -6.90825523731547071,
                             -0.93275212956718857, -0.68634100280838515,
                             -0.0067607494494885578, -3.720075976020836e-44],
                            dtype=torch.float64)  # log(1e-30) for the second; mpmath for the rest
    torch.testing.assert_close(log1mexp(x), expected, rtol=1e-14, atol=0)
    # float32: e^-100 is subnormal there, exact to its step (1.4e-45)
    torch.testing.assert_close(log1mexp(x.float()), expected.float(), rtol=2e-7, atol=1.5e-45)


def test_table_mismatch_is_named(tiny_ach):
    with pytest.raises(ValueError, match="7 rows"):
        log_marginals(torch.zeros(2, 5), tiny_ach.ancestor_table())
