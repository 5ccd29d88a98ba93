"""Temporal noise as data: every population's registered noise models and their draws.

The build's manifest holds the network's ``noise`` block, one entry per registered model
(:mod:`neurodeploy.noise_models`: ``membrane``, ``current``, ``spike_drop``; each module
documents what it draws and where it enters). Every draw comes from
:mod:`neurodeploy.variability.counter_rng` at coordinates (seed, chip, population id,
neuron, step, stream), so all backends see the same noise: the cpu step loop calls the
scalar functions per channel; :meth:`TemporalNoise.precompute` gives the same numbers as
``[steps, size]`` arrays (each model's reference draw) for Lava and Brian2.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neurodeploy.noise_models import MODELS

from . import counter_rng as R


@dataclass(frozen=True)
class PopulationNoise:
    """Noise settings of one population: the value of each registered model it has
    (:mod:`neurodeploy.noise_models`; zero means off)."""

    name: str
    pop_id: int
    values: dict[str, float] = field(default_factory=dict)

    def channel(self, channel: str) -> float:
        """The value of the model entering through ``channel`` (0.0 when none does)."""
        return sum(v for m, v in self.values.items() if MODELS[m].channel == channel)

    @property
    def sigma_state(self) -> float:
        """Membrane noise in the build's state units."""
        return self.channel("membrane")

    @property
    def current_sigma_state(self) -> float:
        """Synaptic-current noise in activation units."""
        return self.channel("current")

    @property
    def p_drop(self) -> float:
        """Spike-drop probability."""
        return self.channel("drop")


@dataclass(frozen=True)
class TemporalNoise:
    """Every population's temporal noise, read from a plan's ``noise`` block."""

    fixed: bool
    populations: dict[str, PopulationNoise] = field(default_factory=dict)

    @classmethod
    def from_plan(cls, plan: Any) -> "TemporalNoise":
        """Collect the manifest noise block of ``plan`` (a SimPlan) per population; blocks
        of unregistered models are left to the backends' refusal."""
        per: dict[str, dict[str, float]] = {}
        for name, entries in plan.noise.items():
            if name not in MODELS:
                continue
            for pop, entry in (entries or {}).items():
                per.setdefault(pop, {})[name] = MODELS[name].value(entry)
        pops = {name: PopulationNoise(name=name, pop_id=R.population_id(name), values=vals)
                for name, vals in per.items()}
        return cls(fixed=plan.fixed, populations=pops)

    @property
    def active(self) -> bool:
        return any(v > 0 for p in self.populations.values() for v in p.values.values())

    def precompute(self, seed: int, chip: int, population: str, size: int, steps: int
                   ) -> dict[str, np.ndarray]:
        """``{channel: [steps, size]}`` of one population (``membrane`` / ``current``
        increments, ``drop`` bool), keys present only for the noise it has: each model's
        reference draw (:class:`~neurodeploy.noise_models.model.NoiseModel`)."""
        pop = self.populations.get(population)
        out: dict[str, np.ndarray] = {}
        if pop is None:
            return out
        for name, value in pop.values.items():
            if value > 0:
                model = MODELS[name]
                out[model.channel] = model.reference(value, seed, chip, pop.pop_id, size,
                                                     steps, self.fixed)
        return out


def membrane_increment(sigma_state: float, fixed: bool, seed: int, chip: int, pop_id: int,
                       neuron: int, step: int) -> float:
    """One membrane-noise increment as the step loop adds it (reference for backends)."""
    x = sigma_state * R.normal(seed, chip, pop_id, neuron, step, R.STREAM_MEMBRANE)
    return float(math.floor(x + 0.5)) if fixed else x
