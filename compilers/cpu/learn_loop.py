"""The cpu step loop of float builds with learning: one jitted loop per instance.

Per step, in Lava's order: deliver (ring slot ``t``) -> neuron update -> gate and third
factor -> record -> scatter this step's spikes and graded values (arrive at ``t + 1 +
delay``) with the weights of this step -> update traces -> apply the learning rules
(learning epoch of one step, Lava's ``lrn_guard`` every step).

Arguments are grouped in named tuples (:mod:`compilers.cpu.learn_layout` builds them):
``net`` (static structure), ``rules`` (plastic projections and their sum-of-products terms),
``st`` (state carried between calls: u, v, delivery ring, traces, weights) and ``rec``
(what to record). ``reset_every`` zeroes u and v at the start of each sample (Lava's
``LIFReset`` with ``reset_interval = reset_every``, ``reset_offset = 1``). State and weights are updated in place, so a run can be continued: two
calls of 500 steps give exactly the state of one call of 1000 steps.

Neuron kinds: 0 = LIF (``PyLifModelFloat`` / ``PyLifRefractoryModelFloat`` arithmetic),
1 = graded relay (emits its summed input as a graded spike each step it is non-zero; the
error and bottleneck populations of the feedback-alignment family). Ports: 0 = current
(``a_in``), 1 = third factor (kept apart from the membrane, like an apical dendrite).
"""
from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import overload

from .engine import CACHE

KIND_LIF, KIND_GRADED = 0, 1
DEP_U, DEP_X0, DEP_Y0 = 0, 1, 2
N_FACTORS = 6                      # x1, x2, y1, y2, y3, w


@njit(cache=CACHE, inline="always")
def _power(x, k):
    out = 1.0
    for _ in range(k):
        out *= x
    return out


MAX_UV = 1 << 23
TWO_UV = 1 << 24
VMAX = MAX_UV - 1


@njit(cache=CACHE, inline="always")
def _wrap32(x):
    """Two's-complement wrap to the int32 range (an int32 port channel), kept in int64."""
    return ((x + 0x80000000) & 0xFFFFFFFF) - 0x80000000


def lif_step(b, i, bp, t, a, u, v, net, st):
    """One LIF step of neuron i; the arithmetic is chosen by the state's dtype at compile
    time (integer: bit-accurate, float: Lava's float model). Returns whether it spiked."""


@overload(lif_step, jit_options={"cache": CACHE})
def _lif_step_overload(b, i, bp, t, a, u, v, net, st):
    if isinstance(u.dtype, types.Integer):
        return lambda b, i, bp, t, a, u, v, net, st: _lif_fixed(i, bp, a, u, v, net)
    return lambda b, i, bp, t, a, u, v, net, st: _lif_float(b, i, bp, t, a, u, v, net, st)


def payload(a):
    """A graded neuron's output: its input, wrapped to 32 bits in fixed point."""


@overload(payload, jit_options={"cache": CACHE})
def _payload_overload(a):
    if isinstance(a, types.Integer):
        return lambda a: _wrap32(a)
    return lambda a: a


def floor_shift(c, shift):
    """Lava's ``weight_exp < 0``: arithmetic right shift of a summed activation (integers
    only; float builds never shift)."""


@overload(floor_shift, jit_options={"cache": CACHE})
def _floor_shift_overload(c, shift):
    if isinstance(c, types.Integer):
        return lambda c, shift: c >> shift
    return lambda c, shift: c


@njit(cache=CACHE, inline="always")
def _lif_fixed(i, bp, a, u, v, net):
    """One ``PyLifModelBitAcc`` step of neuron i (constants from the build's neuron_model:
    ``net.fx`` = decay bits, activation shift, du offset, dv offset)."""
    unity = 1 << net.fx[0]
    p = u[i] * (unity - (net.du[bp, i] + net.fx[2]))
    q = np.abs(p) >> net.fx[0]
    x = _wrap32((-q if p < 0 else q) + (_wrap32(a) << net.fx[1]))
    x = x - TWO_UV if x > MAX_UV else x
    x = x + TWO_UV if x <= -MAX_UV else x
    u[i] = x
    p = v[i] * (unity - (net.dv[bp, i] + net.fx[3]))
    q = np.abs(p) >> net.fx[0]
    y = _wrap32((-q if p < 0 else q) + x + net.bias[bp, i])
    y = min(max(y, -VMAX), VMAX)
    f = y > net.vth[bp, i]
    v[i] = 0 if f else y
    return f


@njit(cache=CACHE, inline="always")
def _lif_float(b, i, bp, t, a, u, v, net, st):
    """One ``PyLifModelFloat`` (``PyLifRefractoryModelFloat`` when refr > 0) step."""
    x = u[i] * (1.0 - net.du[bp, i]) + a
    u[i] = x
    if net.refr[i] == 0:
        y = v[i] * (1.0 - net.dv[bp, i]) + x + net.bias[bp, i]
    elif st.refr_end[b, i] < t + 1:
        y = v[i] * (1.0 - net.dv[bp, i]) + (x + net.bias[bp, i])
    else:
        y = v[i]
    f = y > net.vth[bp, i]
    if f:
        y = 0.0
        if net.refr[i] != 0:
            st.refr_end[b, i] = t + 1 + net.refr[i]
    v[i] = y
    return f


@njit(cache=CACHE, nogil=True)
def _reset_instance(b, st):
    """Sample boundary, as Lava's ``LIFReset``: u and v of every neuron are zeroed at the
    start of the step; activations in flight and learning traces are kept."""
    st.u[b, :] = 0
    st.v[b, :] = 0


@njit(cache=CACHE, nogil=True)
def run_instance(b, t0, steps, src, net, rules, st, rec, learn, reset_every):
    """Simulate instance ``b`` from global step ``t0`` for ``steps`` steps.

    src [Bi, steps, n_src] uint8 (step ``t`` of this call is row ``t``). ``reset_every`` > 0
    resets the instance at every multiple of it (sample boundaries). Returns nothing; state,
    weights and recorders are updated in place."""
    n_src = net.n_src
    n = net.kind.shape[0]
    depth = st.ring.shape[1]
    bi = b if src.shape[0] > 1 else 0
    bp = b if net.du.shape[0] > 1 else 0
    bw = b if st.w.shape[0] > 1 else 0
    bg = b if rules.gain.shape[0] > 1 else 0
    n_proj = net.p_pre0.shape[0]
    n_rules = rules.q_proj.shape[0]
    u = st.u[b]
    v = st.v[b]
    ring = st.ring[b]
    w = st.w[bw]
    emit = np.zeros(n_src + n, ring.dtype)
    spiked = np.zeros(n, np.uint8)
    fired = np.empty(n_src + n, np.int64)
    third = np.zeros(n, ring.dtype)
    acc = st.acc[b]
    n_rec = rec.idx.shape[0]
    n_cnt = rec.count_hi - rec.count_lo
    for tt in range(steps):
        t = t0 + tt
        if reset_every > 0 and t % reset_every == 0:
            _reset_instance(b, st)
        slot = t % depth
        # ---- neuron update (current port) and third factor (port 1)
        for i in range(n):
            a = ring[slot, 0, i]
            tf = ring[slot, 1, i]
            ring[slot, 0, i] = 0
            ring[slot, 1, i] = 0
            if net.kind[i] == KIND_GRADED:
                spiked[i] = 0
                emit[n_src + i] = payload(a)
                third[i] = 0
                continue
            f = lif_step(b, i, bp, t, a, u, v, net, st)
            if f:
                st.since[b, i] = 0
            elif st.since[b, i] < (1 << 30):
                st.since[b, i] += 1
            spiked[i] = 1 if f else 0
            emit[n_src + i] = 1 if f else 0
            gate = net.gate_win[i] == 0 or st.since[b, i] < net.gate_win[i]
            third[i] = tf if gate else 0
        for j in range(n_src):
            emit[j] = 1 if src[bi, tt, j] != 0 else 0
        # ---- record
        if tt < rec.spikes.shape[1]:
            for r in range(n_rec):
                rec.spikes[b, tt, r] = emit[rec.idx[r]] != 0
        if n_cnt > 0:
            win = t // rec.window
            if win < rec.counts.shape[1]:
                for i in range(rec.count_lo, rec.count_hi):
                    rec.counts[b, win, i - rec.count_lo] += spiked[i]
        for i in range(n):
            rec.total[b, i] += spiked[i]
        if rec.v.shape[2] > 0 and tt < rec.v.shape[1]:
            for r in range(rec.v_idx.shape[0]):
                rec.v[b, tt, r] = v[rec.v_idx[r]]
        # ---- scatter (weights of this step), event-driven over the emitters
        nf = 0
        for e in range(n_src + n):
            if emit[e] != 0:
                fired[nf] = e
                nf += 1
        for p in range(n_proj):
            lo = np.searchsorted(fired[:nf], net.p_pre0[p])
            hi = np.searchsorted(fired[:nf], net.p_pre0[p] + net.p_npre[p])
            port = net.p_port[p]
            post0 = net.p_post0[p]
            ind0 = net.p_ind0[p]
            syn0 = net.p_syn0[p]
            shift = net.p_shift[p]
            a0 = net.p_acc0[p]
            npost = net.p_npost[p]
            for m in range(lo, hi):
                e = fired[m]
                val = emit[e]
                j = e - net.p_pre0[p]
                k0 = net.indptr[ind0 + j]
                k1 = net.indptr[ind0 + j + 1]
                rec.synops[b] += k1 - k0
                for k in range(k0, k1):
                    s = syn0 + k
                    if shift > 0:
                        acc[a0 + net.delay[s] * npost + net.post[s]] += w[s] * val
                    else:
                        sl = (t + 1 + net.delay[s]) % depth
                        ring[sl, port, post0 + net.post[s]] += w[s] * val
            if shift > 0 and hi > lo:
                # weight_exp < 0: floor shift of each (delay, post) sum of this step (Lava)
                for d in range(net.p_ndelay[p]):
                    sl = (t + 1 + d) % depth
                    for i in range(npost):
                        c = acc[a0 + d * npost + i]
                        if c != 0:
                            ring[sl, port, post0 + i] += floor_shift(c, shift)
                            acc[a0 + d * npost + i] = 0
        # ---- traces and learning (epoch of one step)
        if learn:
            for q in range(n_rules):
                if not rules.active[q]:
                    continue
                p = rules.q_proj[q]
                pre0 = net.p_pre0[p]
                npre = net.p_npre[p]
                x0 = rules.q_xoff[q]
                for j in range(npre):
                    val = emit[pre0 + j]
                    for c in range(2):
                        xv = st.xtr[b, c, x0 + j] * rules.q_xdec[q, c]
                        if val != 0:
                            xv += rules.q_ximp[q, c] * val
                        st.xtr[b, c, x0 + j] = xv
                post0 = net.p_post0[p]
                y0 = rules.q_yoff[q]
                for i in range(net.p_npost[p]):
                    yv = st.ytr[b, y0 + i] * rules.q_ydec[q]
                    if spiked[post0 + i]:
                        yv += rules.q_yimp[q]
                    st.ytr[b, y0 + i] = yv
                if rules.q_post_driven[q]:
                    _learn_post_driven(b, q, p, net, rules, st, w, emit, spiked, third, bg)
                else:
                    _learn_projection(b, q, p, net, rules, st, w, emit, spiked, third, bg)
        for i in range(n):
            emit[n_src + i] = 0


@njit(cache=CACHE, inline="always")
def _dw(rules, t_lo, t_hi, x_dep, y_dep, x1, x2, y1, y2, y3, wv):
    """dw = sum over terms of coef * dependency * x1^a x2^b y1^c y2^d y3^e w^f."""
    dw = 0.0
    for tm in range(t_lo, t_hi):
        dep = rules.t_dep[tm]
        if dep == DEP_X0 and not x_dep:
            continue
        if dep == DEP_Y0 and not y_dep:
            continue
        pw = rules.t_pow[tm]
        val = rules.t_coef[tm]
        if pw[0]:
            val *= _power(x1, pw[0])
        if pw[1]:
            val *= _power(x2, pw[1])
        if pw[2]:
            val *= _power(y1, pw[2])
        if pw[3]:
            val *= _power(y2, pw[3])
        if pw[4]:
            val *= _power(y3, pw[4])
        if pw[5]:
            val *= _power(wv, pw[5])
        dw += val
    return dw


@njit(cache=CACHE, inline="always")
def _apply(w, s, dw, gain, lo_w, hi_w):
    nw = w[s] + dw * gain
    if nw < lo_w:
        nw = lo_w
    elif nw > hi_w:
        nw = hi_w
    w[s] = nw


@njit(cache=CACHE, nogil=True)
def _learn_post_driven(b, q, p, net, rules, st, w, emit, spiked, third, bg):
    """Rules whose every term needs the third factor: visit only the synapses of post
    neurons with a non-zero third factor this step (the index by post neuron)."""
    pre0 = net.p_pre0[p]
    post0 = net.p_post0[p]
    syn0 = net.p_syn0[p]
    pind0 = net.p_pind0[p]
    x0 = rules.q_xoff[q]
    y0 = rules.q_yoff[q]
    t_lo = rules.q_t0[q]
    t_hi = rules.q_t0[q + 1]
    for i in range(net.p_npost[p]):
        tf = third[post0 + i]
        if tf == 0.0:
            continue
        y2 = tf if tf > 0.0 else 0.0
        y3 = -tf if tf < 0.0 else 0.0
        y1 = st.ytr[b, y0 + i]
        y_dep = spiked[post0 + i] != 0
        for m in range(net.pptr[pind0 + i], net.pptr[pind0 + i + 1]):
            s = syn0 + net.pidx[syn0 + m]
            j = net.pre[s]
            dw = _dw(rules, t_lo, t_hi, emit[pre0 + j] != 0.0, y_dep, st.xtr[b, 0, x0 + j],
                     st.xtr[b, 1, x0 + j], y1, y2, y3, w[s])
            if dw != 0.0:
                _apply(w, s, dw, rules.gain[bg, s], rules.q_wmin[q], rules.q_wmax[q])


@njit(cache=CACHE, nogil=True)
def _learn_projection(b, q, p, net, rules, st, w, emit, spiked, third, bg):
    """Every synapse of a plastic projection, in presynaptic order."""
    pre0 = net.p_pre0[p]
    post0 = net.p_post0[p]
    ind0 = net.p_ind0[p]
    syn0 = net.p_syn0[p]
    x0 = rules.q_xoff[q]
    y0 = rules.q_yoff[q]
    t_lo = rules.q_t0[q]
    t_hi = rules.q_t0[q + 1]
    lo_w = rules.q_wmin[q]
    hi_w = rules.q_wmax[q]
    for j in range(net.p_npre[p]):
        x_dep = emit[pre0 + j] != 0.0
        x1 = st.xtr[b, 0, x0 + j]
        x2 = st.xtr[b, 1, x0 + j]
        for k in range(net.indptr[ind0 + j], net.indptr[ind0 + j + 1]):
            s = syn0 + k
            i = net.post[s]
            y_dep = spiked[post0 + i] != 0
            y1 = st.ytr[b, y0 + i]
            tf = third[post0 + i]
            y2 = tf if tf > 0.0 else 0.0
            y3 = -tf if tf < 0.0 else 0.0
            dw = _dw(rules, t_lo, t_hi, x_dep, y_dep, x1, x2, y1, y2, y3, w[s])
            if dw != 0.0:
                _apply(w, s, dw, rules.gain[bg, s], lo_w, hi_w)
