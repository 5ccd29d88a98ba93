"""The sampling simulator: stochastic neurons that sample from a Boltzmann distribution
(Buesing et al. 2011), with event-driven pair STDP accumulated for the sampling task.

A neuron i spikes with probability ``1 / (1 + exp(-(b_i + sum_j W_ij psp_j - v_th) / beta))``
per step unless refractory (``tau_ref`` steps after its spike: its state z_i = 1 for those
steps, the state sampled); the stochastic kind with ``tau_mem = dt`` (:mod:`neurodeploy.
neurons.stochastic`). The PSP is rectangular (1 for 0 < t - t_spike < tau_syn, the
authors' kernel) or the kind's exponential current. The rules run on spike events only: at
a spike of i, each rule adds ``a_plus_ij k(t - t_j)`` to W_ij (pre j before post i) and
``-a_minus_ji k(t - t_j)`` to W_ji (post j before pre i), t_j the other neuron's latest
spike (``nearest``) or every earlier spike (``all``, exponential window, by traces); pairs
of one step count neither way. The membrane input changes only when a PSP starts or ends,
so a rectangular-PSP step costs one uniform draw per live neuron.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from neurodeploy.jit import CACHE

#: window codes of :func:`sleep_phase`
EXP_NEAREST, TRI_NEAREST, EXP_ALL = 0, 1, 2
NEVER = -(10 ** 12)
CLIP = 700.0


def window_code(window: str, pairing: str) -> int:
    """The kernel code of an STDP block's window and pairing."""
    if window == "triangular":
        return TRI_NEAREST
    return EXP_NEAREST if pairing == "nearest" else EXP_ALL


@njit(cache=CACHE, inline="always")
def _kernel(code: int, dt: float, tau: float, trace: float) -> float:
    """A pair's window value at distance ``dt`` (all pairs: the trace of earlier spikes)."""
    if code == TRI_NEAREST:
        return 1.0 - dt / tau if dt < tau else 0.0
    if code == EXP_NEAREST:
        return math.exp(-dt / tau)
    return trace * math.exp(-dt / tau)


@njit(cache=CACHE)
def sleep_phase(w, bias, vth, beta, tau_ref, tau_syn, rect, steps, seed, codes, amp_p, amp_m,
                tau_p, tau_m, acc, counts, hist):
    """Run ``steps`` free steps from rest; add each rule's pairs to ``acc[k]``, the spikes
    to ``counts`` and, when ``hist`` is non-empty, each step's state to ``hist``."""
    np.random.seed(seed)
    n = bias.size
    nk = codes.size
    last = np.full(n, NEVER, np.int64)
    inp = np.zeros(n)
    active = np.zeros(n, np.bool_)
    p = np.zeros(n)
    tr_p = np.zeros((nk, n))
    tr_m = np.zeros((nk, n))
    spk = np.empty(n, np.int64)
    nsp = 0
    decay = 1.0 - 1.0 / tau_syn
    dirty = True
    record = hist.size > 0
    for t in range(steps):
        if rect:
            for j in range(n):
                on = 0 < t - last[j] < tau_syn
                if on != active[j]:
                    sign = 1.0 if on else -1.0
                    for i in range(n):
                        inp[i] += sign * w[i, j]
                    active[j] = on
                    dirty = True
        else:
            for i in range(n):
                inp[i] *= decay
            for s in range(nsp):
                j = spk[s]
                for i in range(n):
                    inp[i] += w[i, j]
            dirty = True
        if dirty:
            for i in range(n):
                x = min(max((bias[i] + inp[i] - vth[i]) / beta[i], -CLIP), CLIP)
                p[i] = 1.0 / (1.0 + math.exp(-x))
            dirty = False
        nsp = 0
        for i in range(n):
            if t - last[i] > tau_ref and np.random.random() < p[i]:
                spk[nsp] = i
                nsp += 1
        for s in range(nsp):
            i = spk[s]
            for j in range(n):
                if j == i or last[j] == NEVER:
                    continue
                dt = float(t - last[j])
                for k in range(nk):
                    acc[k, i, j] += amp_p[k, i, j] * _kernel(codes[k], dt, tau_p[k], tr_p[k, j])
                    acc[k, j, i] -= amp_m[k, j, i] * _kernel(codes[k], dt, tau_m[k], tr_m[k, j])
        for s in range(nsp):
            i = spk[s]
            for k in range(nk):
                if codes[k] == EXP_ALL:
                    gap = float(t - last[i])
                    tr_p[k, i] = tr_p[k, i] * math.exp(-gap / tau_p[k]) + 1.0
                    tr_m[k, i] = tr_m[k, i] * math.exp(-gap / tau_m[k]) + 1.0
            last[i] = t
            counts[i] += 1
        if record:
            state = 0
            for i in range(n):
                if t - last[i] < tau_ref:
                    state |= 1 << (n - 1 - i)
            hist[state] += 1
