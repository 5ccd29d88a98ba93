"""Temporal noise models as data: what is drawn every step, where it enters, from which stream.

The build's manifest holds the network's ``noise`` block (``membrane: {pop: {sigma,
sigma_state}}``, ``spike_drop: {pop: {p}}``). Every draw comes from
:mod:`neurodeploy.variability.counter_rng` at coordinates (seed, chip, population id,
neuron, step, stream), so all backends see the same noise:

* **membrane** -- after the neuron update of step ``t`` and before the threshold test,
  ``v += sigma_state * normal(seed, chip, pop, i, t, STREAM_MEMBRANE)``; in fixed builds the
  increment is ``floor(sigma_state * z + 0.5)`` (integer state units; ``sigma_state`` is
  ``sigma`` in v_th units times the population scale and the activation shift).
* **current** -- noise on the synaptic input: the input a neuron receives at step ``t``
  becomes ``a + sigma_state * normal(..., STREAM_CURRENT)`` before it enters u (fixed:
  ``floor(x + 0.5)`` in activation units, i.e. before the activation shift; ``sigma_state``
  is ``sigma`` in v_th units times the population scale). Manifest entry ``current: {pop:
  {sigma, sigma_state}}``.
* **spike_drop** -- a spike emitted by neuron ``i`` at step ``t`` is recorded but not
  delivered to any synapse when ``uniform(seed, chip, pop, i, t, STREAM_SPIKE_DROP) < p``.

The cpu step loop calls the scalar functions; :meth:`TemporalNoise.precompute` gives the
same numbers as ``[steps, size]`` arrays for Lava and Brian2.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import counter_rng as R


@dataclass(frozen=True)
class PopulationNoise:
    """Noise settings of one population (zero means off)."""

    name: str
    pop_id: int
    sigma: float = 0.0          # membrane noise, units of v_th
    sigma_state: float = 0.0    # membrane noise in the build's state units
    p_drop: float = 0.0         # spike-drop probability
    current_sigma: float = 0.0  # synaptic-current noise, units of v_th
    current_sigma_state: float = 0.0


@dataclass(frozen=True)
class TemporalNoise:
    """Every population's temporal noise, read from a plan's ``noise`` block."""

    fixed: bool
    populations: dict[str, PopulationNoise] = field(default_factory=dict)

    @classmethod
    def from_plan(cls, plan: Any) -> "TemporalNoise":
        """Collect the manifest noise block of ``plan`` (a SimPlan) per population."""
        per: dict[str, dict[str, float]] = {}
        for pop, entry in (plan.noise.get("membrane") or {}).items():
            per.setdefault(pop, {}).update(sigma=float(entry["sigma"]),
                                           sigma_state=float(entry.get("sigma_state",
                                                                       entry["sigma"])))
        for pop, entry in (plan.noise.get("current") or {}).items():
            per.setdefault(pop, {}).update(
                current_sigma=float(entry["sigma"]),
                current_sigma_state=float(entry.get("sigma_state", entry["sigma"])))
        for pop, entry in (plan.noise.get("spike_drop") or {}).items():
            per.setdefault(pop, {})["p_drop"] = float(entry["p"])
        pops = {name: PopulationNoise(name=name, pop_id=R.population_id(name), **vals)
                for name, vals in per.items()}
        return cls(fixed=plan.fixed, populations=pops)

    @property
    def active(self) -> bool:
        return any(p.sigma_state > 0 or p.p_drop > 0 or p.current_sigma_state > 0
                   for p in self.populations.values())

    def precompute(self, seed: int, chip: int, population: str, size: int, steps: int
                   ) -> dict[str, np.ndarray]:
        """``{"membrane" | "current": [steps, size] increments, "drop": [steps, size] bool}``
        of one population (keys present only for the noise it has)."""
        pop = self.populations.get(population)
        out: dict[str, np.ndarray] = {}
        if pop is None:
            return out
        if pop.sigma_state > 0:
            z = R.draws(seed, chip, pop.pop_id, size, steps, R.STREAM_MEMBRANE, "normal")
            inc = pop.sigma_state * z
            out["membrane"] = np.floor(inc + 0.5).astype(np.int64) if self.fixed else inc
        if pop.current_sigma_state > 0:
            z = R.draws(seed, chip, pop.pop_id, size, steps, R.STREAM_CURRENT, "normal")
            inc = pop.current_sigma_state * z
            out["current"] = np.floor(inc + 0.5).astype(np.int64) if self.fixed else inc
        if pop.p_drop > 0:
            u = R.draws(seed, chip, pop.pop_id, size, steps, R.STREAM_SPIKE_DROP, "uniform")
            out["drop"] = u < pop.p_drop
        return out


def membrane_increment(sigma_state: float, fixed: bool, seed: int, chip: int, pop_id: int,
                       neuron: int, step: int) -> float:
    """One membrane-noise increment as the step loop adds it (reference for backends)."""
    x = sigma_state * R.normal(seed, chip, pop_id, neuron, step, R.STREAM_MEMBRANE)
    return float(math.floor(x + 0.5)) if fixed else x
