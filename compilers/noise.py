"""Temporal noise of a plan as precomputed per-step arrays, the same on every backend.

Every backend reads the numbers :class:`neurodeploy.variability.noise.TemporalNoise`
precomputes from the counter-based random function (see ``docs/noise.md``), one array per
*channel* of the registered noise models (:mod:`neurodeploy.noise_models`):

* ``membrane[pop]`` -- ``[steps, size]`` increments added to ``v`` after the LIF update and
  before the threshold test (int64 state units in fixed builds, float64 otherwise);
* ``current[pop]`` -- ``[steps, size]`` increments added to the input a neuron receives at
  that step, before it enters u (int64 activation units in fixed builds);
* ``drop[pop]`` -- ``[steps, size]`` bool, True where a spike of that neuron at that step is
  not delivered to any synapse (it is still recorded, and the neuron still resets).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neurodeploy.errors import BackendError
from neurodeploy.neurons import has_membrane, kind_of
from neurodeploy.noise_models import MODELS

from .plan import SimPlan

#: largest precomputed noise block of one run (bytes); longer runs are refused
MAX_NOISE_BYTES = 1 << 30


@dataclass
class NoiseArrays:
    """Precomputed membrane increments and spike-drop masks per population."""

    membrane: dict[str, np.ndarray] = field(default_factory=dict)
    current: dict[str, np.ndarray] = field(default_factory=dict)
    drop: dict[str, np.ndarray] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.membrane or self.drop)


def noise_refusal(plan: SimPlan) -> str | None:
    """Why the plan's noise block cannot be applied: an unregistered model, an unknown
    target, a model that needs a membrane on a population without one, or a bad value."""
    for name, entries in plan.noise.items():
        model = MODELS.get(name)
        if model is None:
            return (f"noise.{name} is not a registered noise model (known: "
                    f"{', '.join(MODELS)})")
        for pop, entry in (entries or {}).items():
            p = plan.populations.get(pop)
            if p is None:
                return f"noise.{name} names unknown population '{pop}'"
            if model.needs_membrane and not has_membrane(p.kind):
                return (f"noise.{name} on {p.kind} population '{pop}': {name} noise needs a "
                        "membrane (u and v), which this kind does not have")
            reason = model.refusal(pop, entry)
            if reason:
                return reason
    return None


def noise_arrays(plan: SimPlan, steps: int, chip: int = 0) -> NoiseArrays:
    """The plan's temporal noise for ``steps`` steps of chip ``chip`` (seed: the build's)."""
    out = NoiseArrays()
    if not plan.noise:
        return out
    from neurodeploy.variability.noise import TemporalNoise
    tn = TemporalNoise.from_plan(plan)
    if not tn.active:
        return out
    need = 0
    for name, pn in tn.populations.items():
        if name in plan.populations:
            size = plan.populations[name].size
            need += steps * size * sum(1 if MODELS[m].channel == "drop" else 8
                                       for m, v in pn.values.items() if v > 0)
    if need > MAX_NOISE_BYTES:
        raise BackendError(f"temporal noise of {steps} steps needs {need / 2**20:.0f} MiB of "
                           f"precomputed draws (limit {MAX_NOISE_BYTES >> 20} MiB); run fewer "
                           "steps, or pass --frozen to run without noise")
    for name in tn.populations:
        if name not in plan.populations:
            continue
        arrs = tn.precompute(plan.seed, chip, name, plan.populations[name].size, steps)
        if "membrane" in arrs:
            out.membrane[name] = arrs["membrane"]
        if "current" in arrs:
            out.current[name] = arrs["current"]
        if "drop" in arrs:
            out.drop[name] = arrs["drop"]
    return out


def stochastic_uniforms(plan: SimPlan, steps: int, chip: int = 0,
                        step0: int = 0) -> dict[str, np.ndarray]:
    """``[steps, size]`` uniforms of every stochastic population for chip ``chip`` from
    step ``step0`` on: the numbers the cpu loop draws (``STREAM_STOCHASTIC``), for backends
    that read them."""
    from neurodeploy.variability import counter_rng as R
    pops = {n: p for n, p in plan.populations.items() if getattr(kind_of(p.kind), "draws", False)}
    need = 8 * steps * sum(p.size for p in pops.values())
    if need > MAX_NOISE_BYTES:
        raise BackendError(f"the stochastic neurons' draws for {steps} steps need "
                           f"{need / 2**20:.0f} MiB precomputed (limit "
                           f"{MAX_NOISE_BYTES >> 20} MiB); run fewer steps, or use --backend cpu")
    return {n: R.draws(plan.seed, chip, n, p.size, steps, R.STREAM_STOCHASTIC, "uniform",
                       step0=step0) for n, p in pops.items()}


def delivered(spikes: np.ndarray, drop: np.ndarray | None) -> np.ndarray:
    """``spikes`` [steps, size] (or [B, steps, size]) with dropped spikes removed."""
    if drop is None:
        return spikes
    return np.where(drop[: spikes.shape[-2]], np.zeros_like(spikes), spikes)
