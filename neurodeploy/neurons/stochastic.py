"""The stochastic LIF (escape noise): its one home.

Float only. Sub-threshold dynamics are the float LIF's (:mod:`.lif`, Lava's
``PyLifModelFloat``; ``PyLifRefractoryModelFloat`` with a refractory period)::

    u = u (1 - du) + a;  v = v (1 - dv) + u + bias (+ membrane noise z)
    spike = live and r < 1 / (1 + exp(-clip((v - vth) / beta, -X, X)));  v = 0 on a spike

with ``r`` the uniform of the counter-based generator at (seed, chip, population id, neuron,
step, ``STREAM_STOCHASTIC``) (:mod:`neurodeploy.variability.counter_rng`), so every backend
draws the same numbers, ``X`` = :data:`CLIP` (keeps ``exp`` finite; the probability is
then below 1e-300), and ``live`` false while refractory: unlike the deterministic LIF, whose
reset ``v = 0`` is below threshold anyway, a stochastic neuron would fire at rest with
probability ``sigmoid(-vth / beta)``, so a refractory neuron is held silent.

Fixed point has no exponential: compiling a stochastic population for a fixed-point
profile is refused (:mod:`neurodeploy.compiling.compiler`).

Here: the parameter slots (LIF's plus ``p4 = beta``), the NumPy reference step, the numba
scalar step, the Brian2 code and the Lava arguments; the Lava process models are
:mod:`compilers.lava.stochastic`.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit, types
from numba.extending import overload

from neurodeploy.jit import CACHE

from . import lif
from .kind import NeuronKind

#: bound of the sigmoid's argument (``exp(700)`` is finite in float64)
CLIP = 700.0


# --------------------------------------------------------------------------- parameters
def cpu_params(pop: Any, fixed: bool, fc: Any, over: dict[str, Any] | None = None
               ) -> dict[str, Any]:
    """LIF's float slots (p0..p3 = du, dv, vth, bias; pi = refractory) and p4 = beta."""
    if fixed:
        raise ValueError(f"population '{pop.name}' is stochastic, which has no fixed-point "
                         "model; compile it for a float profile")
    return {**lif.cpu_params(pop, False, fc, over), "p4": pop.beta}


# --------------------------------------------------------------------------- NumPy reference
def spike_probability(v: Any, vth: Any, beta: Any) -> np.ndarray:
    """Escape probability ``1 / (1 + exp(-(v - vth) / beta))`` (argument clipped to +-CLIP)."""
    x = np.clip((np.asarray(v, np.float64) - vth) / beta, -CLIP, CLIP)
    return 1.0 / (1.0 + np.exp(-x))


def reference_step(u: np.ndarray, v: np.ndarray, a_in: np.ndarray, r: np.ndarray, du: Any,
                   dv: Any, vth: Any, bias_mant: Any, beta: Any, refractory: int = 0,
                   ref_end: np.ndarray | None = None, time_step: int = 1,
                   z: Any = 0.0) -> np.ndarray:
    """One step on float64 ``u``/``v`` (in place; ``ref_end`` too); returns the spikes.
    ``time_step`` counts from 1 (Lava's), ``r`` the uniforms and ``z`` the membrane noise."""
    u[...] = u * (1 - np.asarray(du, np.float64))
    u += a_in
    cv = 1 - np.asarray(dv, np.float64)
    if refractory == 0:
        v[...] = v * cv + u + bias_mant
        live = np.ones(v.shape, bool)
    else:                       # PyLifRefractoryModelFloat: v held while refractory
        live = ref_end < time_step
        v[...] = np.where(live, v * cv + (u + bias_mant), v)
    v += z
    spikes = live & (r < spike_probability(v, vth, beta))
    if refractory:
        ref_end[spikes] = time_step + refractory
    v[spikes] = 0
    return spikes


# --------------------------------------------------------------------------- cpu (numba)
def cpu_step(t, a, z, r, u, v, aux, p0, p1, p2, p3, p4, pi, fx):
    """One stochastic LIF step on scalars (see :class:`~.kind.NeuronKind`); float state only
    (an integer build never holds a stochastic neuron: the integer variant is unreachable)."""


@overload(cpu_step, inline="always", jit_options={"cache": CACHE})
def _cpu_step_overload(t, a, z, r, u, v, aux, p0, p1, p2, p3, p4, pi, fx):
    if isinstance(u, types.Integer):
        return lambda t, a, z, r, u, v, aux, p0, p1, p2, p3, p4, pi, fx: (u, v, aux, 0, False)
    return lambda t, a, z, r, u, v, aux, p0, p1, p2, p3, p4, pi, fx: _float(
        t, a, z, r, u, v, aux, p0, p1, p2, p3, p4, pi)


@njit(cache=CACHE, inline="always")
def _float(t, a, z, r, u, v, aux, du, dv, vth, bias, beta, refr):
    """LIF's float update (:func:`.lif.float_update`), then the escape."""
    x, y, live = lif.float_update(t, a, z, u, v, aux, du, dv, bias, refr)
    s = min(max((y - vth) / beta, -CLIP), CLIP)
    return lif.float_fire(t, x, y, aux, live and r < 1.0 / (1.0 + math.exp(-s)), refr)


# --------------------------------------------------------------------------- Brian2
# LIF's update, then the escape probability one operation per statement; ``live`` is 0 while
# refractory. The threshold reads this step's uniform from the TimedArray ``nd_r``.
BRIAN2_ESCAPE = """
_x = v - vth
_x = _x / beta
_x = clip(_x, -700, 700)
_x = -_x
_e = exp(_x)
_d = 1 + _e
p = 1 / _d
"""
BRIAN2_THRESHOLD = "live > 0.5 and nd_r(t, i) < p"


def brian2_code(refractory: int) -> tuple[str, str, str, str]:
    """(equations, per-step update, reset, threshold) of a Brian2 NeuronGroup."""
    eqs, update, reset = lif.brian2_code(refractory)
    eqs += "beta : 1 (constant)\np : 1\nlive : 1\n"
    if refractory > 0:
        update = update.replace("rc = rc - 1\n", "rc = rc - 1\nlive = _free\n")
    else:
        update += "live = 1\n"
    return eqs, update, reset, BRIAN2_THRESHOLD


def brian2_set(group: Any, pop: Any) -> None:
    """LIF's parameter values plus ``beta`` (per neuron)."""
    lif.brian2_set(group, pop)
    group.beta = np.broadcast_to(np.asarray(pop.beta, np.float64), (pop.size,))


# --------------------------------------------------------------------------- Lava
def lava_kwargs(pop: Any) -> dict[str, Any]:
    """Arguments of our Lava stochastic processes: LIF's float ones plus ``beta``."""
    kw = lif.lava_kwargs(pop, False)
    kw["beta"] = np.broadcast_to(np.asarray(pop.beta, np.float64), (pop.size,)).copy()
    return kw


KIND = NeuronKind(
    name="stochastic", code=2, module=__name__, spiking=True, state=("u", "v"),
    cpu_params=cpu_params, reference_step=reference_step,
    monitor_vars=("spikes", "v", "u"), takes_noise=True, draws=True, has_membrane=True,
    numerics=("float",), backends=lif.BACKENDS, refusal=lif.refusal)
