"""The leaky integrate-and-fire neuron, Lava's ``LIF``: its one home.

Fixed point (``PyLifModelBitAcc``; constants from the build's ``neuron_model``)::

    u = wrap_u(decay(u, unity - (du + du_offset)) + (wrap32(a) << activation_shift))
    v = clip(wrap32(decay(v, unity - (dv + dv_offset)) + u + bias), +-(2**(state_bits-1) - 1))
    spike = v > vth << threshold_shift;  v = 0 on a spike

with ``decay(x, m) = sign(x m) (|x m| >> decay_bits)`` and ``wrap_u`` Lava's single wrap of
u into 24 bits. Float (``PyLifModelFloat``; ``PyLifRefractoryModelFloat`` with a refractory
period): ``u = u (1 - du) + a; v = v (1 - dv) + u + bias``. Membrane noise ``z`` is added to
v (and clipped again in fixed point) before the threshold (docs/noise.md).

Here: the parameter slots the cpu loop reads, the NumPy reference steps (the oracle the
jitted loop and Lava are checked against), the numba scalar step, the Brian2 update code
and the Lava process. The quantizer (float IR parameters to Lava's registers) is
:func:`neurodeploy.neurons.lif_quantize.quantize`.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, types
from numba.extending import overload

from neurodeploy.jit import CACHE, wrap32

from .kind import FixedConstants, NeuronKind

LOIHI2 = FixedConstants()


# --------------------------------------------------------------------------- parameters
def effective_bias(bias_mant: Any, bias_exp: Any) -> np.ndarray:
    """Lava's ``scale_bias``: the int16-stored mantissa shifted by the int16 exponent."""
    bm = np.asarray(bias_mant).astype(np.int16).astype(np.int32)
    be = np.asarray(bias_exp).astype(np.int16)
    return np.where(be >= 0, np.left_shift(bm, np.maximum(be, 0)),
                    np.right_shift(bm, np.maximum(-be, 0))).astype(np.int32)


def cpu_params(pop: Any, fixed: bool, fc: FixedConstants,
               over: dict[str, Any] | None = None) -> dict[str, Any]:
    """Slots p0..p3 = du, dv, threshold, bias (state units) and pi = refractory period;
    ``over`` replaces du / dv / vth / bias_mant (per neuron or ``[B, N]``, a chip)."""
    over = over or {}
    du, dv = over.get("du", pop.du), over.get("dv", pop.dv)
    vth, bias = over.get("vth", pop.vth), over.get("bias_mant", pop.bias_mant)
    if fixed:
        return {"p0": np.asarray(du, np.int64), "p1": np.asarray(dv, np.int64),
                "p2": np.left_shift(np.asarray(vth, np.int64), fc.threshold_shift),
                "p3": effective_bias(bias, pop.bias_exp).astype(np.int64), "pi": 0}
    return {"p0": du, "p1": dv, "p2": vth, "p3": bias, "pi": int(pop.refractory)}


def refusal(pop: Any, fixed: bool, fc: FixedConstants) -> str | None:
    """Why a LIF population's parameters cannot run: a negative refractory period, one in a
    fixed build (Lava's bit-accurate LIF has none), decays outside the decay register."""
    if pop.refractory < 0:
        return f"negative refractory period {pop.refractory}"
    if pop.refractory and fixed:
        return (f"refractory {pop.refractory} in a fixed build; Lava's bit-accurate LIF has no "
                "refractory period (LIFRefractory is floating_pt only); compile with "
                "refractory: 0")
    top = fc.decay_top
    if fixed and not (0 <= np.min(pop.du) and np.max(pop.du) <= top
                      and 0 <= np.min(pop.dv) and np.max(pop.dv) <= top):
        return (f"du={pop.du}, dv={pop.dv} outside the {fc.decay_bits}-bit decay register "
                f"0..{top}")
    return None


#: the backends with a LIF translation (Lava's LIF processes, the Brian2 code below)
BACKENDS = {"cpu": ("run", "batch", "learn"), "lava": ("run", "learn"),
            "brian2": ("run", "learn")}


# --------------------------------------------------------------------------- NumPy reference
def _round_decay(x: np.ndarray, mult: np.ndarray, bits: int) -> np.ndarray:
    """``sign(x*m) * (|x*m| >> bits)`` in int64, cast to int32 (Lava's decay)."""
    prod = x.astype(np.int64) * mult
    return (np.sign(prod) * np.right_shift(np.abs(prod), bits)).astype(np.int32)


def reference_fixed_step(u: np.ndarray, v: np.ndarray, a_in: np.ndarray, du: Any, dv: Any,
                         vth: Any, bias_mant: Any, bias_exp: Any,
                         fc: FixedConstants = LOIHI2) -> np.ndarray:
    """One ``PyLifModelBitAcc`` step on int32 ``u``/``v`` (in place); returns the spikes.
    ``a_in`` is wrapped to int32 (the port channel), not truncated to int16."""
    a = np.asarray(a_in).astype(np.int32, casting="unsafe")
    unity = 1 << fc.decay_bits
    max_uv = 1 << (fc.state_bits - 1)
    dec_u = _round_decay(u, unity - (np.asarray(du, np.int64) + fc.du_offset), fc.decay_bits)
    dec_u = dec_u + np.left_shift(a, fc.activation_shift)            # int32, wraps
    wrapped = np.where(dec_u > max_uv, dec_u - np.int32(2 * max_uv), dec_u)
    u[...] = np.where(wrapped <= -max_uv, dec_u + np.int32(2 * max_uv), wrapped)
    dec_v = _round_decay(v, unity - (np.asarray(dv, np.int64) + fc.dv_offset), fc.decay_bits)
    v[...] = np.clip(dec_v + u + effective_bias(bias_mant, bias_exp), -max_uv + 1, max_uv - 1)
    spikes = v > np.left_shift(np.asarray(vth, np.int64), fc.threshold_shift)
    v[spikes] = 0
    return spikes


def reference_float_step(u: np.ndarray, v: np.ndarray, a_in: np.ndarray, du: Any, dv: Any,
                         vth: Any, bias_mant: Any) -> np.ndarray:
    """One ``PyLifModelFloat`` step (float64, Lava's operation order; it ignores bias_exp)."""
    u[...] = u * (1 - np.asarray(du, np.float64))
    u += a_in
    v[...] = v * (1 - np.asarray(dv, np.float64)) + u + bias_mant
    spikes = v > vth
    v[spikes] = 0
    return spikes


def reference_refractory_float_step(u: np.ndarray, v: np.ndarray, a_in: np.ndarray, du: float,
                                    dv: float, vth: np.ndarray, bias_mant: np.ndarray,
                                    refractory: int, ref_end: np.ndarray, time_step: int
                                    ) -> np.ndarray:
    """One ``PyLifRefractoryModelFloat`` step (``time_step`` counts from 1, as Lava's)."""
    u[...] = u * (1 - du)
    u += a_in
    live = ref_end < time_step
    v[live] = v[live] * (1 - dv) + (u[live] + np.broadcast_to(bias_mant, v.shape)[live])
    spikes = v > vth
    ref_end[spikes] = time_step + refractory
    v[spikes] = 0
    return spikes


# --------------------------------------------------------------------------- cpu (numba)
def cpu_step(t, a, z, r, u, v, aux, p0, p1, p2, p3, p4, pi, fx):
    """One LIF step on scalars (see :class:`~.kind.NeuronKind`); integer state selects the
    bit-accurate arithmetic at compile time, float state Lava's float models."""


@overload(cpu_step, inline="always", jit_options={"cache": CACHE})
def _cpu_step_overload(t, a, z, r, u, v, aux, p0, p1, p2, p3, p4, pi, fx):
    if isinstance(u, types.Integer):
        return lambda t, a, z, r, u, v, aux, p0, p1, p2, p3, p4, pi, fx: _fixed(
            a, z, u, v, aux, p0, p1, p2, p3, fx)
    return lambda t, a, z, r, u, v, aux, p0, p1, p2, p3, p4, pi, fx: _float(
        t, a, z, u, v, aux, p0, p1, p2, p3, pi)


@njit(cache=CACHE, inline="always")
def _fixed(a, z, u, v, aux, du, dv, vth, bias, fx):
    """``PyLifModelBitAcc``; fx = (decay bits, activation shift, du offset, dv offset,
    state bits, threshold shift)."""
    unity = 1 << fx[0]
    max_uv = 1 << (fx[4] - 1)
    vmax = max_uv - 1
    p = u * (unity - (du + fx[2]))
    q = np.abs(p) >> fx[0]
    x = wrap32((-q if p < 0 else q) + (wrap32(a) << fx[1]))
    x = x - 2 * max_uv if x > max_uv else x
    x = x + 2 * max_uv if x <= -max_uv else x
    p = v * (unity - (dv + fx[3]))
    q = np.abs(p) >> fx[0]
    y = wrap32((-q if p < 0 else q) + x + bias)
    y = min(max(y, -vmax), vmax)
    y = min(max(y + z, -vmax), vmax)
    f = y > vth
    return x, (0 if f else y), aux, (1 if f else 0), f


@njit(cache=CACHE, inline="always")
def float_update(t, a, z, u, v, aux, du, dv, bias, refr):
    """The float u, v update with membrane noise ``z``: ``PyLifModelFloat``'s, or
    ``PyLifRefractoryModelFloat``'s when refr > 0 (aux is the last refractory step, Lava's
    ``refractory_period_end``). Returns (u, v, live); ``live`` is false while refractory."""
    x = u * (1.0 - du) + a
    live = refr == 0 or aux < t + 1
    if refr == 0:
        y = v * (1.0 - dv) + x + bias
    elif live:
        y = v * (1.0 - dv) + (x + bias)
    else:
        y = v
    return x, y + z, live


@njit(cache=CACHE, inline="always")
def _float(t, a, z, u, v, aux, du, dv, vth, bias, refr):
    """``PyLifModelFloat`` / ``PyLifRefractoryModelFloat``: :func:`float_update`, then
    ``v > vth``."""
    x, y, _ = float_update(t, a, z, u, v, aux, du, dv, bias, refr)
    return float_fire(t, x, y, aux, y > vth, refr)


@njit(cache=CACHE, inline="always")
def float_fire(t, x, y, aux, f, refr):
    """The float step's result for spike decision ``f``: v reset to 0 on a spike, and the
    refractory period's last step (``aux``) set when there is one."""
    if f:
        y = 0.0
        if refr != 0:
            aux = t + 1 + refr
    return x, y, aux, (1.0 if f else 0.0), f


# --------------------------------------------------------------------------- Brian2
# One operation per statement: the float result does not depend on how sympy orders
# commutative operands. ``cu``/``cv`` hold exactly Lava's (1 - du), (1 - dv) in float64.
BRIAN2_EQUATIONS = """
u : 1
v : 1
a : 1
vth : 1 (constant)
bias : 1 (constant)
cu : 1 (constant)
cv : 1 (constant)
"""
BRIAN2_UPDATE = """
u = u * cu
u = u + a
a = 0
v = v * cv
v = v + u
v = v + bias
"""
# PyLifRefractoryModelFloat: u always integrates; v only when not refractory, as
# ``v * (1 - dv) + (u + bias)``. The select is exact (x*1 + y*0 with finite x, y); ``rc``
# counts the refractory steps left (a spike at T holds v at T+1 .. T+refractory).
BRIAN2_UPDATE_REFRACTORY = """
u = u * cu
u = u + a
a = 0
_ub = u + bias
_vd = v * cv
_vn = _vd + _ub
_free = int(rc <= 0)
v = _free * _vn + (1 - _free) * v
rc = rc - 1
"""
BRIAN2_REFRACTORY_EQUATIONS = "rc : integer\nrperiod : integer (shared, constant)\n"


def brian2_code(refractory: int) -> tuple[str, str, str]:
    """(equations, per-step update, reset) of a Brian2 NeuronGroup for this LIF."""
    if refractory > 0:
        return (BRIAN2_EQUATIONS + BRIAN2_REFRACTORY_EQUATIONS, BRIAN2_UPDATE_REFRACTORY,
                "v = 0\nrc = rperiod")
    return BRIAN2_EQUATIONS, BRIAN2_UPDATE, "v = 0"


def brian2_set(group: Any, pop: Any) -> None:
    """Parameter values of a Brian2 group (per neuron: a mismatched chip has its own)."""
    group.cu = np.float64(1.0) - np.broadcast_to(np.asarray(pop.du, np.float64), (pop.size,))
    group.cv = np.float64(1.0) - np.broadcast_to(np.asarray(pop.dv, np.float64), (pop.size,))
    group.vth = np.asarray(pop.vth, dtype=np.float64)
    group.bias = np.asarray(pop.bias_mant, dtype=np.float64)   # float model ignores bias_exp
    if pop.refractory > 0:
        group.rperiod = int(pop.refractory)
        group.rc = 0


# --------------------------------------------------------------------------- Lava
def lava_mismatch(neuron_model: dict[str, Any]) -> str | None:
    """Why Lava's bit-accurate LIF cannot run a fixed build of this ``neuron_model`` (its
    widths are Loihi 2's), or None when it can."""
    fc = FixedConstants.from_neuron_model(neuron_model)
    bad = [f"{k} {getattr(fc, k)} (Lava: {getattr(LOIHI2, k)})"
           for k in ("state_bits", "decay_bits", "activation_shift", "threshold_shift")
           if getattr(fc, k) != getattr(LOIHI2, k)]
    if not bad:
        return None
    return (f"this build's neuron model has {', '.join(bad)}; Lava's bit-accurate LIF has "
            "Loihi 2's widths only: run it on --backend cpu, or compile for a profile with "
            "Lava's widths")


def lava_kwargs(pop: Any, fixed: bool) -> dict[str, Any]:
    """Arguments of Lava's LIF processes (ours take per-neuron du, dv, vth)."""
    n = pop.size
    ddt = np.int64 if fixed else np.float64
    kw: dict[str, Any] = {
        "du": np.broadcast_to(np.asarray(pop.du, ddt), (n,)).copy(),
        "dv": np.broadcast_to(np.asarray(pop.dv, ddt), (n,)).copy(),
        "vth": np.asarray(pop.vth, ddt),
        "bias_mant": np.asarray(pop.bias_mant, ddt),
        "bias_exp": (np.full(n, int(pop.bias_exp), np.int64) if fixed else np.zeros(n))}
    if pop.refractory > 0:      # float only (refused for fixed builds)
        kw["refractory_period"] = int(pop.refractory)
    return kw


KIND = NeuronKind(
    name="lif", code=0, module=__name__, spiking=True, state=("u", "v"),
    cpu_params=cpu_params, reference_step=reference_fixed_step,
    monitor_vars=("spikes", "v", "u"), takes_noise=True, has_membrane=True,
    backends=BACKENDS, refusal=refusal)
