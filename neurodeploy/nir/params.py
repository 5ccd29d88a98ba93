"""NIR neuron parameters <-> IR lif parameters, under the forward-Euler discretisation.

One step of length ``dt`` (the IR's ``u`` and ``v``; ``du = dt/tau_syn``, ``dv = dt/tau_mem``)::

    u[t] = u[t-1]*(1 - du) + a[t]            a[t] = sum_j w_ij s_j[t-1-delay]
    v[t] = v[t-1]*(1 - dv) + u[t] + bias     spike if v[t] > v_th, then v[t] = 0

A NIR neuron node with input ``x`` (what its incoming edges sum to) maps to it with a
per-neuron ``gain`` multiplying every weight (and constant input) that reaches it::

    LIF      tau dv/dt = v_leak - v + r x         tau_syn = dt,  gain = dt/tau * r
    CubaLIF  tau_syn dI/dt = -I + w_in x,         u = dt/tau_mem * r * I,
             tau_mem dv/dt = v_leak - v + r I     gain = dt/tau_mem * r * dt/tau_syn * w_in
    IF       dv/dt = r x                          tau_syn = dt, no leak, gain = dt * r
    LI, CubaLI, I                                 as LIF, CubaLIF, IF, never spiking
    Threshold  z = x > threshold                  tau_syn = tau_mem = dt, gain = 1

and ``bias = dt/tau_mem * v_leak``. Constant inputs (Affine and Conv biases) do not go into
``bias``: they arrive through projections from an always-firing clock population, with the
same one-step latency as spikes (see :mod:`.importer` and docs/nir.md).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .graphio import NirError

NO_LEAK_FACTOR = 2.0 ** 60
"""IR v1 needs a finite tau_mem: no leak is tau_mem = dt * 2**60, so 1 - dv == 1.0 exactly."""
NO_LEAK_LIMIT = 2.0 ** 53
"""tau_mem >= dt * 2**53 makes 1 - dt/tau_mem round to 1.0: the membrane does not leak."""
NEVER_SPIKE = float(np.finfo(np.float64).max)
"""v_th of non-spiking nodes (LI, CubaLI, I): no finite v exceeds it."""
SPIKING = ("LIF", "CubaLIF", "IF", "Threshold")
NON_SPIKING = ("LI", "CubaLI", "I")
NEURON_TYPES = SPIKING + NON_SPIKING


@dataclass
class NeuronMap:
    """One NIR neuron node as an IR lif population (per-neuron arrays are flat)."""

    type: str
    shape: tuple[int, ...]
    tau_syn: float
    tau_mem: float
    v_th: np.ndarray
    gain: np.ndarray
    leak_bias: np.ndarray
    gauge: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1

    @property
    def spiking(self) -> bool:
        return self.type in SPIKING


def no_leak(tau_mem: float, dt: float) -> bool:
    """True when the IR's tau_mem means 'no leak' (1 - dt/tau_mem == 1.0 in float64)."""
    return 1.0 - dt / tau_mem == 1.0


def never_spikes(v_th: np.ndarray) -> bool:
    """True when every threshold is the non-spiking sentinel."""
    return bool(np.all(np.asarray(v_th) >= NEVER_SPIKE))


def _arr(node: object, name: str, attr: str, shape: tuple | None = None) -> np.ndarray:
    """A node parameter as a float64 array, checked to be finite (and of ``shape``)."""
    value = np.asarray(getattr(node, attr), dtype=np.float64)
    if shape is not None and value.shape != shape:
        if value.size == 1:
            value = np.full(shape, float(value.reshape(-1)[0]))
        else:
            raise NirError(f"node '{name}' ({type(node).__name__}): {attr} has shape "
                           f"{value.shape} but the node has shape {shape}")
    if not np.all(np.isfinite(value)):
        raise NirError(f"node '{name}' ({type(node).__name__}): {attr} holds NaN or inf")
    return value


def _uniform_tau(name: str, node: object, attr: str, shape: tuple, dt: float) -> float:
    """The one time constant of a node (IR v1 has one per population), checked >= dt."""
    tau = _arr(node, name, attr, shape)
    kind = type(node).__name__
    first = float(tau.reshape(-1)[0]) if tau.size else dt
    if tau.size and not np.all(tau == first):
        raise NirError(f"node '{name}' ({kind}): {attr} varies per neuron ({tau.min():g} to "
                       f"{tau.max():g}); IR v1 has one {attr} per population, so this cannot "
                       "be mapped exactly")
    if first < dt:
        raise NirError(f"node '{name}' ({kind}): {attr} = {first:g} is shorter than dt = "
                       f"{dt:g}; forward Euler needs tau >= dt, pass a smaller --dt")
    return first


def _zero_reset(name: str, node: object, shape: tuple) -> None:
    reset = getattr(node, "v_reset", None)
    if reset is not None and np.any(_arr(node, name, "v_reset", shape) != 0):
        raise NirError(f"node '{name}' ({type(node).__name__}): v_reset is not 0; the IR resets "
                       "v to 0, and a shifted reset cannot be mapped exactly with v starting at 0")


def _threshold(name: str, node: object, attr: str, shape: tuple) -> np.ndarray:
    v_th = _arr(node, name, attr, shape).reshape(-1)
    if np.any(v_th <= 0):
        raise NirError(f"node '{name}' ({type(node).__name__}): {attr} must be > 0 (IR v_th "
                       f"is positive), got {v_th.min():g}")
    return v_th


def shape_of(node: object) -> tuple[int, ...]:
    """Neuron shape of a NIR neuron node (from its defining parameter)."""
    attr = {"LIF": "tau", "LI": "tau", "CubaLIF": "tau_mem", "CubaLI": "tau_mem", "IF": "r",
            "I": "r", "Threshold": "threshold"}[type(node).__name__]
    return tuple(int(n) for n in np.shape(getattr(node, attr)))


def from_nir(name: str, node: object, dt: float, exact: bool = False,
             jump: bool = False) -> NeuronMap:
    """Map a NIR neuron node to IR lif parameters; refuse what has no exact mapping.

    ``exact`` integrates LIF/LI exactly over a step with the input held (``dv = 1 -
    exp(-dt/tau)``, as Sinabs does) instead of forward Euler (``dv = dt/tau``). ``jump``
    makes a CubaLIF's input jump its current by ``w_in x`` (Norse's LIFCell) instead of
    ``dt/tau_syn w_in x``.
    """
    kind = type(node).__name__
    shape = shape_of(node)
    n = int(np.prod(shape)) if shape else 1
    never = np.full(n, NEVER_SPIKE)
    if kind in ("LIF", "LI"):
        tau = _uniform_tau(name, node, "tau", shape, dt)
        r = _arr(node, name, "r", shape).reshape(-1)
        v_leak = _arr(node, name, "v_leak", shape).reshape(-1)
        dv = -float(np.expm1(-dt / tau)) if exact else dt / tau
        v_th = never
        if kind == "LIF":
            _zero_reset(name, node, shape)
            v_th = _threshold(name, node, "v_threshold", shape)
        return NeuronMap(kind, shape, dt, dt / dv if exact else tau, v_th, dv * r, dv * v_leak,
                         {"r": r})
    if exact and kind in ("CubaLIF", "CubaLI"):
        raise NirError(f"node '{name}' ({kind}): --integrator exact maps LIF and LI nodes "
                       "only; the exact solution of a CubaLIF step is not the IR's update "
                       "(import it with the default, forward Euler)")
    if kind in ("CubaLIF", "CubaLI"):
        tau_syn = _uniform_tau(name, node, "tau_syn", shape, dt)
        tau_mem = _uniform_tau(name, node, "tau_mem", shape, dt)
        r = _arr(node, name, "r", shape).reshape(-1)
        w_in = _arr(node, name, "w_in", shape).reshape(-1)
        v_leak = _arr(node, name, "v_leak", shape).reshape(-1)
        du, dv = dt / tau_syn, dt / tau_mem
        v_th = never
        if kind == "CubaLIF":
            _zero_reset(name, node, shape)
            v_th = _threshold(name, node, "v_threshold", shape)
        return NeuronMap(kind, shape, tau_syn, tau_mem, v_th,
                         dv * r * (1.0 if jump else du) * w_in, dv * v_leak,
                         {"r": r, "w_in": w_in})
    if kind in ("IF", "I"):
        r = _arr(node, name, "r", shape).reshape(-1)
        v_th = never
        if kind == "IF":
            _zero_reset(name, node, shape)
            v_th = _threshold(name, node, "v_threshold", shape)
        return NeuronMap(kind, shape, dt, dt * NO_LEAK_FACTOR, v_th, dt * r, np.zeros(n),
                         {"r": r})
    if kind == "Threshold":
        v_th = _threshold(name, node, "threshold", shape)
        return NeuronMap(kind, shape, dt, dt, v_th, np.ones(n), np.zeros(n))
    raise NirError(f"node '{name}' ({kind}) is not a neuron node")


# --------------------------------------------------------------------------- export
def canonical_type(tau_syn: float, tau_mem: float, v_th: np.ndarray, dt: float, where: str) -> str:
    """The NIR node type that represents IR lif parameters."""
    spiking = not never_spikes(v_th)
    if spiking and np.any(np.asarray(v_th) >= NEVER_SPIKE):
        raise NirError(f"{where}: mixes never-spiking and spiking thresholds; NIR nodes "
                       "either spike or not")
    leak_free = no_leak(tau_mem, dt)
    if dt / tau_syn == 1.0:
        if leak_free:
            return "IF" if spiking else "I"
        return "LIF" if spiking else "LI"
    if leak_free:
        raise NirError(f"{where}: a synaptic filter (tau_syn {tau_syn:g}) with a non-leaking "
                       "membrane has no NIR node (CubaLIF needs a finite tau_mem)")
    return "CubaLIF" if spiking else "CubaLI"


def to_nir(kind: str, shape: tuple, tau_syn: float, tau_mem: float, v_th: np.ndarray,
           bias: np.ndarray, dt: float, gauge: dict | None = None,
           where: str = "population") -> tuple[object, np.ndarray]:
    """A NIR node of type ``kind`` with the IR parameters, and the gain its inputs carry.

    ``gauge`` holds the NIR factors the IR folds into weights (``r``, ``w_in``); without it
    the canonical gauge makes the gain 1, so NIR weights equal IR weights. ``bias`` becomes
    ``v_leak``. Raises ValueError when the parameters do not fit ``kind``.
    """
    import nir

    gauge = gauge or {}
    n = int(np.prod(shape)) if shape else 1
    full = lambda x: np.broadcast_to(np.asarray(x, dtype=np.float64), (n,)).copy()  # noqa: E731
    v_th, bias = full(v_th), full(bias)
    spiking = kind in SPIKING
    if spiking == never_spikes(v_th):
        raise ValueError(f"{where}: thresholds do not fit a {kind} node")
    du, dv = dt / tau_syn, dt / tau_mem
    shaped = lambda x: full(x).reshape(shape)  # noqa: E731
    if kind in ("LIF", "LI", "IF", "I", "Threshold") and du != 1.0:
        raise ValueError(f"{where}: tau_syn {tau_syn:g} != dt; {kind} has no synaptic filter")
    if kind in ("LIF", "LI", "CubaLIF", "CubaLI"):
        if no_leak(tau_mem, dt):
            raise ValueError(f"{where}: no leak does not fit a {kind} node")
        r = full(gauge.get("r", tau_mem / dt))
        gain = dv * r
        if kind.startswith("Cuba"):
            w_in = full(gauge.get("w_in", tau_syn / dt))
            gain = gain * du * w_in
        v_leak = bias / dv
        common = dict(r=shaped(r), v_leak=shaped(v_leak))
        if kind == "LIF":
            node = nir.LIF(tau=shaped(tau_mem), v_threshold=shaped(v_th), **common)
        elif kind == "LI":
            node = nir.LI(tau=shaped(tau_mem), **common)
        else:
            extra = {"v_threshold": shaped(v_th)} if kind == "CubaLIF" else {}
            cls = nir.CubaLIF if kind == "CubaLIF" else nir.CubaLI
            node = cls(tau_syn=shaped(tau_syn), tau_mem=shaped(tau_mem), w_in=shaped(w_in),
                       **common, **extra)
        return node, gain
    if kind in ("IF", "I"):
        if not no_leak(tau_mem, dt):
            raise ValueError(f"{where}: tau_mem {tau_mem:g} leaks; {kind} does not")
        r = full(gauge.get("r", 1.0 / dt))
        gain = dt * r
        if np.any(bias != 0):
            raise ValueError(f"{where}: {kind} has no v_leak to hold the bias")
        node = nir.IF(r=shaped(r), v_threshold=shaped(v_th)) if kind == "IF" else nir.I(r=shaped(r))
        return node, gain
    if kind == "Threshold":
        if dv != 1.0 or np.any(bias != 0):
            raise ValueError(f"{where}: a Threshold node has no state and no bias of its own")
        return nir.Threshold(threshold=shaped(v_th)), np.ones(n)
    raise ValueError(f"{where}: unknown neuron type {kind}")
