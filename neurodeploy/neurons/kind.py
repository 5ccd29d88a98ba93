"""What a neuron kind is: its name, the numba code the cpu loop dispatches on, its state and
parameter slots, and the fixed-point constants it reads from a build's ``neuron_model``.

A kind is defined once in its own module (:mod:`.lif`, :mod:`.graded`) with its quantizer,
NumPy reference step and per-backend translations; :mod:`neurodeploy.neurons` registers it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


@dataclass(frozen=True)
class FixedConstants:
    """Fixed-point constants of a neuron model, from a build's ``neuron_model`` (never
    literals in a backend). Defaults are Loihi 2's (Lava's ``AbstractPyLifModelFixed``)."""

    decay_bits: int = 12
    state_bits: int = 24
    activation_shift: int = 6
    threshold_shift: int = 6
    du_offset: int = 1
    dv_offset: int = 0

    @classmethod
    def from_neuron_model(cls, nm: dict[str, Any] | None) -> "FixedConstants":
        """Constants of a build's ``neuron_model`` block (missing keys: Loihi 2's)."""
        nm = nm or {}
        return cls(**{k: int(nm[k]) for k in cls.__dataclass_fields__ if k in nm})

    @property
    def decay_top(self) -> int:
        """Largest value of a decay register (``du``, ``dv``)."""
        return (1 << self.decay_bits) - 1

    def cpu_tuple(self) -> np.ndarray:
        """The order the cpu step functions read them in (``fx`` of the step loop)."""
        return np.array([self.decay_bits, self.activation_shift, self.du_offset,
                         self.dv_offset, self.state_bits, self.threshold_shift], np.int64)


#: kinds with the LIF's state (u, v) and parameters (du, dv, vth, bias, refractory); how
#: they spike differs (:mod:`.lif`: threshold, :mod:`.stochastic`: escape noise)
MEMBRANE_KINDS = ("lif", "stochastic")
#: float parameter slots of the cpu loop (``p0..p4``)
N_SLOTS = 5


@dataclass(frozen=True)
class NeuronKind:
    """One neuron kind.

    ``cpu_step(t, a, z, r, u, v, aux, p0, p1, p2, p3, p4, pi, fx) -> (u, v, aux, out,
    spiked)`` is the kind's numba scalar step (inlined into the cpu step loop through the
    generated dispatcher, :mod:`.cpu_dispatch`): ``a`` the delivered input, ``z`` this step's
    membrane noise, ``r`` this step's uniform in [0, 1) at ``STREAM_STOCHASTIC`` (drawn only
    for kinds with ``draws``; 0.0 otherwise), ``u, v`` (build dtype) and ``aux`` (int64) its
    state, ``p0..p4`` (build dtype) and ``pi`` (int64) its parameter slots as ``cpu_params``
    fills them (missing slots are 0), ``out`` what it emits (0: nothing; 1 for a spike, the
    value for a graded event). ``spiked`` counts as a spike (rates, monitors, y0)."""

    name: str
    code: int
    module: str                       # where cpu_step lives (the dispatcher imports it)
    spiking: bool                     # emits binary spikes (else graded values)
    state: tuple[str, ...]
    cpu_params: Callable[..., dict[str, Any]]
    reference_step: Callable[..., Any]
    monitor_vars: tuple[str, ...] = ("spikes",)
    takes_noise: bool = False
    draws: bool = False               # reads a uniform r each step (the cpu loop draws it)
    notes: dict[str, str] = field(default_factory=dict)
    has_membrane: bool = False        # u and v: membrane and current noise apply to it
    numerics: tuple[str, ...] = ("fixed", "float")
    #: backends with a translation of this kind, and the modes they run it in (the cpu
    #: loop runs every kind through ``cpu_step``); a backend refuses the others by name
    backends: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {"cpu": ("run", "batch", "learn")})
    #: ``refusal(pop, fixed, fc) -> str | None``: why a population's parameters cannot run
    refusal: Callable[..., str | None] | None = None
    #: what the kind keeps in the cpu loop's ``aux`` slot: ``int`` (an int64, e.g. the last
    #: refractory step) or ``float`` (an adaptation state), which the int64 slot would
    #: truncate: the cpu backend refuses such a kind instead
    aux_dtype: str = "int"

    def runs_on(self, backend: str, mode: str) -> bool:
        """Whether ``backend`` has a translation of this kind for ``mode``."""
        return mode in self.backends.get(backend, ())
