"""Lava processes of the stochastic (escape-noise) LIF, float only (``floating_pt``).

``NdStochastic`` / ``NdStochasticRefractory`` are :class:`~.processes.NdLIF` /
``NdLIFRefractory`` with a per-neuron ``beta`` Var and the uniforms of the run
(``uniforms``: ``[steps, n]``, precomputed by :func:`neurodeploy.variability.counter_rng.draws`
at the coordinates the cpu loop draws, so spikes are the cpu backend's). Their models are
ours for the float LIF (Lava's ``PyLifModelFloat`` / ``PyLifRefractoryModelFloat``, with
recording and temporal noise) with one change: the spiking activation is the escape of
:mod:`neurodeploy.neurons.stochastic` instead of ``v > vth``.
"""
from __future__ import annotations

import typing as ty

import numpy as np

from neurodeploy import _lava_compat

_lava_compat.install()

from lava.magma.core.decorator import implements, requires  # noqa: E402
from lava.magma.core.model.py.type import LavaPyType  # noqa: E402
from lava.magma.core.process.variable import Var  # noqa: E402
from lava.magma.core.resources import CPU  # noqa: E402
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol  # noqa: E402

from neurodeploy.neurons.stochastic import spike_probability  # noqa: E402

from .processes import (NdLIF, NdLIFRefractory, PyNdLifModelFloat,  # noqa: E402
                        PyNdLifRefractoryModelFloat)

__all__ = ["NdStochastic", "NdStochasticRefractory", "Escape", "add_beta"]


def add_beta(proc: NdLIF, shape: tuple[int, ...], beta: ty.Any) -> None:
    """A per-neuron ``beta`` Var (the escape-noise width) on a LIF process."""
    proc.beta = Var(shape=shape, init=np.broadcast_to(np.asarray(beta, float), shape).copy())


class NdStochastic(NdLIF):
    """Stochastic LIF: ``NdLIF`` (float) plus ``beta`` and the run's ``uniforms``."""

    def __init__(self, *, shape: tuple[int, ...], beta: ty.Any = 0.1,
                 uniforms: np.ndarray, **kwargs: ty.Any) -> None:
        super().__init__(shape=shape, uniforms=uniforms, **kwargs)
        add_beta(self, shape, beta)


class NdStochasticRefractory(NdLIFRefractory):
    """Stochastic LIF with a refractory period (silent while refractory)."""

    def __init__(self, *, shape: tuple[int, ...], beta: ty.Any = 0.1,
                 uniforms: np.ndarray, **kwargs: ty.Any) -> None:
        super().__init__(shape=shape, uniforms=uniforms, **kwargs)
        add_beta(self, shape, beta)


class Escape:
    """Mixin: spike when this step's uniform is below the escape probability."""

    def spiking_activation(self) -> np.ndarray:
        r = self.proc_params["uniforms"][self.time_step - 1]
        with np.errstate(over="ignore"):
            fire = r < spike_probability(self.v, self.vth, self.beta)
        if hasattr(self, "refractory_period_end"):
            fire &= self.refractory_period_end < self.time_step
        return fire


@implements(proc=NdStochastic, protocol=LoihiProtocol)
@requires(CPU)
class PyNdStochasticModelFloat(Escape, PyNdLifModelFloat):
    """Our float LIF model with the escape activation (tag floating_pt)."""

    implements_process = None
    beta: np.ndarray = LavaPyType(np.ndarray, float)


@implements(proc=NdStochasticRefractory, protocol=LoihiProtocol)
@requires(CPU)
class PyNdStochasticRefractoryModelFloat(Escape, PyNdLifRefractoryModelFloat):
    """Our refractory float LIF model with the escape activation (tag floating_pt)."""

    implements_process = None
    beta: np.ndarray = LavaPyType(np.ndarray, float)
