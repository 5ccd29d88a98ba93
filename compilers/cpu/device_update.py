"""Weights written through an analog device model (``learning.device`` of the profile).

The learner's update ``dw`` of a synapse (times its learning-rate gain) becomes write
pulses, as aihwkit's pulsed devices do: ``n = |dw| / dw_min`` pulses, rounded
stochastically (a uniform of the counter generator at the synapse's coordinates, so the
mean is kept) and cut at ``max_pulses``; each pulse moves the weight by
``dw_min (1 +/- up_down) d * f(w / bound) (1 + write_noise z)``, ``d`` the device's own
step gain (device-to-device spread) and ``f`` the model's step factor
(:func:`step_factor`), and the weight stays within ``[-bound, bound]`` and the rule's
bounds. Models: see :mod:`neurodeploy.learning.device_models`.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit

from neurodeploy.jit import CACHE
from neurodeploy.variability.counter_rng import normal, uniform

#: counter-generator streams of device writes (``pop`` = projection id, ``step`` = update
#: index, times 1024 plus the pulse for the write noise)
STREAM_DEVICE_PULSES = 21
STREAM_DEVICE_WRITE = 22
NONE, CONSTANT, LINEAR, SOFT, POW, EXP = range(6)

#: per rule: model code, bound, nominal step, asymmetry, nonlinearity, write noise and the
#: pulse cap; per instance and synapse: the device's up and down step gains; per instance
#: the seed and chip of the draws
Device = namedtuple("Device", "kind bound dw_min up_down g_up g_down a_up a_down noise "
                              "max_pulses d_up d_down seed chip")


def no_device(n_rules: int, n_synapses: int) -> Device:
    """Arrays of a learner whose weights are written exactly (every rule model NONE)."""
    z = np.zeros(n_rules)
    return Device(np.zeros(n_rules, np.int64), z, z.copy(), z.copy(), z.copy(), z.copy(),
                  z.copy(), z.copy(), z.copy(), np.ones(n_rules, np.int64),
                  np.ones((1, n_synapses)), np.ones((1, n_synapses)), np.zeros(1, np.int64),
                  np.zeros(1, np.int64))


@njit(cache=CACHE, nogil=True)
def step_factor(kind, up, x, g_up, g_down, a_up, a_down):
    """Step of one pulse relative to the nominal step at weight ``x = w / bound``."""
    if kind == CONSTANT:
        return 1.0
    if kind == LINEAR:
        f = 1.0 - g_up * x if up else 1.0 + g_down * x
    elif kind == SOFT:
        f = 1.0 - x if up else 1.0 + x
    elif kind == POW:
        base = 1.0 - x if up else 1.0 + x
        f = base ** (g_up if up else g_down) if base > 0.0 else 0.0
    else:
        f = 1.0 - a_up * np.exp(g_up * x) if up else 1.0 - a_down * np.exp(-g_down * x)
    return f if f > 0.0 else 0.0


@njit(cache=CACHE, nogil=True)
def write_pulses(b, q, syn0, nt, rules, st, w, bg, dwb, touched, mark):
    """Apply this step's ``dw`` of rule q's touched synapses as device pulses."""
    dev = rules.dev
    bd = b if dev.seed.shape[0] > 1 else 0
    bs = b if dev.d_up.shape[0] > 1 else 0
    kind, bound, dw_min = dev.kind[q], dev.bound[q], dev.dw_min[q]
    seed, chip, pid = dev.seed[bd], dev.chip[bd], rules.upd.pid[q]
    n = st.nupd[b, q]
    lo = max(rules.q_wmin[q], -bound)
    hi = min(rules.q_wmax[q], bound)
    for m in range(nt):
        k = touched[m]
        s = syn0 + k
        d = dwb[k] * rules.gain[bg, s]
        dwb[k] = 0.0
        mark[k] = 0
        if d == 0.0:
            continue
        sid = rules.upd.sid[s]
        r = abs(d) / dw_min
        pulses = np.floor(r)
        if uniform(seed, chip, pid, sid, n, STREAM_DEVICE_PULSES) < r - pulses:
            pulses += 1.0
        count = int(min(pulses, dev.max_pulses[q]))
        up = d > 0.0
        unit = dw_min * (1.0 + dev.up_down[q]) * dev.d_up[bs, s] if up else \
            dw_min * (1.0 - dev.up_down[q]) * dev.d_down[bs, s]
        x = w[s]
        for p in range(count):
            step = unit * step_factor(kind, up, x / bound, dev.g_up[q], dev.g_down[q],
                                      dev.a_up[q], dev.a_down[q])
            if dev.noise[q] > 0.0:
                step *= 1.0 + dev.noise[q] * normal(seed, chip, pid, sid, n * 1024 + p,
                                                    STREAM_DEVICE_WRITE)
            x = x + step if up else x - step
            x = lo if x < lo else (hi if x > hi else x)
        w[s] = x
    st.nupd[b, q] = n + 1
