"""Membrane noise: ``v += sigma_state * normal(seed, chip, pop, i, t, STREAM_MEMBRANE)`` after
the neuron update of step ``t`` and before the threshold test; in fixed builds the increment
is ``floor(sigma_state * z + 0.5)`` state units (``sigma`` in v_th units times the
population scale and ``2**activation_shift``). Manifest: ``membrane: {pop: {sigma,
sigma_state}}``."""
from __future__ import annotations

from typing import Any

from neurodeploy.variability.streams import STREAM_MEMBRANE

from .model import NoiseModel, gaussian_increment, sigma_value


def manifest(ir: Any, scale: float, shift: float) -> dict[str, float]:
    """``sigma`` (v_th units) and ``sigma_state`` (state units, after the activation shift)."""
    return {"sigma": ir.sigma, "sigma_state": ir.sigma * scale * shift}


MODEL = NoiseModel(name="membrane", channel="membrane", stream=STREAM_MEMBRANE,
                   needs_membrane=True, manifest=manifest, value=sigma_value,
                   reference=gaussian_increment(STREAM_MEMBRANE),
                   doc="Gaussian noise of std ``sigma`` (units of v_th) added to v every step.",
                   ir_fields={"sigma": ("nonnegative", "std (units of v_th)")},
                   ir_class="MembraneNoise")
