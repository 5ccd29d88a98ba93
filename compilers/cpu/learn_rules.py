"""Evaluating engine rules on the cpu: traces, then dw for one learning epoch (one step).

A term ``coef * dep * x1^a x2^b y1^c y2^d y3^e w^f`` factors into a presynaptic part
(x factors and the x0 dependency, one value per pre neuron), a postsynaptic part (coef, y
factors, the y0 dependency and the third factor, one value per post neuron) and the weight
power. Each term visits only the synapses where both parts can be non-zero, through the
index by pre neuron or by post neuron, whichever touches fewer synapses; so STDP costs
what its spikes cost and feedback alignment what its error reaches. All terms are summed
into ``dw`` first and applied after (every term sees the weights of this step, as Lava's
learning engine does): ``w += A_ij dw``, clipped to the rule's [w_min, w_max], where
``A_ij`` is the synapse's learning-rate gain.

Imperfect updates (``rules.upd``, per instance; off by default, and then the arithmetic is
exactly the above): every synapse the rule updates (dw != 0, A_ij > 0) gets
``sigma * LSB * z`` added to its update, ``z`` a standard normal drawn from
:mod:`neurodeploy.variability.counter_rng` at (seed, chip, projection id, synapse index in
the build, update index), and with stochastic rounding the update is then rounded to a
whole number of LSBs, up with probability equal to its fraction (a uniform of the same
coordinates, another stream), so its mean is unchanged; the bounds become the grid points
inside [w_min, w_max]. The update index counts the rule's updates on that instance
(``st.nupd``), carried across runs like the weights. A rule with a device model
(``rules.dev``) writes its updates as pulses instead (:mod:`.device_update`).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from neurodeploy.jit import CACHE
from neurodeploy.variability.counter_rng import (STREAM_UPDATE_NOISE, STREAM_UPDATE_ROUNDING,
                                                 normal, uniform)

from .device_update import write_pulses

DEP_U, DEP_X0, DEP_Y0 = 0, 1, 2


@njit(cache=CACHE, inline="always")
def _power(x, k):
    out = 1.0
    for _ in range(k):
        out *= x
    return out


@njit(cache=CACHE, nogil=True)
def update_traces(b, q, p, net, rules, st, emit, spiked):
    """x1, x2 of the pre neurons and y1 of the post neurons of plastic projection q."""
    pre0 = net.p_pre0[p]
    x0 = rules.q_xoff[q]
    for j in range(net.p_npre[p]):
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


@njit(cache=CACHE, nogil=True)
def restart_epoch_sums(b, q, p, net, rules, st):
    """Epoch-summed x traces start again from 0 after their rule was applied."""
    x0 = rules.q_xoff[q]
    for c in range(2):
        if rules.q_xsum[q, c]:
            for j in range(net.p_npre[p]):
                st.xtr[b, c, x0 + j] = 0.0


@njit(cache=CACHE, nogil=True)
def learn_projection(b, q, p, net, rules, st, w, emit, spiked, third, bg, scratch):
    """Add this step's dw to the weights of plastic projection q (see module docstring).

    scratch: (xpart [n_pre_max], ypart [n_post_max], dw [nnz_max], touched [nnz_max] int,
    mark [nnz_max] uint8), allocated once per run."""
    xpart, ypart, dwb, touched, mark = scratch
    pre0 = net.p_pre0[p]
    post0 = net.p_post0[p]
    ind0 = net.p_ind0[p]
    pind0 = net.p_pind0[p]
    syn0 = net.p_syn0[p]
    npre = net.p_npre[p]
    npost = net.p_npost[p]
    x0 = rules.q_xoff[q]
    y0 = rules.q_yoff[q]
    nt = 0
    for tm in range(rules.q_t0[q], rules.q_t0[q + 1]):
        dep = rules.t_dep[tm]
        n_x = 0
        fan_x = 0
        for j in range(npre):
            v = 0.0
            if dep != DEP_X0 or emit[pre0 + j] != 0:
                v = _power(st.xtr[b, 0, x0 + j], rules.t_px1[tm]) * \
                    _power(st.xtr[b, 1, x0 + j], rules.t_px2[tm])
            xpart[j] = v
            if v != 0.0:
                n_x += 1
                fan_x += net.indptr[ind0 + j + 1] - net.indptr[ind0 + j]
        if n_x == 0:
            continue
        n_y = 0
        fan_y = 0
        for i in range(npost):
            v = 0.0
            if dep != DEP_Y0 or spiked[post0 + i]:
                tf = third[post0 + i]
                y2 = tf if tf > 0 else 0.0
                y3 = -tf if tf < 0 else 0.0
                v = rules.t_coef[tm] * _power(st.ytr[b, y0 + i], rules.t_py1[tm]) * \
                    _power(y2, rules.t_py2[tm]) * _power(y3, rules.t_py3[tm])
            ypart[i] = v
            if v != 0.0:
                n_y += 1
                fan_y += net.pptr[pind0 + i + 1] - net.pptr[pind0 + i]
        if n_y == 0:
            continue
        kw = rules.t_pw[tm]
        if fan_y <= fan_x:
            for i in range(npost):
                yv = ypart[i]
                if yv == 0.0:
                    continue
                for m in range(net.pptr[pind0 + i], net.pptr[pind0 + i + 1]):
                    k = net.pidx[syn0 + m]
                    xv = xpart[net.pre[syn0 + k]]
                    if xv != 0.0:
                        nt = _add(k, xv * yv * _power(w[syn0 + k], kw), dwb, touched, mark, nt)
        else:
            for j in range(npre):
                xv = xpart[j]
                if xv == 0.0:
                    continue
                for k in range(net.indptr[ind0 + j], net.indptr[ind0 + j + 1]):
                    yv = ypart[net.post[syn0 + k]]
                    if yv != 0.0:
                        nt = _add(k, xv * yv * _power(w[syn0 + k], kw), dwb, touched, mark, nt)
    if rules.dev.kind[q] != 0:          # analog weights: written by device pulses
        write_pulses(b, q, syn0, nt, rules, st, w, bg, dwb, touched, mark)
        return
    upd = rules.upd
    bu = b if upd.sigma.shape[0] > 1 else 0
    if upd.sigma[bu] > 0.0 or upd.rounding[bu] != 0:
        _apply_imperfect(b, bu, q, syn0, nt, rules, st, w, bg, dwb, touched, mark)
        return
    lo = rules.q_wmin[q]
    hi = rules.q_wmax[q]
    for m in range(nt):
        k = touched[m]
        s = syn0 + k
        nw = w[s] + dwb[k] * rules.gain[bg, s]
        w[s] = lo if nw < lo else (hi if nw > hi else nw)
        dwb[k] = 0.0
        mark[k] = 0
    st.nupd[b, q] += 1


@njit(cache=CACHE, nogil=True)
def _apply_imperfect(b, bu, q, syn0, nt, rules, st, w, bg, dwb, touched, mark):
    """Apply dw with update noise and/or stochastic rounding (see module docstring)."""
    upd = rules.upd
    lsb = upd.lsb[q]
    noise = upd.sigma[bu] * lsb
    rounding = upd.rounding[bu] != 0
    seed, chip = upd.seed[bu], upd.chip[bu]
    pid = upd.pid[q]
    n = st.nupd[b, q]
    lo = rules.q_wmin[q]
    hi = rules.q_wmax[q]
    if rounding:                        # bounds on the grid, inside [w_min, w_max]
        lo = np.ceil(lo / lsb) * lsb
        hi = np.floor(hi / lsb) * lsb
    for m in range(nt):
        k = touched[m]
        s = syn0 + k
        g = rules.gain[bg, s]
        d = dwb[k] * g
        dwb[k] = 0.0
        mark[k] = 0
        if g == 0.0:                    # a synapse the device cannot change
            continue
        if noise > 0.0:
            d += noise * normal(seed, chip, pid, upd.sid[s], n, STREAM_UPDATE_NOISE)
        if rounding:
            r = d / lsb
            f = np.floor(r)
            if uniform(seed, chip, pid, upd.sid[s], n, STREAM_UPDATE_ROUNDING) < r - f:
                f += 1.0
            d = f * lsb
        nw = w[s] + d
        w[s] = lo if nw < lo else (hi if nw > hi else nw)
    st.nupd[b, q] = n + 1


@njit(cache=CACHE, inline="always")
def _add(k, value, dwb, touched, mark, nt):
    if mark[k] == 0:
        mark[k] = 1
        touched[nt] = k
        nt += 1
    dwb[k] += value
    return nt
