"""The cpu step loop with learning (fixed and float builds): one jitted loop per instance.

Per step, in Lava's order: deliver (ring slot ``t``) -> neuron update -> gate and third
factor -> record -> scatter this step's spikes and graded values (arrive at ``t + 1 +
delay``) with the weights of this step -> update traces -> apply the rules whose learning
epoch ends at this step (fixed-point rules: Lava's bit-approximate engine,
:mod:`compilers.cpu.fixed_learning`).

Arguments are grouped in named tuples (:mod:`compilers.cpu.learn_layout` builds them):
``net`` (static structure), ``rules`` (plastic projections and their sum-of-products terms),
``st`` (state carried between calls: u, v, delivery ring, traces, weights) and ``rec``
(what to record). ``reset_every`` zeroes u and v at the start of each sample (Lava's
``LIFReset`` with ``reset_interval = reset_every``, ``reset_offset = 1``). State and
weights are updated in place, so a run can be continued: two calls of 500 steps give
exactly the state of one call of 1000 steps.

Neuron kinds: 0 = LIF (``PyLifModelFloat`` / ``PyLifRefractoryModelFloat`` arithmetic),
1 = graded relay (emits its summed input as a graded spike each step it is non-zero; the
error and bottleneck populations of the feedback-alignment family). Ports: 0 = current
(``a_in``), 1 = third factor (kept apart from the membrane, like an apical dendrite). A
neuron sums its gated third-factor input over its learning epoch (``net.epoch``, the epoch
of the rules it is post of); rules see that sum as y2 - y3 at the epoch's last step, and
the sum restarts after it. With an epoch of one step it is the step's input.
"""
from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import overload

from .engine import CACHE, MAX_UV, TWO_UV, VMAX, _wrap32
from .fixed_learning import fixed_epoch
from .learn_rules import learn_projection, restart_epoch_sums, update_traces

KIND_LIF, KIND_GRADED = 0, 1


def lif_step(t, a, u, v, du, dv, vth, bias, refr, refr_end, fx):
    """One LIF step on scalars, returning (u, v, spiked, refr_end). The arithmetic is chosen
    by the state's type at compile time (integer: bit-accurate, float: Lava's float
    model). Scalars only: array arguments would cost reference counting per neuron."""


@overload(lif_step, inline="always", jit_options={"cache": CACHE})
def _lif_step_overload(t, a, u, v, du, dv, vth, bias, refr, refr_end, fx):
    if isinstance(u, types.Integer):
        return lambda t, a, u, v, du, dv, vth, bias, refr, refr_end, fx: _lif_fixed(
            a, u, v, du, dv, vth, bias, refr_end, fx)
    return lambda t, a, u, v, du, dv, vth, bias, refr, refr_end, fx: _lif_float(
        t, a, u, v, du, dv, vth, bias, refr, refr_end)


def payload(a):
    """A graded neuron's output: its input, wrapped to 32 bits in fixed point."""


@overload(payload, inline="always", jit_options={"cache": CACHE})
def _payload_overload(a):
    if isinstance(a, types.Integer):
        return lambda a: _wrap32(a)
    return lambda a: a


def floor_shift(c, shift):
    """Lava's ``weight_exp < 0``: arithmetic right shift of a summed activation (integers
    only; float builds never shift)."""


@overload(floor_shift, inline="always", jit_options={"cache": CACHE})
def _floor_shift_overload(c, shift):
    if isinstance(c, types.Integer):
        return lambda c, shift: c >> shift
    return lambda c, shift: c


@njit(cache=CACHE, inline="always")
def _lif_fixed(a, u, v, du, dv, vth, bias, refr_end, fx):
    """``PyLifModelBitAcc``; fx = (decay bits, activation shift, du offset, dv offset) from
    the build's neuron_model."""
    unity = 1 << fx[0]
    p = u * (unity - (du + fx[2]))
    q = np.abs(p) >> fx[0]
    x = _wrap32((-q if p < 0 else q) + (_wrap32(a) << fx[1]))
    x = x - TWO_UV if x > MAX_UV else x
    x = x + TWO_UV if x <= -MAX_UV else x
    p = v * (unity - (dv + fx[3]))
    q = np.abs(p) >> fx[0]
    y = _wrap32((-q if p < 0 else q) + x + bias)
    y = min(max(y, -VMAX), VMAX)
    f = y > vth
    return x, (0 if f else y), f, refr_end


@njit(cache=CACHE, inline="always")
def _lif_float(t, a, u, v, du, dv, vth, bias, refr, refr_end):
    """``PyLifModelFloat`` (``PyLifRefractoryModelFloat`` when refr > 0)."""
    x = u * (1.0 - du) + a
    if refr == 0:
        y = v * (1.0 - dv) + x + bias
    elif refr_end < t + 1:
        y = v * (1.0 - dv) + (x + bias)
    else:
        y = v
    f = y > vth
    if f:
        y = 0.0
        if refr != 0:
            refr_end = t + 1 + refr
    return x, y, f, refr_end


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
    du, dv, vth, bias = net.du[bp], net.dv[bp], net.vth[bp], net.bias[bp]
    refr = net.refr
    fx = (net.fx[0], net.fx[1], net.fx[2], net.fx[3])
    refr_end = st.refr_end[b]
    since = st.since[b]
    kind = net.kind
    gate_win = net.gate_win
    ring = st.ring[b]
    w = st.w[bw]
    emit = np.zeros(n_src + n, ring.dtype)
    spiked = np.zeros(n, np.uint8)
    fired = np.empty(n_src + n, np.int64)
    third = st.tfacc[b]
    acc = st.acc[b]
    big_pre = 1
    big_post = 1
    big_syn = 1
    for q in range(n_rules):
        p = rules.q_proj[q]
        big_pre = max(big_pre, net.p_npre[p])
        big_post = max(big_post, net.p_npost[p])
        nxt = net.p_syn0[p + 1] if p + 1 < n_proj else net.post.shape[0]
        big_syn = max(big_syn, nxt - net.p_syn0[p])
    scratch = (np.zeros(big_pre), np.zeros(big_post), np.zeros(big_syn),
               np.zeros(big_syn, np.int64), np.zeros(big_syn, np.uint8))
    indptr = net.indptr
    post = net.post
    delay = net.delay
    n_ops = 0
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
            if kind[i] == KIND_GRADED:
                spiked[i] = 0
                emit[n_src + i] = payload(a)
                continue
            u[i], v[i], f, refr_end[i] = lif_step(t, a, u[i], v[i], du[i], dv[i], vth[i],
                                                  bias[i], refr[i], refr_end[i], fx)
            if f:
                since[i] = 0
            elif since[i] < (1 << 30):
                since[i] += 1
            spiked[i] = 1 if f else 0
            emit[n_src + i] = 1 if f else 0
            gate = gate_win[i] == 0 or since[i] < gate_win[i]
            if gate:
                third[i] += tf
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
            pre0 = net.p_pre0[p]
            lo = np.searchsorted(fired[:nf], pre0)
            hi = np.searchsorted(fired[:nf], pre0 + net.p_npre[p])
            port = net.p_port[p]
            post0 = net.p_post0[p]
            ind0 = net.p_ind0[p]
            syn0 = net.p_syn0[p]
            shift = net.p_shift[p]
            a0 = net.p_acc0[p]
            npost = net.p_npost[p]
            s1 = (t + 1) % depth
            direct = shift == 0 and net.p_ndelay[p] <= 1
            row = ring[s1, port, post0:post0 + npost]
            for m in range(lo, hi):
                e = fired[m]
                val = emit[e]
                j = e - pre0
                k0 = syn0 + indptr[ind0 + j]
                k1 = syn0 + indptr[ind0 + j + 1]
                n_ops += k1 - k0
                if direct:                       # the common case: no delays, no shift
                    for s in range(k0, k1):
                        row[post[s]] += w[s] * val
                    continue
                for s in range(k0, k1):
                    if shift > 0:
                        acc[a0 + delay[s] * npost + post[s]] += w[s] * val
                    else:
                        sl = s1 + delay[s]
                        if sl >= depth:
                            sl -= depth
                        ring[sl, port, post0 + post[s]] += w[s] * val
            if shift > 0 and hi > lo:
                # weight_exp < 0: floor shift of each (delay, post) sum of this step (Lava)
                for d in range(net.p_ndelay[p]):
                    sl = (t + 1 + d) % depth
                    for i in range(npost):
                        c = acc[a0 + d * npost + i]
                        if c != 0:
                            ring[sl, port, post0 + i] += floor_shift(c, shift)
                            acc[a0 + d * npost + i] = 0
        # ---- traces every step; rules at the end of their learning epoch
        if learn:
            for q in range(n_rules):
                if not rules.active[q]:
                    continue
                p = rules.q_proj[q]
                if net.fixed:               # fixed point: Lava's bit-approximate engine
                    fixed_epoch(t + 1, b, q, p, net, rules, st, w, emit, spiked)
                    continue
                update_traces(b, q, p, net, rules, st, emit, spiked)
                if (t + 1) % rules.q_epoch[q] == 0:
                    learn_projection(b, q, p, net, rules, st, w, emit, spiked, third, bg, scratch)
                    restart_epoch_sums(b, q, p, net, rules, st)
        for i in range(n):
            if (t + 1) % net.epoch[i] == 0:
                third[i] = 0
        for i in range(n):
            emit[n_src + i] = 0
    rec.synops[b] += n_ops
