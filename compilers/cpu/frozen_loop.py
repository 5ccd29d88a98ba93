"""The cpu step loop of one frozen instance (simulate, evaluate, validate, compare).

The same step as :func:`compilers.cpu.step_loop.run_instance` with learning off, in the
same order and arithmetic (bit for bit the same result), on the frozen-run synapses of
:mod:`compilers.cpu.frozen_layout` (zero weights dropped, narrow types). A step without
temporal noise or drawing neurons (``plain``) pays only for what the build uses: sources
and neurons append their events to one list as they fire, rasters and totals are written
from it, and the scatter adds each event's weights with no multiply when the value is 1;
a projection with a negative weight exponent and no delays accumulates into one row and
floor-shifts it once per step. Steps with noise take the general step functions of
:mod:`compilers.cpu.step_loop`.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from numba import types
from numba.extending import overload

from neurodeploy.jit import CACHE
from neurodeploy.neurons import lif
from neurodeploy.neurons.cpu_dispatch import neuron_step

from .step_loop import _neurons, _record, _sources, _third_factor, floor_shift

def zero_like(like):
    """A zero of the state's type: the membrane noise of a step that draws none."""


@overload(zero_like, inline="always", jit_options={"cache": CACHE})
def _zero_like_overload(like):
    if isinstance(like, types.Integer):
        return lambda like: np.int64(0)
    return lambda like: 0.0


@njit(cache=CACHE, nogil=True)
def _lif_group(lo, hi, t, slot, n_src, par, u, v, ring, total, fired, fval, nf, spiked, fx):
    """A group of LIF neurons without a refractory period (``aux`` unused): the kind's
    step called directly (no dispatch, so the loop keeps LIF's types and vectorises), then
    its events appended from ``nf``; returns the new count."""
    for i in range(lo, hi):
        a = ring[slot, 0, i]
        ring[slot, 0, i] = 0
        x, y, _, _, f = lif.cpu_step(t, a, zero_like(a), 0.0, u[i], v[i], 0, par[0, i],
                                     par[1, i], par[2, i], par[3, i], par[4, i], 0, fx)
        u[i] = x
        v[i] = y
        spiked[i] = f
    nf0 = nf
    for i in range(lo, hi):
        total[i] += spiked[i]
        fired[nf] = n_src + i                   # appended without a branch: half the
        nf += spiked[i]                         # neurons of an active net fire at random
    for m in range(nf0, nf):
        fval[m] = 1                             # a LIF emits 1 exactly when it spikes
    return nf


@njit(cache=CACHE, nogil=True)
def _kind_group(code, lo, hi, t, slot, n_src, par, ipar, u, v, aux, ring, total, fired, fval,
                nf, spiked, fx):
    """A group of any other kind, through the generated dispatcher."""
    for i in range(lo, hi):
        a = ring[slot, 0, i]
        ring[slot, 0, i] = 0
        x, y, r, out, f = neuron_step(code, t, a, zero_like(a), 0.0, u[i], v[i], aux[i],
                                      par[0, i], par[1, i], par[2, i], par[3, i], par[4, i],
                                      ipar[i], fx)
        u[i] = x
        v[i] = y
        aux[i] = r
        spiked[i] = f
        total[i] += f
        fired[nf] = n_src + i                   # appended without a branch: half the
        fval[nf] = out                          # neurons of an active net fire at random
        nf += out != 0
    return nf


@njit(cache=CACHE, inline="always")
def _plain_step(b, t, slot, src, net, fz, st, ring, rec, rcol, fired, fval, spiked, fx):
    """Sources then neurons of step ``t`` without noise: events in emitter order into
    ``fired`` / ``fval``, spikes counted and rastered from them; returns the event count."""
    n_src = net.n_src
    bi = b if src.shape[0] > 1 else 0
    par = net.par[b if net.par.shape[0] > 1 else 0]
    u, v, aux = st.u[b], st.v[b], st.aux[b]
    total = rec.total[b]
    nf = 0
    for j in range(n_src):
        if src[bi, t, j] != 0:
            fired[nf] = j
            fval[nf] = 1
            nf += 1
    for g in range(net.g_code.shape[0]):
        if fz.g_lif[g]:
            nf = _lif_group(net.g_lo[g], net.g_hi[g], t, slot, n_src, par, u, v, ring, total,
                            fired, fval, nf, spiked, fx)
        else:
            nf = _kind_group(net.g_code[g], net.g_lo[g], net.g_hi[g], t, slot, n_src, par,
                             net.ipar, u, v, aux, ring, total, fired, fval, nf, spiked, fx)
    if t < rec.spikes.shape[1]:
        for m in range(nf):
            c = rcol[fired[m]]
            if c >= 0:
                rec.spikes[b, t, c] = 1
    if rec.count_hi > rec.count_lo:
        win = t // rec.window
        if win < rec.counts.shape[1]:
            for i in range(rec.count_lo, rec.count_hi):
                rec.counts[b, win, i - rec.count_lo] += spiked[i]
    if t < rec.v.shape[1]:
        for r in range(rec.v_idx.shape[0]):
            rec.v[b, t, r] = st.v[b, rec.v_idx[r]]
    if t < rec.u.shape[1]:
        for r in range(rec.u_idx.shape[0]):
            rec.u[b, t, r] = st.u[b, rec.u_idx[r]]
    return nf


@njit(cache=CACHE, inline="always")
def _add_events(target, lo, hi, fired, fval, fz, w, ind0, pre0, syn0):
    """Add the weights of events ``lo:hi`` of one projection into ``target`` (its post
    neurons' row: no delay slot); returns the build's synapses reached."""
    n_ops = 0
    for m in range(lo, hi):
        j = ind0 + fired[m] - pre0
        val = fval[m]
        k0 = syn0 + fz.indptr[j]
        k1 = syn0 + fz.indptr[j + 1]
        n_ops += (fz.full[j + 1] - fz.full[j]) if fz.dropped else k1 - k0
        if val == 1:
            for s in range(k0, k1):
                target[fz.post[s]] += w[s]
        else:
            for s in range(k0, k1):
                target[fz.post[s]] += w[s] * val
    return n_ops


@njit(cache=CACHE, inline="always")
def _scatter(t, depth, net, fz, w, ring, acc, fired, fval, nf):
    """Add this step's events to the ring (arrive at ``t + 1 + delay``), projection by
    projection in emitter and synapse order; returns the build's synapses reached."""
    s1 = (t + 1) % depth
    n_ops = 0
    for p in range(net.p_pre0.shape[0]):
        pre0 = net.p_pre0[p]
        lo = np.searchsorted(fired[:nf], pre0)
        hi = np.searchsorted(fired[:nf], pre0 + net.p_npre[p])
        if hi == lo:
            continue
        port = net.p_port[p]
        post0 = net.p_post0[p]
        ind0 = net.p_ind0[p]
        syn0 = fz.p_syn0[p]
        shift = net.p_shift[p]
        a0 = net.p_acc0[p]
        npost = net.p_npost[p]
        row = ring[s1, port, post0:post0 + npost]
        if fz.p_direct[p]:                           # no delays, no shift
            n_ops += _add_events(row, lo, hi, fired, fval, fz, w, ind0, pre0, syn0)
            continue
        if fz.p_onedelay[p]:                         # shift only: one accumulator row
            arow = acc[a0:a0 + npost]
            n_ops += _add_events(arow, lo, hi, fired, fval, fz, w, ind0, pre0, syn0)
            # weight_exp < 0: floor shift of each post neuron's sum of this step (Lava)
            for i in range(npost):
                c = arow[i]
                if c != 0:
                    row[i] += floor_shift(c, shift)
                    arow[i] = 0
            continue
        for m in range(lo, hi):
            j = ind0 + fired[m] - pre0
            val = fval[m]
            k0 = syn0 + fz.indptr[j]
            k1 = syn0 + fz.indptr[j + 1]
            n_ops += (fz.full[j + 1] - fz.full[j]) if fz.dropped else k1 - k0
            for s in range(k0, k1):
                if shift > 0:
                    acc[a0 + fz.delay[s] * npost + fz.post[s]] += w[s] * val
                else:
                    sl = s1 + fz.delay[s]
                    if sl >= depth:
                        sl -= depth
                    ring[sl, port, post0 + fz.post[s]] += w[s] * val
        if shift > 0:
            # weight_exp < 0: floor shift of each (delay, post) sum of this step (Lava)
            for d in range(net.p_ndelay[p]):
                sl = (t + 1 + d) % depth
                for i in range(npost):
                    c = acc[a0 + d * npost + i]
                    if c != 0:
                        ring[sl, port, post0 + i] += floor_shift(c, shift)
                        acc[a0 + d * npost + i] = 0
    return n_ops


@njit(cache=CACHE, nogil=True)
def run_frozen(b, steps, src, net, fz, st, noise, rec, rcol):
    """Simulate frozen instance ``b`` from step 0 for ``steps`` steps.

    Arguments as :func:`~compilers.cpu.step_loop.run_instance` without rules; ``fz`` the
    frozen-run synapses (their weights ``fz.w`` replace ``st.w``), ``rcol`` [emitters] the
    raster column of each emitter (-1: not recorded). State and recorders are updated in
    place."""
    n_src = net.n_src
    n = net.ipar.shape[0]
    depth = st.ring.shape[1]
    w = fz.w[b if fz.w.shape[0] > 1 else 0]
    fx = (net.fx[0], net.fx[1], net.fx[2], net.fx[3], net.fx[4], net.fx[5])
    ring = st.ring[b]
    acc = st.acc[b]
    emit = np.zeros(n_src + n, ring.dtype)
    shown = np.zeros(n_src + n, np.uint8)
    spiked = np.zeros(n, np.uint8)
    fired = np.empty(n_src + n, np.int64)
    fval = np.empty(n_src + n, ring.dtype)
    plain = not (noise.cur or noise.mem or noise.drop or np.any(net.g_draw))
    n_ops = 0
    for t in range(steps):
        slot = t % depth
        if plain:
            nf = _plain_step(b, t, slot, src, net, fz, st, ring, rec, rcol, fired, fval, spiked,
                             fx)
            if net.third:
                _third_factor(slot, net, st, b, ring, spiked, st.tfacc[b])
        else:
            _neurons(b, t, slot, net, st, noise, ring, emit, shown, spiked, fx)
            if net.third:
                _third_factor(slot, net, st, b, ring, spiked, st.tfacc[b])
            nf = _sources(b, t, t, src, net, noise, emit, shown, fired)
            _record(b, t, t, rec, st, emit, shown, spiked)
            for e in range(n_src, n_src + n):
                if emit[e] != 0:
                    fired[nf] = e
                    nf += 1
            for m in range(nf):
                fval[m] = emit[fired[m]]
            for i in range(n):
                emit[n_src + i] = 0
        n_ops += _scatter(t, depth, net, fz, w, ring, acc, fired, fval, nf)
        if net.third:
            for i in range(n):
                if (t + 1) % net.epoch[i] == 0:
                    st.tfacc[b, i] = 0
    rec.synops[b] += n_ops
