"""Fixed-point learning on the cpu, the weight half: Lava's accumulator for every synapse
a rule touches in one learning epoch, bit for bit (:mod:`.fixed_learning` updates the
traces and calls :func:`update_weights`).

Each term's integer product is split into a presynaptic part (its x factors) and a
postsynaptic part (its y factors) computed once per neuron and step; integer products are
exact, so the split changes no bit. A term on one side only is finished there (mantissa,
shift to 15 bits, exponent, saturation); a term reading w or both sides is finished per
synapse. Rules of at most two one-sided terms (STDP) are swept with a branch-free inner
loop when most synapses are touched.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from neurodeploy.jit import CACHE

#: columns of the term table: which side finishes the product (1: pre, 2: post, 0: per
#: synapse), dependency, mantissa, s_exp, power of w, summed factor widths + 4
SIDE, DEP, MANT, SEXP, WPOW, WIDTH = range(6)

WIDTHS = np.array([7, 7, 7, 7, 7, 9], np.int64)     # x1 x2 y1 y2 y3 w (Lava's FACTOR widths)
ACC_MAX = (1 << 15) - 1
ACC_MIN = -(1 << 15) - 1
ACC_SHIFT = 7

def term_row(dep: int, pw: list[int], mant: int, s_exp: int) -> list[int]:
    """A term's row of the term table (see ``FixedTables``)."""
    has_x, has_y = pw[0] + pw[1] > 0, pw[2] + pw[3] + pw[4] > 0
    side = 0 if pw[5] > 0 or (has_x and has_y) else (2 if has_y else 1)
    width = 4 + sum(int(p) * int(wd) for p, wd in zip(pw, WIDTHS))
    row = [0] * 6
    row[SIDE], row[DEP], row[MANT], row[SEXP], row[WPOW], row[WIDTH] = (side, dep, mant, s_exp,
                                                                         pw[5], width)
    return row

@njit(cache=CACHE, inline="always")
def _clip(v, lo, hi):
    return min(max(v, lo), hi)


@njit(cache=CACHE, inline="always")
def _clipped(val, f):
    lim = np.int64(1) << WIDTHS[f]
    return _clip(np.int64(val), -lim, lim - 1)


@njit(cache=CACHE, nogil=True)
def term_parts(q, fx, x, y, y23, tt, pre_part, post_part):
    """Each term's product split by what it depends on (integer products are exact, so the
    split changes no bit): ``pre_part[u, j]`` the clipped x factors of pre neuron j,
    ``post_part[u, i]`` the clipped y factors of post neuron i. A term whose factors lie on
    one side only (no w) gets its finished, saturated product there (``tt[u, SIDE]`` 1:
    pre, 2: post); side 0 terms are finished per synapse (:func:`_product`). ``tt``: the
    rule's rows of the term table."""
    for u in range(tt.shape[0]):
        tm = fx.q_t0[q] + u
        side = tt[u, SIDE]
        for j in range(x.shape[1]):
            v = np.int64(1)
            for f in range(2):
                for _ in range(fx.t_pow[tm, f]):
                    v *= _clipped(x[f, j], f)
            pre_part[u, j] = _finish(v, tt, u) if side == 1 else v
        for i in range(y.shape[0]):
            v = np.int64(1)
            for _ in range(fx.t_pow[tm, 2]):
                v *= _clipped(y[i], 2)
            for f in range(3, 5):
                for _ in range(fx.t_pow[tm, f]):
                    v *= _clipped(y23[f - 3, i], f)
            post_part[u, i] = _finish(v, tt, u) if side == 2 else v


@njit(cache=CACHE, inline="always")
def _finish(cur, tt, u):
    """Term u's mantissa, shift to 15 bits, constant's exponent and saturation (Lava's order)."""
    cur *= tt[u, MANT]
    if tt[u, WIDTH] > 15:
        cur >>= tt[u, WIDTH] - 15
    cur <<= tt[u, SEXP]
    return _clip(cur, ACC_MIN, ACC_MAX)


@njit(cache=CACHE)
def _product(u, wr, j, i, tt, pre_part, post_part):
    """Term u's saturated product at synapse (j, i) with weight register wr (a side 0 term:
    kept out of line so the one-sided terms' loop stays tight)."""
    cur = pre_part[u, j] * post_part[u, i]
    for _ in range(tt[u, WPOW]):
        cur *= _clipped(wr, 5)
    return _finish(cur, tt, u)


@njit(cache=CACHE, inline="always")
def _new_weight(wr, j, i, xs, ys, tt, pre_part, post_part, sign, up):
    """The weight register after one epoch: Lava's accumulator, rounding and saturation
    (``up``: the largest 7-bit remainder that does not round up this step)."""
    acc = wr << ACC_SHIFT
    for u in range(tt.shape[0]):
        dep = tt[u, DEP]
        if (dep == 1 and not xs) or (dep == 2 and not ys):
            continue                        # the product is 0: acc + 0 stays in range
        side = tt[u, SIDE]
        if side == 1:
            cur = pre_part[u, j]
        elif side == 2:
            cur = post_part[u, i]
        else:
            cur = _product(u, wr, j, i, tt, pre_part, post_part)
        acc = _clip(acc + cur, ACC_MIN, ACC_MAX)
    return _register(acc, sign, up)


@njit(cache=CACHE, inline="always")
def _register(acc, sign, up):
    """The accumulator clamped by the sign mode, rounded to a register and saturated."""
    if sign == 2 and acc < 0:
        acc = 0
    elif sign == 3 and acc > 0:
        acc = 0
    # Lava: v = acc / 128, floor(v) + [r < v - floor(v)]; exact in integers
    nw = (acc >> ACC_SHIFT) + (1 if (acc & 127) > up else 0)
    if sign == 1:
        return _clip(nw, -256, 255)
    if sign == 2:
        return _clip(nw, 0, 255)
    return _clip(nw, -255, 0)

@njit(cache=CACHE, inline="always")
def _one_sided(tt):
    """At most two terms (STDP's pair), each finished per neuron (none reads w or both x and
    y): :func:`_sweep_one_sided` applies."""
    if tt.shape[0] > 2:
        return False
    for u in range(tt.shape[0]):
        if tt[u, SIDE] == 0:
            return False
    return True


@njit(cache=CACHE, nogil=True)
def _sweep_one_sided(pre_spk, post_spk, tt, pre_part, post_part, w, indptr, post, shift_w,
                     sign, up, event):
    """Every synapse, in presynaptic order, for up to two one-sided terms: term u adds
    ``a[j, u] * b[i, u]`` with the finished product on one side and the dependency gate
    (0 / 1) on the other, so the inner loop has no branches and no loop on the terms (a
    one-term rule's second adds 0; a loop over terms here halves the speed). With ``event``
    (every term gated by a spike) a synapse whose neurons did not spike keeps its weight
    (a select, not a branch), as in :func:`update_weights`'s other paths."""
    nt = tt.shape[0]
    a = np.zeros((pre_spk.shape[0], max(nt, 2)), np.int64)     # a one-term rule adds 0
    b = np.zeros((post_spk.shape[0], max(nt, 2)), np.int64)    # (acc stays in range)
    for u in range(nt):
        dep, one = tt[u, DEP], tt[u, SIDE] == 1
        for j in range(a.shape[0]):
            gate = 0 if dep == 1 and pre_spk[j] == 0 else 1
            a[j, u] = gate * pre_part[u, j] if one else gate
        for i in range(b.shape[0]):
            gate = 0 if dep == 2 and post_spk[i] == 0 else 1
            b[i, u] = gate if one else gate * post_part[u, i]
    for j in range(a.shape[0]):
        row = not event or pre_spk[j] != 0
        for s in range(indptr[j], indptr[j + 1]):
            i = post[s]
            old = w[s]
            acc = (np.int64(old) >> shift_w) << ACC_SHIFT
            acc = _clip(acc + a[j, 0] * b[i, 0], ACC_MIN, ACC_MAX)
            acc = _clip(acc + a[j, 1] * b[i, 1], ACC_MIN, ACC_MAX)
            nw = _register(acc, sign, up) << shift_w
            w[s] = nw if row or post_spk[i] != 0 else old     # untouched: kept as is


@njit(cache=CACHE, nogil=True)
def update_weights(pre_spk, post_spk, tt, pre_part, post_part, w, indptr, post, pre, pptr, pidx,
             shift_w, sign, up):
    """Write the new weights of the synapses some term touches this step: one pass in
    presynaptic order when many are touched (sequential memory), else the synapses of the
    neurons that spiked, each once (see :func:`step`)."""
    npre = pre_spk.shape[0]
    event = True
    for u in range(tt.shape[0]):
        if tt[u, DEP] == 0:
            event = False
    fan = 0
    if event:
        for j in range(npre):
            if pre_spk[j] != 0:
                fan += indptr[j + 1] - indptr[j]
        for i in range(post_spk.shape[0]):
            if post_spk[i] != 0:
                fan += pptr[i + 1] - pptr[i]
    if not event or 3 * fan > post.shape[0]:
        if _one_sided(tt):
            _sweep_one_sided(pre_spk, post_spk, tt, pre_part, post_part, w, indptr, post,
                             shift_w, sign, up, event)
            return
        for j in range(npre):
            xs = pre_spk[j] != 0
            for s in range(indptr[j], indptr[j + 1]):
                i = post[s]
                ys = post_spk[i] != 0
                if event and not xs and not ys:
                    continue                # no term touches it: the weight stays exact
                wr = np.int64(w[s]) >> shift_w
                w[s] = _new_weight(wr, j, i, xs, ys, tt, pre_part, post_part, sign,
                                   up) << shift_w
        return
    for j in range(npre):
        if pre_spk[j] == 0:
            continue
        for s in range(indptr[j], indptr[j + 1]):
            i = post[s]
            wr = np.int64(w[s]) >> shift_w
            w[s] = _new_weight(wr, j, i, True, post_spk[i] != 0, tt, pre_part,
                               post_part, sign, up) << shift_w
    for i in range(post_spk.shape[0]):
        if post_spk[i] == 0:
            continue
        for m in range(pptr[i], pptr[i + 1]):
            s = pidx[m]
            j = pre[s]
            if pre_spk[j] != 0:
                continue                    # done with the presynaptic neuron's synapses
            wr = np.int64(w[s]) >> shift_w
            w[s] = _new_weight(wr, j, i, False, True, tt, pre_part, post_part, sign,
                               up) << shift_w
