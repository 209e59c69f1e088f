"""C-HMCNN max-constraint and loss, loss dispatch and probabilities."""

from __future__ import annotations

import pytest
import torch

from hacd_graph.teacher.losses import (
    chmcnn_loss,
    concept_probabilities,
    max_constraint,
    teacher_loss,
)


def test_max_constraint_is_max_over_descendants(tiny_ach):
    h = torch.rand(4, 7, generator=torch.Generator().manual_seed(1))
    out = max_constraint(h, tiny_ach.ancestor_table())
    for c in range(7):
        group = [c, *tiny_ach.descendants(c)]
        torch.testing.assert_close(out[:, c], h[:, group].max(dim=1).values)


def test_chmcnn_loss_reference_form(tiny_ach):
    """MCLoss written out with the dense descendant matrix, as in the paper's code."""
    anc = tiny_ach.ancestor_table()
    z = torch.randn(4, 7, requires_grad=True)
    y = torch.zeros(4, 7)
    y[:, [tiny_ach.root, tiny_ach.index("hacd:music")]] = 1
    r = torch.zeros(7, 7)  # r[c, d] = 1 if d is c or a descendant of c
    for c in range(7):
        r[c, [c, *tiny_ach.descendants(c)]] = 1
    h = torch.sigmoid(z)

    def mcm(x):
        return (x[:, None, :] * r[None]).max(dim=2).values

    out = (1 - y) * mcm(h) + y * mcm(y * h)
    ref = torch.nn.functional.binary_cross_entropy(out, y)
    loss = chmcnn_loss(z, y, anc)
    torch.testing.assert_close(loss, ref)
    loss.backward()
    assert torch.isfinite(z.grad).all()


@pytest.mark.parametrize("kind", ["marginal_bce", "chmcnn", "bce"])
def test_dispatch_and_probabilities(kind, tiny_ach):
    anc = tiny_ach.ancestor_table()
    z = torch.randn(3, 7)
    y = (torch.rand(3, 7) < 0.5).float()
    assert torch.isfinite(teacher_loss(kind, z, y, anc))
    p = concept_probabilities(kind, z, anc)
    assert p.shape == (3, 7) and ((p >= 0) & (p <= 1)).all()
    if kind != "bce":  # both hierarchical readings respect the hierarchy
        for parent, child in tiny_ach.edges():
            assert (p[:, child] <= p[:, parent] + 1e-6).all()


def test_unknown_loss():
    with pytest.raises(ValueError, match="teacher.loss"):
        teacher_loss("focal", torch.zeros(1, 1), torch.zeros(1, 1), torch.zeros(1, 1))
