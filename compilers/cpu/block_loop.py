"""The cpu step loop for a block of frozen instances (simulate and validate batches).

It runs the step of :mod:`compilers.cpu.step_loop` (same neuron, noise, source and record
functions, same order) for ``nb`` instances at once and shares the scatter between them:
a presynaptic neuron's synapses (post index, delay, weight when the instances share
weights) are read once per step for every instance of the block in which it fired, instead
of once per instance. Each instance's ring receives its contributions in the order a single
run adds them (projections, then presynaptic neurons, then synapses, ascending), so every
instance is bit for bit what :func:`~compilers.cpu.step_loop.run_instance` gives it, float
builds included. No learning: plastic runs go through ``run_instance``.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from neurodeploy.jit import CACHE

from .frozen_loop import _plain_step
from .step_loop import _neurons, _record, _sources, _third_factor, floor_shift


@njit(cache=CACHE, nogil=True)
def run_block(b0, nb, steps, src, net, fz, st, noise, rec, rcol):
    """Simulate instances ``b0 .. b0 + nb - 1`` from step 0 for ``steps`` steps (frozen).

    Arguments as :func:`~compilers.cpu.frozen_loop.run_frozen` (``fz``: the frozen-run
    synapses, :mod:`compilers.cpu.frozen_layout`); state and recorders are updated in
    place. Inside, the delivery ring, the emitted values and the weights are held with the
    instance innermost, so one synapse's contributions to the block are adjacent; a synapse
    reached by few instances of the block is added for those only."""
    n_src = net.n_src
    n = net.ipar.shape[0]
    m = n_src + n
    depth = st.ring.shape[1]
    n_proj = net.p_pre0.shape[0]
    fx = (net.fx[0], net.fx[1], net.fx[2], net.fx[3], net.fx[4], net.fx[5])
    ring = np.empty((depth, 2, n, nb), st.ring.dtype)
    for q in range(nb):
        ring[:, :, :, q] = st.ring[b0 + q]
    shared_w = fz.w.shape[0] == 1
    nnz = fz.w.shape[1]
    wb = np.empty((nnz, 1 if shared_w else nb), fz.w.dtype)
    for q in range(wb.shape[1]):
        wb[:, q] = fz.w[0 if shared_w else b0 + q]
    emit = np.zeros((m, nb), st.ring.dtype)
    shown = np.zeros((nb, m), np.uint8)
    spiked = np.zeros((nb, n), np.uint8)
    fired = np.empty(m, np.int64)
    lst = np.empty(nb, np.int64)
    cnt = np.zeros(m, np.int64)
    n_ops = np.zeros(nb, np.int64)
    fval = np.empty(m, st.ring.dtype)
    evs = np.empty((nb, m), np.int64)           # each instance's events of this step
    nev = np.zeros(nb, np.int64)
    plain = not (noise.cur or noise.mem or noise.drop or np.any(net.g_draw))
    indptr = fz.indptr
    post = fz.post
    delay = fz.delay
    for t in range(steps):
        slot = t % depth
        for q in range(nb):
            b = b0 + q
            rq = ring[:, :, :, q]
            eq = emit[:, q]
            if plain:
                k = _plain_step(b, t, slot, src, net, fz, st, rq, rec, rcol, evs[q], fval,
                                spiked[q], fx)
                nev[q] = k
                for r in range(k):
                    e = evs[q, r]
                    eq[e] = fval[r]
                    cnt[e] += 1
            else:
                _neurons(b, t, slot, net, st, noise, rq, eq, shown[q], spiked[q], fx)
                _sources(b, t, t, src, net, noise, eq, shown[q], fired)
                _record(b, t, t, rec, st, eq, shown[q], spiked[q])
            if net.third:
                _third_factor(slot, net, st, b, rq, spiked[q], st.tfacc[b])
        if not plain:
            for e in range(m):
                c = 0
                for q in range(nb):
                    if emit[e, q] != 0:
                        c += 1
                cnt[e] = c
        s1 = (t + 1) % depth
        for p in range(n_proj):
            pre0 = net.p_pre0[p]
            port = net.p_port[p]
            post0 = net.p_post0[p]
            ind0 = net.p_ind0[p]
            syn0 = fz.p_syn0[p]
            shift = net.p_shift[p]
            a0 = net.p_acc0[p]
            npost = net.p_npost[p]
            one = fz.p_onedelay[p]                   # no delays: fz.delay may be empty
            for j in range(net.p_npre[p]):
                e = pre0 + j
                c = cnt[e]
                if c == 0:
                    continue
                k0 = syn0 + indptr[ind0 + j]
                k1 = syn0 + indptr[ind0 + j + 1]
                reach = fz.full[ind0 + j + 1] - fz.full[ind0 + j]
                val = emit[e]                # a view, made once per firing neuron
                k = 0
                for q in range(nb):
                    if val[q] != 0:
                        n_ops[q] += reach
                        lst[k] = q
                        k += 1
                if shift > 0:
                    for s in range(k0, k1):
                        i = a0 + (0 if one else delay[s] * npost) + post[s]
                        for r in range(k):
                            q = lst[r]
                            st.acc[b0 + q, i] += wb[s, 0 if shared_w else q] * val[q]
                    continue
                for s in range(k0, k1):
                    sl = s1 + (0 if one else delay[s])
                    if sl >= depth:
                        sl -= depth
                    i = post0 + post[s]
                    if 4 * k < nb:                   # few fired: add for those only
                        for r in range(k):
                            q = lst[r]
                            ring[sl, port, i, q] += wb[s, 0 if shared_w else q] * val[q]
                    elif shared_w:
                        wv = wb[s, 0]
                        for q in range(nb):          # instances that did not fire add 0
                            ring[sl, port, i, q] += wv * val[q]
                    else:
                        for q in range(nb):
                            ring[sl, port, i, q] += wb[s, q] * val[q]
            if shift > 0:
                # weight_exp < 0: floor shift of each (delay, post) sum of this step (Lava)
                for q in range(nb):
                    b = b0 + q
                    for d in range(net.p_ndelay[p]):
                        sl = (t + 1 + d) % depth
                        for i in range(npost):
                            c = st.acc[b, a0 + d * npost + i]
                            if c != 0:
                                ring[sl, port, post0 + i, q] += floor_shift(c, shift)
                                st.acc[b, a0 + d * npost + i] = 0
        if net.third:
            for q in range(nb):
                for i in range(n):
                    if (t + 1) % net.epoch[i] == 0:
                        st.tfacc[b0 + q, i] = 0
        if plain:
            for q in range(nb):
                for r in range(nev[q]):
                    emit[evs[q, r], q] = 0
                    cnt[evs[q, r]] = 0
        else:
            for i in range(n):
                for q in range(nb):
                    emit[n_src + i, q] = 0
    for q in range(nb):
        st.ring[b0 + q] = ring[:, :, :, q]
        rec.synops[b0 + q] += n_ops[q]
