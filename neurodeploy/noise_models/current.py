"""Synaptic-current noise: the input a neuron receives at step ``t`` becomes ``a +
sigma_state * normal(seed, chip, pop, i, t, STREAM_CURRENT)`` before it enters u (fixed:
``floor(x + 0.5)`` in activation units, i.e. before the activation shift; ``sigma_state`` is
``sigma`` in v_th units times the population scale). Manifest: ``current: {pop: {sigma,
sigma_state}}``."""
from __future__ import annotations

from typing import Any

from neurodeploy.variability.streams import STREAM_CURRENT

from .model import NoiseModel, gaussian_increment, sigma_value


def manifest(ir: Any, scale: float, shift: float) -> dict[str, float]:
    """``sigma`` (v_th units) and ``sigma_state`` (activation units: no shift)."""
    return {"sigma": ir.sigma, "sigma_state": ir.sigma * scale}


MODEL = NoiseModel(name="current", channel="current", stream=STREAM_CURRENT,
                   needs_membrane=True, manifest=manifest, value=sigma_value,
                   reference=gaussian_increment(STREAM_CURRENT),
                   doc="Gaussian noise of std ``sigma`` (units of v_th per step) added to the "
                       "synaptic input a lif neuron receives every step, before it enters the "
                       "current u.",
                   ir_fields={"sigma": ("nonnegative", "std (units of v_th per step)")},
                   ir_class="CurrentNoise")
