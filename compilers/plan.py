"""A build directory read into NumPy arrays: what every backend simulates.

Timing contract shared by all backends (it is Lava's): at step ``t`` a spike_source or
Poisson population emits column ``t`` of its input; a projection delivers at step
``t + 1 + delay`` what its pre population emitted at step ``t``; within a step every
projection first delivers, then neurons update, then projections take the new spikes.
Monitors record the state after the update of step ``t``.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neurodeploy.compiling.artifact import Build
from neurodeploy.errors import BackendError
from neurodeploy.neurons import SOURCE_KINDS
from neurodeploy.neurons.kind import MEMBRANE_KINDS


@dataclass
class PopulationPlan:
    """One population with per-neuron parameter arrays (hardware units for fixed builds)."""

    name: str
    kind: str
    size: int
    du: float = 0.0
    dv: float = 0.0
    vth: np.ndarray | None = None
    bias_mant: np.ndarray | None = None
    bias_exp: int = 0
    refractory: int = 0
    scale: float = 1.0
    p_spike: np.ndarray | None = None
    beta: np.ndarray | None = None      # stochastic: escape-noise width (per neuron)


@dataclass
class ProjectionPlan:
    """One projection: weights as Lava's Dense/Sparse take them, plus delays."""

    name: str
    pre: str
    post: str
    format: str
    shape: tuple[int, int]
    weights: np.ndarray
    delays: int | np.ndarray = 0
    rows: np.ndarray | None = None
    cols: np.ndarray | None = None
    weight_exp: int = 0
    num_weight_bits: int = 8
    sign_mode: str = "mixed"
    max_delay: int = 0
    port: str = "current"

    def dense_weights(self) -> np.ndarray:
        """Weights as a ``[post, pre]`` matrix (zeros where there is no synapse)."""
        if self.format == "dense":
            return self.weights
        out = np.zeros(self.shape, dtype=self.weights.dtype)
        out[self.rows, self.cols] = self.weights
        return out

    def dense_delays(self) -> np.ndarray:
        """Delays as a ``[post, pre]`` integer matrix."""
        if np.ndim(self.delays) == 0:
            return np.full(self.shape, int(self.delays), dtype=np.int64)
        if self.format == "dense":
            return np.asarray(self.delays, dtype=np.int64)
        out = np.zeros(self.shape, dtype=np.int64)
        out[self.rows, self.cols] = self.delays
        return out


@dataclass
class SimPlan:
    """Everything a backend needs, read from a build directory."""

    name: str
    path: str
    numerics: str
    dt: float
    seed: int
    steps: int
    populations: dict[str, PopulationPlan]
    projections: dict[str, ProjectionPlan]
    monitors: list[tuple[str, str]]
    plasticity: dict[str, Any] = field(default_factory=dict)
    noise: dict[str, Any] = field(default_factory=dict)
    task: dict[str, Any] | None = None
    neuron_model: dict[str, Any] = field(default_factory=dict)
    variability: dict[str, Any] = field(default_factory=dict)
    mismatch_applied: bool = False  # set by whoever applies a chip (neurodeploy.variability)

    @property
    def fixed(self) -> bool:
        return self.numerics == "fixed"

    def sources(self) -> list[str]:
        """Populations whose spikes are inputs (spike_source and Poisson)."""
        return [n for n, p in self.populations.items() if p.kind in SOURCE_KINDS]

    def draws_per_chip(self) -> bool:
        """Whether a run draws counter-based random numbers per chip (temporal noise or
        stochastic neurons): chip k must then be run with chip k's draws everywhere."""
        from neurodeploy.neurons import kind_of
        return bool(self.noise) or any(getattr(kind_of(p.kind), "draws", False)
                                       for p in self.populations.values())

    def unsupported_features(self) -> list[str]:
        """Manifest features no backend simulates in a frozen run (learning; temporal noise
        of a model that is not registered, :mod:`neurodeploy.noise_models`)."""
        from neurodeploy.noise_models import MODELS
        out = [f"plasticity.{name} ({rule['rule']})" for name, rule in self.plasticity.items()]
        out += [f"noise.{kind}" for kind in self.noise if kind not in MODELS]
        return out

    def mismatch_features(self) -> list[str]:
        """Nonzero fixed-pattern mismatch settings the build records (``name=value``)."""
        effective = (self.variability or {}).get("effective") or {}
        return [f"{k}={v}" for k, v in effective.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool) and v]

    def nominal(self) -> "SimPlan":
        """The same build deliberately run without its fixed-pattern mismatch."""
        return SimPlan(**{**self.__dict__, "variability": {}})

    def learning_parts(self) -> tuple[set[str], set[str]]:
        """(populations, projections) that exist only for learning: label and noise
        sources, graded error relays, and every projection touching them or feeding a
        third factor. With learning off they cannot change a spike of the rest."""
        pops = {n for n, p in self.populations.items() if p.kind == "graded"}
        for block in self.plasticity.values():
            pops.update(x for x in (block.get("label"), block.get("noise"), block.get("drive")) if x)
        projs = {n for n, p in self.projections.items()
                 if p.port == "third_factor" or p.pre in pops or p.post in pops}
        return pops, projs

    def frozen(self, keep_noise: bool = False) -> "SimPlan":
        """The same network with fixed weights, and without temporal noise unless
        ``keep_noise`` (a task's read-out keeps it: it is what the chip does); the learning
        pathway (:meth:`learning_parts`) is left out, as it is inert without learning."""
        pops, projs = self.learning_parts()
        kept = {kind: {n: e for n, e in (entries or {}).items() if n not in pops}
                for kind, entries in self.noise.items()} if keep_noise else {}
        noise = {kind: entries for kind, entries in kept.items() if entries}
        return SimPlan(**{**self.__dict__, "plasticity": {}, "noise": noise,
                          "populations": {n: p for n, p in self.populations.items() if n not in pops},
                          "projections": {n: p for n, p in self.projections.items() if n not in projs},
                          "monitors": [m for m in self.monitors if m[0] not in pops]})


def _per_neuron(build: Build, entry: Any, size: int, dtype: Any) -> np.ndarray:
    return np.broadcast_to(np.asarray(build.value(entry), dtype=dtype), (size,)).copy()


def load_plan(path: str | Path | Build) -> SimPlan:
    """Read a build directory into a :class:`SimPlan`."""
    build = path if isinstance(path, Build) else Build(path)
    m = build.manifest
    fixed = m["numerics"] == "fixed"
    pops: dict[str, PopulationPlan] = {}
    for name, entry in m["populations"].items():
        pop = PopulationPlan(name=name, kind=entry["kind"], size=int(entry["size"]))
        if entry["kind"] in MEMBRANE_KINDS:
            p = entry["params"]
            dtype = np.int64 if fixed else np.float64
            pop.du, pop.dv = p["du"], p["dv"]
            pop.vth = _per_neuron(build, p["vth"], pop.size, dtype)
            pop.bias_mant = _per_neuron(build, p["bias_mant"], pop.size, dtype)
            pop.bias_exp, pop.refractory = int(p["bias_exp"]), int(p["refractory"])
            pop.scale = float(entry.get("scale", 1.0))
            if entry["kind"] == "stochastic":
                pop.beta = _per_neuron(build, p["beta"], pop.size, np.float64)
        elif entry["kind"] == "poisson":
            pop.p_spike = _per_neuron(build, entry["p_spike"], pop.size, np.float64)
        pops[name] = pop
    projs: dict[str, ProjectionPlan] = {}
    for name, e in m["projections"].items():
        proj = ProjectionPlan(name=name, pre=e["pre"], post=e["post"], format=e["format"],
                              shape=(int(e["shape"][0]), int(e["shape"][1])),
                              weights=build.array(e["weights"]),
                              delays=build.value(e["delay"]), max_delay=int(e["max_delay"]),
                              weight_exp=int(e.get("weight_exp", 0)),
                              num_weight_bits=int(e.get("num_weight_bits", 8)),
                              sign_mode=e.get("sign_mode", "mixed"),
                              port=e.get("port", "current"))
        if proj.format == "coo":
            proj.rows, proj.cols = build.array(e["rows"]), build.array(e["cols"])
        projs[name] = proj
    monitors = [(mon["population"], mon["var"]) for mon in m["monitors"]]
    if not monitors:
        monitors = [(n, "spikes") for n, p in pops.items() if p.kind in MEMBRANE_KINDS]
    return SimPlan(name=m["name"], path=str(build.path), numerics=m["numerics"], dt=m["dt"],
                   seed=m["seed"], steps=m["steps"], populations=pops, projections=projs,
                   monitors=monitors, plasticity=m.get("plasticity", {}), noise=m.get("noise", {}),
                   task=m.get("task"), neuron_model=m.get("neuron_model") or {},
                   variability=m.get("variability") or {})


# --------------------------------------------------------------------------- inputs
def read_input_file(path: str | Path) -> dict[str, np.ndarray]:
    """Arrays of an input ``.npz`` (``<population>.spikes``), loaded without pickles.

    Anything but a readable ``.npz`` of numeric arrays (a lone ``.npy``, ``/dev/null``, a
    truncated archive, object arrays) is a BackendError naming the file.
    """
    from neurodeploy.arrayfile import read_npz
    return read_npz(path, error=BackendError,
                    hint="write it again (np.savez(path, **{'<population>.spikes': array}))")


def make_inputs(plan: SimPlan, steps: int, given: dict[str, np.ndarray] | None = None
                ) -> dict[str, np.ndarray]:
    """Spike trains ``[steps, size]`` (uint8) of every source population.

    spike_source populations take ``<name>.spikes`` from ``given``; Poisson populations
    are drawn from the network seed, so every backend sees the same spikes. Arrays not
    named ``*.spikes`` (labels, say) are left to the caller.
    """
    given = dict(given or {})
    out: dict[str, np.ndarray] = {}
    for name in plan.sources():
        pop = plan.populations[name]
        key = f"{name}.spikes"
        if pop.kind == "poisson":
            if key in given:
                raise BackendError(f"input has '{key}' but '{name}' is a poisson population "
                                   "drawn from the seed; remove it from the input file")
            rng = np.random.default_rng([plan.seed, zlib.crc32(name.encode()),
                                         zlib.crc32(b"poisson")])
            out[name] = (rng.random((steps, pop.size)) < pop.p_spike).astype(np.uint8)
            continue
        if key not in given:
            raise BackendError(f"no input for spike_source '{name}': pass --input with an "
                               f"array '{key}' of shape [steps, {pop.size}]")
        arr = np.asarray(given.pop(key))
        if arr.ndim != 2 or arr.shape[1] != pop.size or arr.shape[0] < steps:
            raise BackendError(f"input '{key}' has shape {arr.shape}; expected [steps >= {steps}, "
                               f"{pop.size}] (one row per step)")
        if not np.all(np.isin(arr[:steps], (0, 1))):
            raise BackendError(f"input '{key}' must hold 0/1 spikes; found other values")
        out[name] = arr[:steps].astype(np.uint8)
    extra_spikes = sorted(k for k in given if k.endswith(".spikes"))
    if extra_spikes:
        extra = ", ".join(extra_spikes)
        raise BackendError(f"input arrays {extra} match no spike_source population of "
                           f"'{plan.name}' (expected <population>.spikes)")
    return out
