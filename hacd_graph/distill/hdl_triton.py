r"""The hierarchical distillation loss (HDL) as a fused Triton kernel.

Reads top to bottom: the maths, the element functions, the row kernel, the host side
(launcher) and the ``autograd.Function``. Same function as
:func:`hacd_graph.distill.hdl_reference.hdl_reference`; the public entry point is
:func:`hacd_graph.distill.hierarchical_distillation_loss` with ``backend="triton"``.

The maths, per row ``b`` (dropped below) with :math:`x_a = z_a / T`, :math:`y_a = y_a / T`,
:math:`s_a = \log\sigma(x_a)`, :math:`n_a = \log\sigma(-x_a)` (both exact at any
magnitude):

.. math::

    \ell^s_c = \sum_{a \in A[c]} s_a,\quad q_c = e^{\ell^s_c},\quad
    m^s_c = \log(1 - q_c),\qquad \ell^t_c,\ p_c,\ m^t_c \text{ likewise from } y

    L_c = T^2 w_c \big(p_c(\ell^t_c - \ell^s_c) + (1-p_c)(m^t_c - m^s_c)\big)

    \partial L / \partial z_a = \frac{1}{T} \sum_{c:\, a \in A[c]}
        k_c \frac{q_c - p_c}{1 - q_c}\,\sigma(-x_a), \qquad k_c = T^2 w_c \cdot
        \text{(incoming gradient)}

The sums over table rows and over descendants are not done entry by entry (``K`` gathers
per concept) but along the *chains* of :mod:`hacd_graph.distill.chain_plan`: a concept's
marginal is its base ancestor's plus its own term plus a few residual terms (about 1.1
gathers per concept on the benchmark's DAGs and on the ACH, against 9 to 16 table entries).

Exact at any logit magnitude (nothing is rounded to 0 and then logged, nothing overflows):

- :math:`m_c` is carried along the chain as a pair :math:`(\ell, m)`: appending a factor
  :math:`f` to a product :math:`P` gives :math:`1 - Pf = (1 - P) + P(1 - f)`, i.e.
  :math:`m \leftarrow \operatorname{logaddexp}(m, \ell + n_f)`,
  :math:`\ell \leftarrow \ell + s_f` (the issue's
  :math:`\operatorname{logsumexp}_i[n_i + \sum_{j<i} s_j]`, one step per gather). That sum
  has no cancellation where :math:`q > 1/2`; where :math:`\ell < -\sqrt{\text{tiny}}`,
  :math:`\ell` itself is exact and :math:`m = \log(1 - e^\ell)` is used instead (it is the
  accurate one for small :math:`q`).
- The gradient never forms :math:`(q - p)/(1 - q)`, which overflows where :math:`1 - q` is
  tiny while the product with :math:`\sigma(-x_a) \le 1 - q_c` stays bounded. The backward
  carries :math:`D_c = \sum_{c'} h_{c'} e^{m_c - m_{c'}}` over the concepts :math:`c'` below
  :math:`c`, with :math:`h = k((1-p)q - p(1-q))` (bounded by ``k``) and factors
  :math:`e^{m_c - m_{c'}} \le 1` (a descendant's marginal is smaller); then
  :math:`\partial L/\partial z_a = e^{n_a - m_a} D_a / T` with :math:`e^{n_a - m_a} \le 1`.
  Along a chain :math:`D_b \mathrel{+}= D_c\,e^{m_b - m_c}`: one exp per gather.

A program owns a block of ``ROWS`` rows at a time (a persistent grid walks the blocks), so
that every index it loads serves ``ROWS`` rows. Its float32 workspace holds five arrays of
``N x ROWS`` floats indexed by plan position, with the rows interleaved (so one gathered
index reads ``ROWS`` adjacent floats), plus the terms of the few concepts that are
residuals of others:

- pass 0 (coalesced reads) computes :math:`s, n` of the student and the teacher and stores
  them at the concepts' positions;
- the forward walks the levels in order, overwriting :math:`(s, n)` with :math:`(\ell, m)`,
  and computes ``L_c`` and :math:`h_c` once per concept;
- the backward walks the levels deepest first: the concepts sharing a base are contiguous,
  so a segmented scan adds their :math:`D e^{m_b - m_c}` into the base's (no atomics); then
  a second segmented scan over the residual entries sorted by ancestor adds theirs;
- pass C (coalesced) writes :math:`\partial L/\partial z_a`, reading the logit again.

Every ``N`` works (rows are chunked at all sizes, N = 100,000 included); the workspace is
``programs x ROWS x (5 N + 4 S)`` floats, capped at 512 MiB. ``log1p`` on ``[-1/2, 1]`` is a
short odd series in ``u = x / (2 + x)``, so the kernel uses only ``exp``, ``log`` and
arithmetic and runs unchanged in the interpreter, which has no ``libdevice``. NaN logits
propagate to the loss and gradient of every concept below them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import triton
import triton.language as tl
from torch import Tensor

from hacd_graph.distill.ancestor_plan import AncestorPlan, as_plan
from hacd_graph.distill.chain_plan import ChainPlan

_LN2 = tl.constexpr(0.6931471805599453)
_NEAR_ONE = tl.constexpr(1.0842021724855044e-19)  # sqrt(float32 tiny): ls above -this: chain sum

LOSS_PER_ELEMENT, LOSS_PER_ROW, LOSS_SKIP = 0, 1, 2


# ----------------------------------------------------------------------------- elements
@triton.jit
def _log1p_series(x):
    # log1p(x) = 2 atanh(u), u = x / (2 + x); for x in [-1/2, 1], |u| <= 1/3 and the odd
    # series 2 (u + u^3/3 + ... + u^15/15) is exact to ~1e-9 relative.
    u = x / (2.0 + x)
    u2 = u * u
    r = 2.0 / 15.0
    r = 2.0 / 13.0 + u2 * r
    r = 2.0 / 11.0 + u2 * r
    r = 2.0 / 9.0 + u2 * r
    r = 2.0 / 7.0 + u2 * r
    r = 2.0 / 5.0 + u2 * r
    r = 2.0 / 3.0 + u2 * r
    r = 2.0 + u2 * r
    return u * r


@triton.jit
def _one_minus_exp_neg_over_v(v):
    # (1 - e^-v) / v for 0 <= v < ln 2: a Taylor series (Horner); no cancellation.
    r = 1.0 - v * (1.0 / 12.0)
    r = 1.0 - v * (1.0 / 11.0) * r
    r = 1.0 - v * (1.0 / 10.0) * r
    r = 1.0 - v * (1.0 / 9.0) * r
    r = 1.0 - v * (1.0 / 8.0) * r
    r = 1.0 - v * (1.0 / 7.0) * r
    r = 1.0 - v * (1.0 / 6.0) * r
    r = 1.0 - v * (1.0 / 5.0) * r
    r = 1.0 - v * (1.0 / 4.0) * r
    r = 1.0 - v * (1.0 / 3.0) * r
    r = 1.0 - v * 0.5 * r
    return r


@triton.jit
def _log_sigmoid_pair(x):
    # (log sigma(x), log sigma(-x)), exact at any |x|; NaN stays NaN.
    soft = _log1p_series(tl.exp(-tl.abs(x)))
    return tl.where(x < 0.0, x, 0.0) - soft, tl.where(x > 0.0, -x, 0.0) - soft


@triton.jit
def _log1mexp(l):
    # log(1 - e^l) for l <= 0, exact while l is: log(1 - e^-v) = log(v (1 - e^-v) / v) for
    # v = -l < ln 2, log1p(-e^l) below. l = 0 gives -inf (callers mask it).
    v = tl.minimum(-l, _LN2)  # the series' domain (keeps the unused lanes finite)
    high = tl.log(v * _one_minus_exp_neg_over_v(v))
    low = _log1p_series(-tl.exp(tl.minimum(l, -_LN2)))
    return tl.where(l > -_LN2, high, low)


@triton.jit
def _logaddexp(a, b):
    # log(e^a + e^b); b may be -inf; NaN stays NaN (a comparison with NaN picks the NaN).
    hi = tl.where(a > b, a, b)
    lo = tl.where(a > b, b, a)
    return hi + _log1p_series(tl.exp(lo - hi))


@triton.jit
def _segmented_add(v1, f1, v2, f2):
    # Combine of a segmented inclusive sum: f = 1 starts a new segment.
    return tl.where(f2 != 0, v2, v1 + v2), f1 | f2


@triton.jit
def _segmented_sums(vals, start, carry, offs, ROWS: tl.constexpr, BLOCK: tl.constexpr):
    # Inclusive sums of the [ROWS, BLOCK] values within segments (start = 1 opens one), the
    # chunk's first segment continuing with the previous chunk's carry; returns the sums and
    # the carry into the next chunk.
    continued = ((offs == 0) & (start == 0))[None, :]
    vals = tl.where(continued, vals + carry[:, None], vals)
    starts = tl.broadcast_to(start[None, :], (ROWS, BLOCK))
    sums, _ = tl.associative_scan((vals, starts), 1, _segmented_add)
    carry = tl.sum(tl.where((offs == BLOCK - 1)[None, :], sums, 0.0), axis=1)
    return sums, carry


# ----------------------------------------------------------------------------- the kernel
@triton.jit
def _hdl_chain_kernel(
    student_ptr, teacher_ptr, weights_ptr, grad_out_ptr,
    loss_ptr, grad_ptr, work_ptr,
    order_ptr, position_ptr, base_ptr, segment_start_ptr, residual_ptr, residual_count_ptr,
    level_start_ptr, rdesc_c_ptr, rdesc_a_ptr, rdesc_start_ptr, has_rdesc_ptr, slot_ptr,
    B, N, num_levels, num_rdesc, num_slots,
    inv_t, t_sq, grad_scale,
    HAS_WEIGHTS: tl.constexpr, HAS_GRAD_OUT: tl.constexpr, LOSS_MODE: tl.constexpr,
    COMPUTE_GRAD: tl.constexpr, ROWS: tl.constexpr, BLOCK_C: tl.constexpr,
    BLOCK_E: tl.constexpr,
):
    # A program owns ROWS rows at a time: every index it loads serves ROWS rows. Tiles are
    # [ROWS, BLOCK]. Its workspace holds five arrays of N x ROWS floats indexed by plan
    # position, with the rows interleaved (element p of row r at p * ROWS + r, so one
    # gathered index reads ROWS adjacent floats), and four of num_slots x ROWS:
    #   work_ls, work_ms: the student's s, n, overwritten level by level with l, m;
    #   work_lt, work_mt: the teacher's likewise; after the forward, work_lt holds the
    #       residual-descendant totals G;
    #   work_g: h, then the chain totals D;
    #   slot_*: s, n of the student and the teacher for the concepts that are residuals.
    # Workspace accesses are masked along the concepts only (rows past B hold values that
    # are never stored out).
    pid = tl.program_id(0)
    num_programs = tl.num_programs(0)
    offs_r = tl.arange(0, ROWS)
    offs_c = tl.arange(0, BLOCK_C)
    offs_e = tl.arange(0, BLOCK_E)
    stride = ROWS * (5 * N + 4 * num_slots)
    work_ls = work_ptr + pid.to(tl.int64) * stride + offs_r[:, None]  # [ROWS, 1]
    work_ms = work_ls + ROWS * N
    work_lt = work_ls + 2 * ROWS * N
    work_mt = work_ls + 3 * ROWS * N
    work_g = work_ls + 4 * ROWS * N
    slot_s = work_ls + 5 * ROWS * N
    slot_sn = slot_s + ROWS * num_slots
    slot_t = slot_s + 2 * ROWS * num_slots
    slot_tn = slot_s + 3 * ROWS * num_slots
    for row0 in range(pid * ROWS, B, num_programs * ROWS):
        rows = row0 + offs_r
        row_ok = (rows < B)[:, None]  # [ROWS, 1]
        row_base = rows.to(tl.int64)[:, None] * N  # [ROWS, 1]
        # ---- pass 0 (coalesced reads): s and n of both, once per element, at the positions
        for c0 in range(0, N, BLOCK_C):
            c = c0 + offs_c
            in_row = c < N
            tile = row_ok & in_row[None, :]
            x = tl.load(student_ptr + row_base + c[None, :], mask=tile, other=0.0,
                        eviction_policy="evict_first").to(tl.float32) * inv_t
            y = tl.load(teacher_ptr + row_base + c[None, :], mask=tile, other=0.0,
                        eviction_policy="evict_first").to(tl.float32) * inv_t
            s, sn = _log_sigmoid_pair(x)
            t, tn = _log_sigmoid_pair(y)
            pos = tl.load(position_ptr + c, mask=in_row, other=0)[None, :] * ROWS
            at = in_row[None, :]
            tl.store(work_ls + pos, s, mask=at)
            tl.store(work_ms + pos, sn, mask=at)
            tl.store(work_lt + pos, t, mask=at)
            tl.store(work_mt + pos, tn, mask=at)
            slot = tl.load(slot_ptr + c, mask=in_row, other=-1)[None, :]
            slotted = slot >= 0
            tl.store(slot_s + slot * ROWS, s, mask=slotted)
            tl.store(slot_sn + slot * ROWS, sn, mask=slotted)
            tl.store(slot_t + slot * ROWS, t, mask=slotted)
            tl.store(slot_tn + slot * ROWS, tn, mask=slotted)
        tl.debug_barrier()  # the terms are complete
        # ---- forward, level by level: (l, m) = own (s, n) + base's (l, m) + residuals
        row_loss = tl.zeros((ROWS, BLOCK_C), tl.float32)
        for level in range(0, num_levels):
            lo = tl.load(level_start_ptr + level)
            hi = tl.load(level_start_ptr + level + 1)
            for p0 in range(lo, hi, BLOCK_C):
                p = p0 + offs_c
                in_level = p < hi
                at = in_level[None, :]
                tile = row_ok & at
                here = p[None, :] * ROWS
                cpt = tl.load(order_ptr + p, mask=in_level, other=0)
                base = tl.load(base_ptr + p, mask=in_level, other=-1)
                has_base = (base >= 0)[None, :]
                there = base[None, :] * ROWS
                ls = tl.load(work_ls + here, mask=at, other=0.0)
                ms = tl.load(work_ms + here, mask=at, other=0.0)
                lt = tl.load(work_lt + here, mask=at, other=0.0)
                mt = tl.load(work_mt + here, mask=at, other=0.0)
                # own factor (s, n) then the base's product (l_b, m_b):
                # m = logaddexp(n, s + m_b), l = s + l_b
                ms_b = tl.load(work_ms + there, mask=has_base, other=float("-inf"))
                mt_b = tl.load(work_mt + there, mask=has_base, other=float("-inf"))
                ms = _logaddexp(ms, ls + ms_b)
                mt = _logaddexp(mt, lt + mt_b)
                ls += tl.load(work_ls + there, mask=has_base, other=0.0)
                lt += tl.load(work_lt + there, mask=has_base, other=0.0)
                count = tl.load(residual_count_ptr + p, mask=in_level, other=0)
                for k in range(0, tl.max(count, axis=0)):
                    entry = tl.load(residual_ptr + k * N + p, mask=k < count, other=-1)
                    valid = (entry >= 0)[None, :]
                    where = entry[None, :] * ROWS
                    ms = _logaddexp(ms, ls + tl.load(slot_sn + where, mask=valid,
                                                     other=float("-inf")))
                    mt = _logaddexp(mt, lt + tl.load(slot_tn + where, mask=valid,
                                                     other=float("-inf")))
                    ls += tl.load(slot_s + where, mask=valid, other=0.0)
                    lt += tl.load(slot_t + where, mask=valid, other=0.0)
                # the chain sum where every factor is close to 1, log1mexp elsewhere
                ms = tl.where(ls > -_NEAR_ONE, ms, _log1mexp(tl.minimum(ls, -_NEAR_ONE)))
                mt = tl.where(lt > -_NEAR_ONE, mt, _log1mexp(tl.minimum(lt, -_NEAR_ONE)))
                tl.store(work_ls + here, ls, mask=at)  # the terms become the products
                tl.store(work_ms + here, ms, mask=at)
                tl.store(work_lt + here, lt, mask=at)
                tl.store(work_mt + here, mt, mask=at)
                p_t = tl.exp(lt)
                one_minus_p = tl.exp(mt)
                scale = tl.full((1, BLOCK_C), 1.0, tl.float32) * t_sq
                if HAS_WEIGHTS:
                    w = tl.load(weights_ptr + cpt, mask=in_level, other=0.0).to(tl.float32)
                    scale = scale * w[None, :]
                if LOSS_MODE != 2:
                    first = tl.where(p_t == 0.0, 0.0, p_t * (lt - ls))  # 0 log 0 = 0; NaN stays
                    second = tl.where(one_minus_p <= 0.0, 0.0, one_minus_p * (mt - ms))
                    loss = tl.where(tile, scale * (first + second), 0.0)
                    if LOSS_MODE == 0:
                        tl.store(loss_ptr + row_base + cpt[None, :], loss, mask=tile)
                    else:
                        row_loss += loss
                if COMPUTE_GRAD:
                    # h = k ((1 - p) q - p (1 - q)): g = h / (1 - q), never formed
                    h = scale * (one_minus_p * tl.exp(ls) - p_t * tl.exp(ms))
                    if HAS_GRAD_OUT:
                        h = h * tl.load(grad_out_ptr + row_base + cpt[None, :], mask=tile,
                                        other=0.0).to(tl.float32)
                    tl.store(work_g + here, h, mask=at)
            tl.debug_barrier()  # this level's (l, m) is complete for the next
        if LOSS_MODE == 1:
            tl.store(loss_ptr + rows, tl.sum(row_loss, axis=1), mask=rows < B)
        if COMPUTE_GRAD:
            # ---- backward down the chains, deepest level first: D[base] += the sum of
            # D e^(m_base - m) of the concepts sharing that base (contiguous: a segmented
            # scan, no atomics)
            for step in range(1, num_levels):
                level = num_levels - step
                lo = tl.load(level_start_ptr + level)
                hi = tl.load(level_start_ptr + level + 1)
                carry = tl.zeros((ROWS,), tl.float32)
                for p0 in range(lo, hi, BLOCK_C):
                    p = p0 + offs_c
                    in_level = p < hi
                    at = in_level[None, :]
                    base_all = tl.load(base_ptr + p, mask=in_level, other=0)
                    m_here = tl.load(work_ms + p[None, :] * ROWS, mask=at, other=0.0)
                    m_base = tl.load(work_ms + base_all[None, :] * ROWS, mask=at, other=0.0)
                    vals = tl.load(work_g + p[None, :] * ROWS, mask=at, other=0.0)
                    vals = tl.where(at, vals * tl.exp(m_base - m_here), 0.0)
                    start = tl.load(segment_start_ptr + p, mask=in_level, other=1).to(tl.int32)
                    last = tl.load(segment_start_ptr + p + 1, mask=(p + 1) < hi, other=1) != 0
                    done = (in_level & last)[None, :]
                    base = tl.load(base_ptr + p, mask=in_level & last, other=0)
                    sums, carry = _segmented_sums(vals, start, carry, offs_c, ROWS, BLOCK_C)
                    own = tl.load(work_g + base[None, :] * ROWS, mask=done, other=0.0)
                    tl.store(work_g + base[None, :] * ROWS, own + sums, mask=done)
                tl.debug_barrier()  # the level above is complete
            # ---- residual descendants: G[a] = D[a] + sum of D[c] e^(m_a - m_c) over the c
            # with a in R(c), written over l_t (no longer read)
            carry = tl.zeros((ROWS,), tl.float32)
            for e0 in range(0, num_rdesc, BLOCK_E):
                e = e0 + offs_e
                in_list = e < num_rdesc
                listed = in_list[None, :]
                entry = tl.load(rdesc_c_ptr + e, mask=in_list, other=0)
                target_all = tl.load(rdesc_a_ptr + e, mask=in_list, other=0)
                m_c = tl.load(work_ms + entry[None, :] * ROWS, mask=listed, other=0.0)
                m_a = tl.load(work_ms + target_all[None, :] * ROWS, mask=listed, other=0.0)
                vals = tl.load(work_g + entry[None, :] * ROWS, mask=listed, other=0.0)
                vals = tl.where(listed, vals * tl.exp(m_a - m_c), 0.0)
                start = tl.load(rdesc_start_ptr + e, mask=in_list, other=1).to(tl.int32)
                last = tl.load(rdesc_start_ptr + e + 1, mask=(e + 1) < num_rdesc, other=1) != 0
                done = (in_list & last)[None, :]
                target = tl.load(rdesc_a_ptr + e, mask=in_list & last, other=0)
                sums, carry = _segmented_sums(vals, start, carry, offs_e, ROWS, BLOCK_E)
                own = tl.load(work_g + target[None, :] * ROWS, mask=done, other=0.0)
                tl.store(work_lt + target[None, :] * ROWS, own + sums, mask=done)
            tl.debug_barrier()  # G is complete
            # ---- pass C (coalesced): dz_a = e^(n_a - m_a) D_a / T, n_a recomputed from the
            # logit (the workspace holds m by now)
            for c0 in range(0, N, BLOCK_C):
                c = c0 + offs_c
                in_row = c < N
                tile = row_ok & in_row[None, :]
                x = tl.load(student_ptr + row_base + c[None, :], mask=tile, other=0.0,
                            eviction_policy="evict_first").to(tl.float32) * inv_t
                _, sn = _log_sigmoid_pair(x)
                pos = tl.load(position_ptr + c, mask=in_row, other=0)[None, :] * ROWS
                has_extra = (tl.load(has_rdesc_ptr + c, mask=in_row, other=0) != 0)[None, :]
                total = tl.load(work_g + pos, mask=in_row[None, :] & ~has_extra, other=0.0)
                total += tl.load(work_lt + pos, mask=has_extra, other=0.0)
                m_a = tl.load(work_ms + pos, mask=in_row[None, :], other=0.0)
                dz = tl.exp(sn - m_a) * total * grad_scale
                tl.store(grad_ptr + row_base + c[None, :], dz.to(grad_ptr.dtype.element_ty),
                         mask=tile, eviction_policy="evict_first")
        tl.debug_barrier()  # the next rows may overwrite the workspace


# ----------------------------------------------------------------------------- host side
@dataclass(frozen=True)
class TritonLaunchConfig:
    """Tuning knobs of the row kernel (``benchmarks/gpu_check.py`` sweeps them on a GPU).

    Attributes:
        rows: rows a program processes together (each index load serves them all).
        block_c: concepts per chunk (capped at the next power of two >= N).
        block_e: residual-descendant entries per chunk.
        num_warps: warps per program.
        programs_per_sm: persistent programs per streaming multiprocessor on a GPU.
    """

    rows: int = 2
    block_c: int = 512
    block_e: int = 512
    num_warps: int = 8
    programs_per_sm: int = 2


DEFAULT_CONFIG = TritonLaunchConfig(rows=2, block_c=256, block_e=256, num_warps=8,
                                    programs_per_sm=2)  # small N (below LARGE_N)
LARGE_N = 8192
LARGE_N_CONFIG = TritonLaunchConfig(rows=1, block_c=512, block_e=512, num_warps=16,
                                    programs_per_sm=2)


def default_config(num_concepts: int) -> TritonLaunchConfig:
    """The launch configuration :func:`hdl_rows` uses when given none: the fastest of the
    H100 sweeps of ``benchmarks/gpu_check.py`` (K=16, forward+backward, two runs each).
    For ``N >= LARGE_N``, single rows of 512-concept chunks on 16 warps (one element per
    thread, 40 registers): 11.3 ms at B=4096, N=32768 against 12.0 ms for the previous
    two-row default. Below it, two-row blocks of 256-concept chunks: 0.34 ms at B=1024,
    N=4096 against 0.37 ms."""
    return LARGE_N_CONFIG if num_concepts >= LARGE_N else DEFAULT_CONFIG


_WORKSPACE_FLOATS = 2**27  # 512 MiB: caps the persistent grid for very large N
_WORKSPACE_ARRAYS = 5  # l, m of both, and D, by position, plus the slots (see the kernel)


def _num_programs(device: torch.device, rows: int, row_floats: int,
                  config: TritonLaunchConfig) -> int:
    """Persistent programs: ``programs_per_sm`` per SM, fewer for small batches or where the
    workspace (``row_floats`` per row) would pass its cap; a whole number of waves."""
    blocks = -(-rows // config.rows)
    if device.type != "cuda":
        return max(1, min(blocks, 2))  # the interpreter: still exercise the persistent loop
    sms = torch.cuda.get_device_properties(device).multi_processor_count
    fits = _WORKSPACE_FLOATS // (config.rows * row_floats)
    programs = max(1, min(blocks, sms * config.programs_per_sm, fits))
    return programs - programs % sms if programs > sms else programs


def hdl_rows(
    student: Tensor,
    teacher: Tensor,
    plan: ChainPlan,
    weights: Tensor | None,
    temperature: float,
    loss_mode: int,
    grad_scale: float | None,
    grad_output: Tensor | None = None,
    config: TritonLaunchConfig | None = None,
) -> tuple[Tensor | None, Tensor | None]:
    """Launch the row kernel once: the loss and/or the gradient of the student logits.

    Args:
        student, teacher: ``[B, N]`` contiguous logits (any float dtype; float32 math).
        plan: the :class:`~hacd_graph.distill.chain_plan.ChainPlan` of the table.
        weights: ``[N]`` node weights or ``None``.
        temperature: ``T > 0``.
        loss_mode: ``LOSS_PER_ELEMENT`` (``[B, N]`` float32), ``LOSS_PER_ROW`` (``[B]``
            float32 row sums) or ``LOSS_SKIP``.
        grad_scale: ``None`` for no gradient, else the factor on ``dL/dz`` (``1/B`` for
            batchmean, 1 otherwise).
        grad_output: ``[B, N]`` incoming gradient of a per-element loss, or ``None``.
        config: launch parameters (``None``: :func:`default_config` of ``N``).

    Returns:
        ``(loss, grad)``, each ``None`` when not requested; ``grad`` has the student's dtype.
    """
    rows, num_concepts = student.shape
    config = config or default_config(num_concepts)
    device = student.device
    per_row = _WORKSPACE_ARRAYS * num_concepts + 4 * plan.num_slots
    programs = _num_programs(device, rows, per_row, config)
    compute_grad = grad_scale is not None
    work = torch.empty((programs * config.rows, per_row), dtype=torch.float32, device=device)
    loss = None
    if loss_mode == LOSS_PER_ELEMENT:
        loss = torch.empty((rows, num_concepts), dtype=torch.float32, device=device)
    elif loss_mode == LOSS_PER_ROW:
        loss = torch.empty((rows,), dtype=torch.float32, device=device)
    grad = torch.empty_like(student) if compute_grad else None
    block_c = min(config.block_c, max(16, triton.next_power_of_2(num_concepts)))
    block_e = min(config.block_e, max(16, triton.next_power_of_2(plan.num_rdesc)))
    _hdl_chain_kernel[(programs,)](
        student, teacher,
        work if weights is None else weights,
        work if grad_output is None else grad_output,
        work if loss is None else loss,
        work if grad is None else grad,
        work,
        plan.order, plan.position, plan.base, plan.segment_start, plan.residual_t,
        plan.residual_count, plan.level_start, plan.rdesc_c, plan.rdesc_a, plan.rdesc_start,
        plan.has_rdesc, plan.slot,
        rows, num_concepts, plan.num_levels, plan.num_rdesc, plan.num_slots,
        1.0 / temperature, temperature * temperature,
        (grad_scale or 0.0) / temperature,
        HAS_WEIGHTS=weights is not None, HAS_GRAD_OUT=grad_output is not None,
        LOSS_MODE=loss_mode, COMPUTE_GRAD=compute_grad, ROWS=config.rows,
        BLOCK_C=block_c, BLOCK_E=block_e, num_warps=config.num_warps,
    )
    return loss, grad


# ----------------------------------------------------------------------------- autograd
class HDLTritonFunction(torch.autograd.Function):
    """Forward computes the loss and, for a scalar loss, the gradient in the same pass;
    backward then scales it in place. For ``"none"`` the backward reruns the kernel with the
    incoming per-element gradient."""

    @staticmethod
    def forward(ctx, student, teacher, ancestors, weights, temperature, reduction):
        plan = ancestors.chains
        ctx.plan, ctx.temperature, ctx.reduction = plan, temperature, reduction
        ctx.save_for_backward(student, teacher, weights)
        if reduction == "none":
            loss, _ = hdl_rows(student, teacher, plan, weights, temperature,
                               LOSS_PER_ELEMENT, None)
            return loss.to(student.dtype)
        ctx.row_scale = 1.0 / student.shape[0] if reduction == "batchmean" else 1.0
        row_loss, ctx.grad = hdl_rows(student, teacher, plan, weights, temperature,
                                      LOSS_PER_ROW,
                                      ctx.row_scale if ctx.needs_input_grad[0] else None)
        return (row_loss.sum() * ctx.row_scale).to(student.dtype)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_output):
        student, teacher, weights = ctx.saved_tensors
        if ctx.reduction == "none":
            _, grad = hdl_rows(student, teacher, ctx.plan, weights, ctx.temperature,
                               LOSS_SKIP, 1.0, grad_output.float().contiguous())
            return grad, None, None, None, None, None
        grad, ctx.grad = ctx.grad, None  # hand the buffer over: scaled in place, not copied
        if grad is None:  # a second backward through a retained graph: compute it again
            _, grad = hdl_rows(student, teacher, ctx.plan, weights, ctx.temperature,
                               LOSS_SKIP, ctx.row_scale)
        # loss * c, ...: scale (on a GPU always: checking for an incoming 1 would make the
        # host wait for the device)
        if grad.is_cuda or not torch.equal(grad_output, torch.ones_like(grad_output)):
            grad.mul_(grad_output.to(grad.dtype))
        return grad, None, None, None, None, None


def hdl_triton(
    student_logits: Tensor,
    teacher_logits: Tensor,
    ancestors: Tensor | AncestorPlan,
    weights: Tensor | None = None,
    temperature: float = 1.0,
    reduction: str = "batchmean",
) -> Tensor:
    """The HDL on the Triton kernel; same arguments, result and shapes as
    :func:`hacd_graph.distill.hdl_reference.hdl_reference`.

    Expects the checked, contiguous inputs that
    :func:`hacd_graph.distill.hierarchical_distillation_loss` passes (call that instead).
    float64 logits are computed in float32. Runs on CUDA tensors, and on CPU tensors when
    Triton's interpreter is on (``TRITON_INTERPRET=1`` when this module is imported).
    """
    return HDLTritonFunction.apply(student_logits, teacher_logits.detach(),
                                   as_plan(ancestors), weights, float(temperature), reduction)


def unavailable_reason(device: torch.device) -> str | None:
    """``None`` when the Triton backend can run on ``device``, otherwise why it cannot."""
    if device.type == "cuda":
        return None if torch.cuda.is_available() else "backend 'triton' needs a CUDA device"
    if device.type == "cpu":
        from triton.runtime.interpreter import InterpretedFunction

        if isinstance(_hdl_chain_kernel, InterpretedFunction):
            return None
        return ("backend 'triton' runs on CPU tensors only in Triton's interpreter "
                "(TRITON_INTERPRET=1 set before hacd_graph.distill.hdl_triton is imported)")
    return f"backend 'triton' does not run on {device.type} tensors"
