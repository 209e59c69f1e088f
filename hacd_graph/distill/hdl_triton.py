r"""The hierarchical distillation loss (HDL) as a fused Triton kernel.

Reads top to bottom: the maths, the element functions, the row kernel, the host side
(launcher) and the ``autograd.Function``. Same function as
:func:`hacd_graph.distill.hdl_reference.hdl_reference`; the public entry point is
:func:`hacd_graph.distill.hierarchical_distillation_loss` with ``backend="triton"``.

The maths, per row ``b`` (dropped below) with :math:`s_a = z_a / T`, :math:`t_a = y_a / T`:

.. math::

    \ell^s_c = \sum_{a \in A[c]} \log\sigma(s_a),\quad q_c = e^{\ell^s_c},\qquad
    \ell^t_c \text{ and } p_c \text{ likewise from } t

    L_c = T^2 w_c \big(p_c(\ell^t_c - \ell^s_c) + (1-p_c)(\log(1-p_c) - \log(1-q_c))\big)

    g_c = \partial L_c / \partial \ell^s_c = T^2 w_c\,(q_c - p_c) / (1 - q_c)

    \partial L / \partial z_a = \frac{1 - \sigma(s_a)}{T} \sum_{c:\, a \in A[c]} g_c

The sums over table rows and over descendants are not done entry by entry (``K`` gathers
per concept) but along the *chains* of :mod:`hacd_graph.distill.chain_plan`: a concept's
marginal is its base ancestor's plus its own term plus a few residual terms (about 1.1
gathers per concept on the benchmark's DAGs and on the ACH, against 9 to 16 table entries).

A program owns a block of ``ROWS`` rows at a time (a persistent grid walks the blocks), so
that every index it loads serves ``ROWS`` rows. Its float32 workspace holds three arrays of
``N x ROWS`` floats indexed by plan position, with the rows interleaved (so one gathered
index reads ``ROWS`` adjacent floats), plus the own terms of the few concepts that are
residuals of others. The transcendental functions run once per element:

- pass 0 (coalesced reads) computes the terms :math:`u_a = e^{60}\,\mathrm{softplus}(-s_a)`
  (``-e^60 log sigma``) of the student and the teacher and stores them at the concepts'
  positions;
- the forward walks the levels in order: :math:`U_c = u_c + U_{b(c)} + \sum_{R(c)} u_r`
  (loads and adds only; never a ``[B, N, K]`` tensor) overwrites :math:`u_c`, then
  ``L_c`` and ``g_c`` are computed once per concept;
- the backward walks the levels deepest first: the concepts sharing a base are contiguous,
  so a segmented scan adds their totals ``T`` into the base's (no atomics); then a second
  segmented scan over the residual entries sorted by ancestor adds the residual totals;
- pass C (coalesced) writes :math:`\partial L/\partial z_a = (1-\sigma(s_a))/T \cdot G_a`,
  reading the logit again (the workspace no longer holds the term).

Every ``N`` works (rows are chunked at all sizes, N = 100,000 included); the workspace is
``programs x ROWS x (3 N + 2 S)`` floats, capped at 512 MiB.

Numerics (float32 throughout, with no subnormals needed, so flush-to-zero is harmless):

- ``log1p`` on ``[-1/2, 1]`` is a short odd series in ``u = x / (2 + x)``, so the kernel
  uses only ``exp``, ``log`` and arithmetic and runs unchanged in the interpreter, which has
  no ``libdevice`` (``log1p``/``expm1``).
- The terms are scaled by :math:`e^{60}`: for :math:`s_a > 30`,
  :math:`u_a = e^{60 - s_a}` (``log1p(x) = x`` to float precision) stays a normal float up
  to :math:`s_a \approx 147`, and :math:`U = \sum_a u_a = e^{60} v` with
  :math:`v = -\ell^s` (a sum of positive terms, exact to rounding). :math:`\log(1-q)` is
  :math:`\log(-\mathrm{expm1}(-v))` with a series for small ``v`` and
  :math:`\log1p(-e^{-v})` for large ``v``; where :math:`v < 10^{-8}` (every ancestor
  saturated; :math:`1 - q` may be below float32 normals) it is :math:`\log U - 60`.
  :math:`\log(1-q)` is floored at ``-127`` (exact for ``|z/T| <= 127``).
- :math:`g_c` may be as large as :math:`e^{127}` while :math:`1-\sigma(s_a)` is as small
  as :math:`e^{-127}`; their product is at most :math:`T^2 w_c`. The workspace holds
  :math:`g_c e^{-56}` and the factor is :math:`(1 - \sigma(s_a)) e^{56}`, each computed
  without overflow (for :math:`s_a > 0` as :math:`u_a e^{-4} (1 - e^{-v_a}) / v_a`, a
  series); for :math:`q > 1/2`, :math:`(q-p)/(1-q) = e^{\log(1-p) - \log(1-q)} - 1`
  avoids :math:`1 - q` itself.
- NaN logits propagate to the loss and gradient of every concept below them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import triton
import triton.language as tl
from torch import Tensor

from hacd_graph.distill.chain_plan import ChainPlan, chain_plan

_SHIFT = tl.constexpr(60.0)  # the terms are u = e^60 softplus(-s)
_EXP_SHIFT = tl.constexpr(1.1420073898156842e26)  # e^60
_EXP_NEG_SHIFT = tl.constexpr(8.75651076269652e-27)  # e^-60
_EXTREME = tl.constexpr(30.0)  # above this, softplus(-s) = e^-s to float precision
_TINY_U = tl.constexpr(1e18)  # sum u below this: v < 1e-8 and log(1 - e^-v) = log v
_LOG_ONE_MINUS_FLOOR = tl.constexpr(-127.0)
_GRAD_SHIFT = tl.constexpr(56.0)  # workspace holds g e^-56, the factor is (1 - sigma) e^56
_EXP_GRAD_SHIFT = tl.constexpr(2.091659496012996e24)  # e^56
_EXP_NEG_GRAD_SHIFT = tl.constexpr(4.780892883885469e-25)  # e^-56
_EXP_GRAD_MINUS_SHIFT = tl.constexpr(0.01831563888873418)  # e^(56 - 60)
_LN2 = tl.constexpr(0.6931471805599453)

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
def _scaled_softplus_neg(s):
    # u = e^60 softplus(-s) = -e^60 log sigma(s), finite for -2.6e12 < s < 147. For s > 30
    # it is e^(60 - s) (log1p(x) = x there), which keeps sum_a u_a exact where the marginal
    # is within e^-30 of 1. One exp: its argument is shifted by 60 where |s| > 30.
    a = tl.abs(s)
    big = a > _EXTREME
    e = tl.exp(tl.where(big, _SHIFT - a, -a))
    x = tl.where(big, e * _EXP_NEG_SHIFT, e)  # e^-|s|
    sp = tl.maximum(-s, 0.0) + _log1p_series(x)
    return tl.where(s > _EXTREME, e, sp * _EXP_SHIFT)  # NaN stays NaN


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
def _log_one_minus_marginal(u_sum):
    # log(1 - e^-v) from u_sum = e^60 v, v = -log(marginal) = sum_a softplus(-s_a).
    v = u_sum * _EXP_NEG_SHIFT
    v_small = tl.minimum(v, _LN2)  # the series' domain (keeps the unused lanes finite)
    small_v = tl.log(v_small * _one_minus_exp_neg_over_v(v_small))  # v < ln 2: 1 - q <= 1/2
    large_v = _log1p_series(-tl.exp(-v))  # q < 1/2
    tiny = tl.log(u_sum) - _SHIFT  # v < 1e-8: log(1 - e^-v) = log v to float precision
    out = tl.where(v < _LN2, small_v, large_v)
    out = tl.where(u_sum < _TINY_U, tiny, out)
    return tl.where(out < _LOG_ONE_MINUS_FLOOR, _LOG_ONE_MINUS_FLOOR, out)  # NaN stays NaN


@triton.jit
def _scaled_one_minus_sigmoid(u):
    # (1 - sigma(s)) e^56 from u = e^60 softplus(-s), without overflow or underflow:
    # 1 - sigma(s) = 1 - e^-v with v = softplus(-s) = u e^-60.
    v = u * _EXP_NEG_SHIFT
    small_v = u * _one_minus_exp_neg_over_v(v) * _EXP_GRAD_MINUS_SHIFT  # s > 0
    large_v = (1.0 - tl.exp(-v)) * _EXP_GRAD_SHIFT  # s <= 0: 1 - sigma >= 1/2
    return tl.where(v < _LN2, small_v, large_v)


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
    # [ROWS, BLOCK]. Its workspace holds three arrays of N x ROWS floats indexed by plan
    # position, with the rows interleaved (element p of row r at p * ROWS + r, so one
    # gathered index reads ROWS adjacent floats), and two of num_slots x ROWS:
    #   work_s, work_t: the terms u_s, u_t, overwritten level by level with the chains'
    #       sums U_s, U_t; after the forward, work_t holds the residual-descendant sums G;
    #   work_g: g, then the totals T;
    #   slot_s, slot_t: the terms of the concepts that are residuals of others.
    # Workspace accesses are masked along the concepts only (rows past B hold values that
    # are never stored out).
    pid = tl.program_id(0)
    num_programs = tl.num_programs(0)
    offs_r = tl.arange(0, ROWS)
    offs_c = tl.arange(0, BLOCK_C)
    offs_e = tl.arange(0, BLOCK_E)
    stride = ROWS * (3 * N + 2 * num_slots)
    work_s = work_ptr + pid.to(tl.int64) * stride + offs_r[:, None]  # [ROWS, 1]
    work_t = work_s + ROWS * N
    work_g = work_s + 2 * ROWS * N
    slot_s = work_s + 3 * ROWS * N
    slot_t = slot_s + ROWS * num_slots
    for row0 in range(pid * ROWS, B, num_programs * ROWS):
        rows = row0 + offs_r
        row_ok = (rows < B)[:, None]  # [ROWS, 1]
        row_base = rows.to(tl.int64)[:, None] * N  # [ROWS, 1]
        # ---- pass 0 (coalesced reads): the terms u = e^60 softplus(-z/T), once per element,
        # stored at the concepts' positions
        for c0 in range(0, N, BLOCK_C):
            c = c0 + offs_c
            in_row = c < N
            tile = row_ok & in_row[None, :]
            s = tl.load(student_ptr + row_base + c[None, :], mask=tile, other=0.0,
                        eviction_policy="evict_first").to(tl.float32) * inv_t
            t = tl.load(teacher_ptr + row_base + c[None, :], mask=tile, other=0.0,
                        eviction_policy="evict_first").to(tl.float32) * inv_t
            u_s = _scaled_softplus_neg(s)
            u_t = _scaled_softplus_neg(t)
            pos = tl.load(position_ptr + c, mask=in_row, other=0)[None, :] * ROWS
            tl.store(work_s + pos, u_s, mask=in_row[None, :])
            tl.store(work_t + pos, u_t, mask=in_row[None, :])
            slot = tl.load(slot_ptr + c, mask=in_row, other=-1)[None, :]
            tl.store(slot_s + slot * ROWS, u_s, mask=slot >= 0)
            tl.store(slot_t + slot * ROWS, u_t, mask=slot >= 0)
        tl.debug_barrier()  # the terms are complete
        # ---- forward, level by level: U = u + U[base] + residual terms; loss and g
        row_loss = tl.zeros((ROWS, BLOCK_C), tl.float32)
        for level in range(0, num_levels):
            lo = tl.load(level_start_ptr + level)
            hi = tl.load(level_start_ptr + level + 1)
            for p0 in range(lo, hi, BLOCK_C):
                p = p0 + offs_c
                in_level = p < hi
                at = in_level[None, :]
                tile = row_ok & at
                cpt = tl.load(order_ptr + p, mask=in_level, other=0)
                base = tl.load(base_ptr + p, mask=in_level, other=-1)
                has_base = (base >= 0)[None, :]
                u_s = tl.load(work_s + p[None, :] * ROWS, mask=at, other=0.0)  # e^60 (-ls)
                u_t = tl.load(work_t + p[None, :] * ROWS, mask=at, other=0.0)  # e^60 (-lt)
                u_s += tl.load(work_s + base[None, :] * ROWS, mask=has_base, other=0.0)
                u_t += tl.load(work_t + base[None, :] * ROWS, mask=has_base, other=0.0)
                count = tl.load(residual_count_ptr + p, mask=in_level, other=0)
                for k in range(0, tl.max(count, axis=0)):
                    entry = tl.load(residual_ptr + k * N + p, mask=k < count, other=-1)
                    valid = (entry >= 0)[None, :]
                    u_s += tl.load(slot_s + entry[None, :] * ROWS, mask=valid, other=0.0)
                    u_t += tl.load(slot_t + entry[None, :] * ROWS, mask=valid, other=0.0)
                tl.store(work_s + p[None, :] * ROWS, u_s, mask=at)  # the terms become sums
                tl.store(work_t + p[None, :] * ROWS, u_t, mask=at)
                ls = -(u_s * _EXP_NEG_SHIFT)
                lt = -(u_t * _EXP_NEG_SHIFT)
                log1m_q = _log_one_minus_marginal(u_s)
                log1m_p = _log_one_minus_marginal(u_t)
                q = tl.exp(ls)
                p_t = tl.exp(lt)
                one_minus_p = tl.exp(log1m_p)
                scale = tl.full((1, BLOCK_C), 1.0, tl.float32) * t_sq
                if HAS_WEIGHTS:
                    w = tl.load(weights_ptr + cpt, mask=in_level, other=0.0).to(tl.float32)
                    scale = scale * w[None, :]
                if LOSS_MODE != 2:
                    first = tl.where(p_t == 0.0, 0.0, p_t * (lt - ls))  # 0 log 0 = 0; NaN stays
                    loss = scale * (first + one_minus_p * (log1m_p - log1m_q))
                    loss = tl.where(tile, loss, 0.0)
                    if LOSS_MODE == 0:
                        tl.store(loss_ptr + row_base + cpt[None, :], loss, mask=tile)
                    else:
                        row_loss += loss
                if COMPUTE_GRAD:
                    # g e^-56, g = (q - p) / (1 - q); for q > 1/2 as e^(log(1-p) - log(1-q)) - 1
                    d = log1m_p - log1m_q
                    above = d > _GRAD_SHIFT
                    ratio_big = tl.where(above, tl.exp(d - _GRAD_SHIFT),
                                         tl.exp(tl.where(above, 0.0, d)) * _EXP_NEG_GRAD_SHIFT)
                    ratio_big = ratio_big - _EXP_NEG_GRAD_SHIFT
                    ratio_small = (q - p_t) / (1.0 - q) * _EXP_NEG_GRAD_SHIFT
                    g = scale * tl.where(ls > -_LN2, ratio_big, ratio_small)
                    if HAS_GRAD_OUT:
                        g = g * tl.load(grad_out_ptr + row_base + cpt[None, :], mask=tile,
                                        other=0.0).to(tl.float32)
                    tl.store(work_g + p[None, :] * ROWS, g, mask=at)
            tl.debug_barrier()  # this level's U is complete for the next
        if LOSS_MODE == 1:
            tl.store(loss_ptr + rows, tl.sum(row_loss, axis=1), mask=rows < B)
        if COMPUTE_GRAD:
            # ---- backward down the chains, deepest level first: T[base] += sum of the T of
            # the concepts sharing that base (contiguous: a segmented scan, no atomics)
            for step in range(1, num_levels):
                level = num_levels - step
                lo = tl.load(level_start_ptr + level)
                hi = tl.load(level_start_ptr + level + 1)
                carry = tl.zeros((ROWS,), tl.float32)
                for p0 in range(lo, hi, BLOCK_C):
                    p = p0 + offs_c
                    in_level = p < hi
                    vals = tl.load(work_g + p[None, :] * ROWS, mask=in_level[None, :],
                                   other=0.0)
                    start = tl.load(segment_start_ptr + p, mask=in_level, other=1).to(tl.int32)
                    last = tl.load(segment_start_ptr + p + 1, mask=(p + 1) < hi, other=1) != 0
                    done = (in_level & last)[None, :]
                    base = tl.load(base_ptr + p, mask=in_level & last, other=0)
                    sums, carry = _segmented_sums(vals, start, carry, offs_c, ROWS, BLOCK_C)
                    own = tl.load(work_g + base[None, :] * ROWS, mask=done, other=0.0)
                    tl.store(work_g + base[None, :] * ROWS, own + sums, mask=done)
                tl.debug_barrier()  # the level above is complete
            # ---- residual descendants: G[a] = T[a] + sum of T[c] over the c with a in R(c),
            # written over U_t (no longer read)
            carry = tl.zeros((ROWS,), tl.float32)
            for e0 in range(0, num_rdesc, BLOCK_E):
                e = e0 + offs_e
                in_list = e < num_rdesc
                entry = tl.load(rdesc_c_ptr + e, mask=in_list, other=0)
                vals = tl.load(work_g + entry[None, :] * ROWS, mask=in_list[None, :], other=0.0)
                start = tl.load(rdesc_start_ptr + e, mask=in_list, other=1).to(tl.int32)
                last = tl.load(rdesc_start_ptr + e + 1, mask=(e + 1) < num_rdesc, other=1) != 0
                done = (in_list & last)[None, :]
                target = tl.load(rdesc_a_ptr + e, mask=in_list & last, other=0)
                sums, carry = _segmented_sums(vals, start, carry, offs_e, ROWS, BLOCK_E)
                own = tl.load(work_g + target[None, :] * ROWS, mask=done, other=0.0)
                tl.store(work_t + target[None, :] * ROWS, own + sums, mask=done)
            tl.debug_barrier()  # G is complete
            # ---- pass C (coalesced): dz_a = (1 - sigma(s_a)) / T * G_a, the term recomputed
            # from the logit (the workspace holds sums by now)
            for c0 in range(0, N, BLOCK_C):
                c = c0 + offs_c
                in_row = c < N
                tile = row_ok & in_row[None, :]
                s = tl.load(student_ptr + row_base + c[None, :], mask=tile, other=0.0,
                            eviction_policy="evict_first").to(tl.float32) * inv_t
                pos = tl.load(position_ptr + c, mask=in_row, other=0)[None, :] * ROWS
                has_extra = (tl.load(has_rdesc_ptr + c, mask=in_row, other=0) != 0)[None, :]
                total = tl.load(work_g + pos, mask=in_row[None, :] & ~has_extra, other=0.0)
                total += tl.load(work_t + pos, mask=has_extra, other=0.0)
                dz = _scaled_one_minus_sigmoid(_scaled_softplus_neg(s)) * total * grad_scale
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
_WORKSPACE_ARRAYS = 3  # U_s, U_t, g by position, plus the slots (see the kernel)


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
    per_row = _WORKSPACE_ARRAYS * num_concepts + 2 * plan.num_slots
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
        plan = chain_plan(ancestors)
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
    ancestors: Tensor,
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
    return HDLTritonFunction.apply(student_logits, teacher_logits.detach(), ancestors,
                                   weights, float(temperature), reduction)


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
