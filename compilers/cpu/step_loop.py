"""The cpu step loop: every cpu run (simulate, batches of chips, training, fine-tuning).

Per step, in Lava's order: deliver (ring slot ``t``) -> neuron step of each kind (plus its
membrane noise) -> gate and third factor -> record -> scatter this step's spikes and graded
values (arrive at ``t + 1 + delay``; dropped spikes are recorded but not delivered) with the
weights of this step -> update traces -> apply the rules whose learning epoch ends at this
step (fixed-point rules: Lava's bit-approximate engine, :mod:`compilers.cpu.fixed_learning`).

Arguments are grouped in named tuples (:mod:`compilers.cpu.learn_layout` builds them, the
recorders and noise :mod:`compilers.cpu.run_arrays`):
``net`` (static structure and neuron parameters), ``rules`` (plastic projections and their
sum-of-products terms), ``st`` (state carried between calls: u, v, aux, delivery ring,
traces, weights), ``noise`` (membrane draws and spike drops of this call's steps) and
``rec`` (what to record). ``reset_every`` zeroes u and v at the start of each sample
(Lava's ``LIFReset``, ``reset_offset = 1``). State and weights are updated in place, so a
run can be continued: two calls of 500 steps give exactly the state of one of 1000 steps.

Neurons are stepped by kind (:mod:`neurodeploy.neurons`; the dispatcher is generated from
the registry), in contiguous groups so the kind test is hoisted out of the neuron loop.
Ports: 0 = current (``a_in``), 1 = third factor (kept apart from the membrane, like an
apical dendrite). A neuron sums its gated third-factor input over its learning epoch
(``net.epoch``); rules see that sum as y2 - y3 at the epoch's last step, and it restarts
after it. The arithmetic (integer or float) follows the state's dtype at compile time.
"""
from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import overload

from neurodeploy.jit import CACHE
from neurodeploy.neurons.cpu_dispatch import neuron_step
from neurodeploy.variability.counter_rng import (STREAM_CURRENT, STREAM_MEMBRANE,
                                                 STREAM_SPIKE_DROP, STREAM_STOCHASTIC, normal,
                                                 uniform)

from .fixed_learning import fixed_epoch
from .learn_rules import learn_projection, restart_epoch_sums, update_traces


def floor_shift(c, shift):
    """Lava's ``weight_exp < 0``: arithmetic right shift of a summed activation (integers
    only; float builds never shift)."""


@overload(floor_shift, inline="always", jit_options={"cache": CACHE})
def _floor_shift_overload(c, shift):
    if isinstance(c, types.Integer):
        return lambda c, shift: c >> shift
    return lambda c, shift: c


@njit(cache=CACHE, nogil=True)
def _reset_instance(b, st):
    """Sample boundary, as Lava's ``LIFReset``: u and v of every neuron are zeroed at the
    start of the step; activations in flight and learning traces are kept."""
    st.u[b, :] = 0
    st.v[b, :] = 0


def state_noise(x, like):
    """A noise draw in the state's units: integer builds round to nearest (floor(x + 0.5))."""


@overload(state_noise, inline="always", jit_options={"cache": CACHE})
def _state_noise_overload(x, like):
    if isinstance(like, types.Integer):
        return lambda x, like: np.int64(np.floor(x + 0.5))
    return lambda x, like: x


@njit(cache=CACHE, inline="always")
def _dropped(noise, chip, e, t):
    """Whether emitter e's event of step t is lost on its way to the synapses."""
    p = noise.p_drop[e]
    return p > 0.0 and uniform(noise.seed, chip, noise.pop_id[e], noise.local[e], t,
                               STREAM_SPIKE_DROP) < p


@njit(cache=CACHE, inline="always")
def _neurons(b, t, slot, net, st, noise, ring, emit, shown, spiked, fx):
    """Step every neuron group by its kind, with its current and membrane noise and spike drop
    (``emit``: delivered events, ``shown``: events as monitors see them, ``spiked``: spikes
    for rates and traces); groups of a kind that draws (``net.g_draw``) get their uniform
    at (seed, chip, population, neuron, step, STREAM_STOCHASTIC)."""
    n_src = net.n_src
    bp = b if net.par.shape[0] > 1 else 0
    par = net.par[bp]
    u, v, aux = st.u[b], st.v[b], st.aux[b]
    chip = noise.chip[b] if noise.chip.shape[0] > 1 else noise.chip[0]
    tn = t + noise.t_off                       # the step the draws are taken at
    for g in range(net.g_code.shape[0]):
        code = net.g_code[g]
        draw = net.g_draw[g]
        for i in range(net.g_lo[g], net.g_hi[g]):
            a = ring[slot, 0, i]
            ring[slot, 0, i] = 0
            e = n_src + i
            if noise.cur and noise.sigma_c[i] > 0.0:
                a += state_noise(noise.sigma_c[i] * normal(
                    noise.seed, chip, noise.pop_id[e], noise.local[e], tn, STREAM_CURRENT), a)
            zf = 0.0
            if noise.mem and noise.sigma[i] > 0.0:
                zf = noise.sigma[i] * normal(noise.seed, chip, noise.pop_id[e], noise.local[e],
                                             tn, STREAM_MEMBRANE)
            r = 0.0
            if draw:
                r = uniform(noise.seed, chip, noise.pop_id[e], noise.local[e], tn,
                            STREAM_STOCHASTIC)
            u[i], v[i], aux[i], out, f = neuron_step(code, t, a, state_noise(zf, u[i]), r, u[i],
                                                     v[i], aux[i], par[0, i], par[1, i],
                                                     par[2, i], par[3, i], par[4, i],
                                                     net.ipar[i], fx)
            spiked[i] = 1 if f else 0
            shown[e] = 1 if out != 0 else 0
            if noise.drop and out != 0 and _dropped(noise, chip, e, tn):
                out = 0
            emit[e] = out


@njit(cache=CACHE, inline="always")
def _sources(b, t, tt, src, net, noise, emit, shown, fired):
    """This step's source spikes (dropped ones are shown but not delivered); returns how
    many were delivered, listed in ``fired``."""
    bi = b if src.shape[0] > 1 else 0
    chip = noise.chip[b] if noise.chip.shape[0] > 1 else noise.chip[0]
    nf = 0
    for j in range(net.n_src):
        f = src[bi, tt, j] != 0
        shown[j] = 1 if f else 0
        if f and noise.drop and _dropped(noise, chip, j, t + noise.t_off):
            f = False
        emit[j] = 1 if f else 0
        if f:
            fired[nf] = j
            nf += 1
    return nf


@njit(cache=CACHE, inline="always")
def _third_factor(slot, net, st, b, ring, spiked, third):
    """Gate and sum each neuron's third-factor input (port 1) of this step; where
    ``net.couple`` is non-zero (SAL's alignment phase) the input also reaches the soma,
    times that gain, one step later (port 0 of the next slot)."""
    since = st.since[b]
    gate_win = net.gate_win
    couple = net.couple
    nxt = slot + 1 if slot + 1 < ring.shape[0] else 0
    for i in range(spiked.shape[0]):
        tf = ring[slot, 1, i]
        ring[slot, 1, i] = 0
        if couple[i] != 0:
            ring[nxt, 0, i] += couple[i] * tf
        if spiked[i]:
            since[i] = 0
        elif since[i] < (1 << 30):
            since[i] += 1
        if gate_win[i] == 0 or since[i] < gate_win[i]:
            third[i] += tf


@njit(cache=CACHE, inline="always")
def _record(b, t, tt, rec, st, emit, shown, spiked):
    """Rasters, traces of v and u, spike counts per window and totals."""
    if tt < rec.spikes.shape[1]:
        for r in range(rec.idx.shape[0]):
            rec.spikes[b, tt, r] = shown[rec.idx[r]]
    if rec.count_hi > rec.count_lo:
        win = t // rec.window
        if win < rec.counts.shape[1]:
            for i in range(rec.count_lo, rec.count_hi):
                rec.counts[b, win, i - rec.count_lo] += spiked[i]
    for i in range(spiked.shape[0]):
        rec.total[b, i] += spiked[i]
    if tt < rec.v.shape[1]:
        for r in range(rec.v_idx.shape[0]):
            rec.v[b, tt, r] = st.v[b, rec.v_idx[r]]
    if tt < rec.u.shape[1]:
        for r in range(rec.u_idx.shape[0]):
            rec.u[b, tt, r] = st.u[b, rec.u_idx[r]]


@njit(cache=CACHE, nogil=True)
def run_instance(b, t0, steps, src, net, rules, st, noise, rec, learn, reset_every):
    """Simulate instance ``b`` from global step ``t0`` for ``steps`` steps.

    src [Bi, steps, n_src] uint8 (step ``t`` of this call is row ``t``); ``noise``: the
    temporal noise of each instance's chip, drawn here from the counter-based generator at
    (seed, chip, population, neuron, global step) (:mod:`neurodeploy.variability.noise`).
    ``reset_every`` > 0 resets the instance at every multiple of it
    (sample boundaries). State, weights and recorders are updated in place."""
    n_src = net.n_src
    n = net.ipar.shape[0]
    depth = st.ring.shape[1]
    bw = b if st.w.shape[0] > 1 else 0
    bg = b if rules.gain.shape[0] > 1 else 0
    n_proj = net.p_pre0.shape[0]
    n_rules = rules.q_proj.shape[0]
    fx = (net.fx[0], net.fx[1], net.fx[2], net.fx[3], net.fx[4], net.fx[5])
    ring = st.ring[b]
    w = st.w[bw]
    emit = np.zeros(n_src + n, ring.dtype)
    shown = np.zeros(n_src + n, np.uint8)
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
    for tt in range(steps):
        t = t0 + tt
        if reset_every > 0 and t % reset_every == 0:
            _reset_instance(b, st)
        slot = t % depth
        _neurons(b, t, slot, net, st, noise, ring, emit, shown, spiked, fx)
        if net.third:
            _third_factor(slot, net, st, b, ring, spiked, third)
        nf = _sources(b, t, tt, src, net, noise, emit, shown, fired)
        _record(b, t, tt, rec, st, emit, shown, spiked)
        # ---- scatter (weights of this step), event-driven over the emitters
        for e in range(n_src, n_src + n):
            if emit[e] != 0:
                fired[nf] = e
                nf += 1
        s1 = (t + 1) % depth
        for p in range(n_proj):
            pre0 = net.p_pre0[p]
            lo = np.searchsorted(fired[:nf], pre0)
            hi = np.searchsorted(fired[:nf], pre0 + net.p_npre[p])
            if hi == lo:
                continue
            port = net.p_port[p]
            post0 = net.p_post0[p]
            ind0 = net.p_ind0[p]
            syn0 = net.p_syn0[p]
            shift = net.p_shift[p]
            a0 = net.p_acc0[p]
            npost = net.p_npost[p]
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
            if shift > 0:
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
                    fixed_epoch(t + 1, b, q, p, net, rules, st, w, emit, spiked, third)
                    continue
                update_traces(b, q, p, net, rules, st, emit, spiked)
                if (t + 1) % rules.q_epoch[q] == 0:
                    learn_projection(b, q, p, net, rules, st, w, emit, spiked, third, bg, scratch)
                    restart_epoch_sums(b, q, p, net, rules, st)
        if net.third:
            for i in range(n):
                if (t + 1) % net.epoch[i] == 0:
                    third[i] = 0
        for i in range(n):
            emit[n_src + i] = 0
    rec.synops[b] += n_ops
