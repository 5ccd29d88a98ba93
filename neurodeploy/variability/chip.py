"""A Monte Carlo chip: fixed-pattern mismatch sampled once from (seed, chip index).

Every random array of a chip comes from its own generator seeded with
``SeedSequence([seed, index, crc32(what), crc32(name)])``: the draws of one population or
projection do not depend on the network's other elements, on the batch a chip runs in, or
on the backend. The chip stores standard-normal / uniform draws, not parameters, so the
same chip at two settings of a sweep differs only in the setting (common random numbers).

* :meth:`Chip.apply` gives a :class:`SimPlan` with this chip's effective parameters (any
  backend; ``du``/``dv`` become per-neuron arrays when time constants have mismatch).
* :meth:`Chip.overrides` / :func:`stack_overrides` give the per-instance override dict of
  ``CpuBackend.run_batch`` for one or many chips stacked on the batch axis.
* :meth:`Chip.learning_gain` gives the per-synapse learning-rate gain of a projection.
"""
from __future__ import annotations

import copy
import zlib
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from neurodeploy.neurons import MEMBRANE_KINDS, FixedConstants

import neurodeploy.variability.effective as E
from .config import MismatchConfig



def _rng(seed: int, index: int, what: str, name: str) -> np.random.Generator:
    ss = np.random.SeedSequence([int(seed), int(index), zlib.crc32(what.encode()),
                                 zlib.crc32(name.encode())])
    return np.random.Generator(np.random.PCG64(ss))


def _synapse_shape(proj: Any) -> tuple[int, ...]:
    return tuple(np.shape(proj.weights))


def _post_index(proj: Any) -> np.ndarray:
    """Post neuron of every entry of the projection's weight array."""
    if proj.format == "dense":
        return np.broadcast_to(np.arange(proj.shape[0])[:, None], proj.shape)
    return np.asarray(proj.rows, dtype=np.int64)


@dataclass
class Chip:
    """Chip ``index`` of ``seed`` under mismatch settings ``config``."""

    seed: int
    index: int
    config: MismatchConfig
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    # ------------------------------------------------------------------ draws
    def _draw(self, what: str, name: str, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
        key = (what, name, shape)
        if key not in self._cache:
            rng = _rng(self.seed, self.index, what, name)
            if what == "neurons":
                out = {k: rng.standard_normal(shape) for k in ("vth", "tau_mem", "tau_syn", "bias")}
                out["fault"] = rng.random(shape)
                out["gain"] = rng.standard_normal(shape)     # drawn last: older draws unchanged
            elif what == "synapses":
                out = {k: rng.standard_normal(shape) for k in ("gain", "write", "nu")}
                out.update({k: rng.random(shape) for k in ("stuck", "stuck_kind", "sign")})
            elif what == "learning":
                out = {"lr": rng.standard_normal(shape)}
            else:
                raise ValueError(what)
            self._cache[key] = out
        return self._cache[key]

    def neuron_draws(self, population: str, size: int) -> dict[str, np.ndarray]:
        """Standard-normal draws ``vth, tau_mem, tau_syn, bias, gain`` and uniform ``fault``."""
        return self._draw("neurons", population, (size,))

    def masks(self, population: str, size: int) -> tuple[np.ndarray, np.ndarray]:
        """(dead, stuck_on) boolean masks of a population (disjoint)."""
        u = self.neuron_draws(population, size)["fault"]
        d = self.config.values["dead_fraction"]
        s = self.config.values["stuck_on_fraction"]
        return u < d, (u >= d) & (u < d + s)

    def input_gain(self, population: str, size: int) -> np.ndarray:
        """Per-neuron input gain ``max(1 + gain_cv z, 0)``: one factor on every synaptic
        input of a neuron (an analog neuron's input amplifier or membrane capacitance)."""
        return E.gain(self.neuron_draws(population, size)["gain"], self.config.values["gain_cv"])

    def synapse_draws(self, projection: str, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
        """Per-synapse draws (shape of the plan's weight array)."""
        return self._draw("synapses", projection, tuple(shape))

    # ------------------------------------------------------------------ learning
    def learning_gain(self, projection: str, shape: Sequence[int] | None = None,
                      plan: Any = None) -> np.ndarray:
        """Per-synapse learning-rate gain ``A_ij = 1 + cv * z_ij`` (clipped at 0).

        ``projection`` names a forward or a feedback projection; each name has its own
        independent draws, so forward and feedback gains are independent. ``shape`` is the
        projection's weight-array shape (``[post, pre]`` dense, ``[nnz]`` coo); pass the plan
        instead to take it from there. Settings: ``variability.learning.cv`` (CV),
        ``.update_noise`` (std of additive update noise in LSBs) and
        ``.stochastic_rounding`` are in :attr:`learning_settings`."""
        if shape is None:
            if plan is None or projection not in plan.projections:
                raise ValueError(f"learning_gain({projection!r}) needs shape= or a plan "
                                 "holding that projection")
            shape = _synapse_shape(plan.projections[projection])
        z = self._draw("learning", projection, tuple(int(s) for s in shape))["lr"]
        return E.gain(z, self.config.values["learning_rate_cv"])

    @property
    def learning_settings(self) -> dict[str, Any]:
        """``{"cv", "update_noise", "stochastic_rounding", "weight_bits"}`` for the learning
        engine (update noise in LSBs of ``E.update_lsb`` at ``weight_bits``)."""
        v = self.config.values
        return {"cv": v["learning_rate_cv"], "update_noise": v["update_noise"],
                "stochastic_rounding": bool(v["stochastic_rounding"]),
                "weight_bits": int(v["learning_weight_bits"])}

    # ------------------------------------------------------------------ parameters
    def population_params(self, plan: Any, name: str) -> dict[str, np.ndarray]:
        """Effective ``vth, du, dv, bias_mant`` (per neuron) of LIF or stochastic population
        ``name``."""
        pop = plan.populations[name]
        v, n, fixed = self.config.values, pop.size, plan.fixed
        z = self.neuron_draws(name, n)
        vth = E.threshold(pop.vth, z["vth"], v["v_th_cv"], fixed)
        fc = FixedConstants.from_neuron_model(plan.neuron_model)
        du = E.decay(np.broadcast_to(pop.du, (n,)), z["tau_syn"], v["tau_syn_cv"], fixed,
                     fc.du_offset if fixed else 0, fc.decay_bits)
        dv = E.decay(np.broadcast_to(pop.dv, (n,)), z["tau_mem"], v["tau_mem_cv"], fixed,
                     fc.dv_offset, fc.decay_bits)
        unit = pop.scale * 2.0 ** (fc.activation_shift - pop.bias_exp) if fixed else 1.0
        bias = E.bias(pop.bias_mant, z["bias"], v["bias_sigma"], fixed, unit)
        dead, stuck = self.masks(name, n)
        if dead.any() or stuck.any():
            bias = np.where(dead, 0, bias)
            bias = np.where(stuck, 1 if fixed else 1.0, bias)
            vth = np.where(stuck, 0, vth)
        dt = np.int64 if fixed else np.float64
        return {"vth": vth.astype(dt), "du": du.astype(dt), "dv": dv.astype(dt),
                "bias_mant": bias.astype(dt)}

    def projection_weights(self, plan: Any, name: str) -> np.ndarray:
        """Effective weights of projection ``name`` (shape of the plan's weight array)."""
        proj = plan.projections[name]
        post_pop = plan.populations[proj.post]
        draws = self.synapse_draws(name, _synapse_shape(proj))
        dead, stuck = self.masks(proj.post, post_pop.size)
        silenced = dead | stuck
        dead_post = silenced[_post_index(proj)] if silenced.any() else None
        post_gain = None
        if (self.config.values["gain_cv"] > 0 and post_pop.kind in MEMBRANE_KINDS
                and getattr(proj, "port", None) != "third_factor"):
            post_gain = self.input_gain(proj.post, post_pop.size)[_post_index(proj)]
        return E.weights(proj.weights, draws, self.config, fixed=plan.fixed,
                         sign_mode=proj.sign_mode, bits=proj.num_weight_bits,
                         dead_post=dead_post, post_gain=post_gain)

    # ------------------------------------------------------------------ outputs
    def overrides(self, plan: Any) -> dict[str, Any]:
        """``CpuBackend.run_batch`` overrides for this chip alone (batch of one)."""
        return stack_overrides([self], plan)

    def apply(self, plan: Any) -> Any:
        """A copy of ``plan`` with this chip's effective parameters (every backend)."""
        out = copy.copy(plan)
        out.populations = {}
        for name, pop in plan.populations.items():
            p = copy.copy(pop)
            if pop.kind in MEMBRANE_KINDS:
                for key, val in self.population_params(plan, name).items():
                    if key in ("du", "dv") and np.ndim(getattr(pop, key)) == 0 \
                            and np.all(val == val[0]):
                        val = val[0].item()     # no time-constant mismatch: keep the scalar
                    setattr(p, key, val)
            out.populations[name] = p
        out.projections = {}
        for name, proj in plan.projections.items():
            q = copy.copy(proj)
            q.weights = self.projection_weights(plan, name).astype(
                proj.weights.dtype if plan.fixed else np.float64)
            out.projections[name] = q
        out.mismatch_applied = True     # lifts compilers.mismatch_refusal for this plan
        return out


def batch_plan(plan: Any) -> Any:
    """``plan`` marked as run with per-instance chip overrides (see :func:`stack_overrides`),
    which lifts ``compilers.mismatch_refusal`` for it."""
    out = copy.copy(plan)
    out.mismatch_applied = True
    return out


def stack_overrides(chips: Sequence[Chip], plan: Any, repeat: int = 1) -> dict[str, Any]:
    """Overrides of ``chips`` stacked on the batch axis (each chip ``repeat`` times in a row,
    e.g. once per input sample): batch size ``len(chips) * repeat``. Run them with
    ``CpuBackend.run_batch(batch_plan(plan), inputs, steps, len(chips) * repeat,
    overrides=...)``."""
    pops: dict[str, dict[str, np.ndarray]] = {}
    for name, pop in plan.populations.items():
        if pop.kind not in MEMBRANE_KINDS:
            continue
        per = [c.population_params(plan, name) for c in chips]
        pops[name] = {k: np.repeat(np.stack([p[k] for p in per]), repeat, axis=0)
                      for k in ("vth", "du", "dv", "bias_mant")}
    projs = {name: {"weights": np.repeat(np.stack([c.projection_weights(plan, name)
                                                   for c in chips]), repeat, axis=0)}
             for name in plan.projections}
    return {"populations": pops, "projections": projs}
