"""Load a network YAML into the typed IR, with errors that name the file, field and fix."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from .. import limits
from ..errors import IRError, did_you_mean, format_path
from ..yamlio import LoadedYAML, load_yaml, parse_yaml
from ..neurons.kind import MEMBRANE_KINDS
from ..noise_models import MODELS
from .pydantic_errors import pydantic_to_error
from .weightfile import WeightFileError, outside_folder, read_weight_file
from .models import (MONITOR_VARS, FileWeights, LIFPopulation, Network, PoissonPopulation,
                     StochasticPopulation)


def load_network(path: str | Path) -> Network:
    """Read, validate and cross-check a network YAML file."""
    loaded = load_yaml(path, IRError, what="network file")
    return network_from_loaded(loaded, base_dir=Path(path).resolve().parent)


def parse_network(text: str, name: str = "<string>", base_dir: str | Path = ".") -> Network:
    """Like :func:`load_network` for YAML text (weight files resolve against ``base_dir``)."""
    return network_from_loaded(parse_yaml(text, name, IRError), base_dir=Path(base_dir))


def network_from_loaded(loaded: LoadedYAML, base_dir: Path) -> Network:
    """Validate parsed YAML data into a :class:`Network` and run cross-reference checks."""
    if not isinstance(loaded.data, dict):
        raise IRError("expected a mapping at the top level (neurodeploy: 1, name: ..., "
                      "populations: ...)", file=loaded.file, line=1)
    try:
        net = Network.model_validate(loaded.data)
    except ValidationError as exc:
        raise pydantic_to_error(exc, loaded, Network, IRError) from None
    net._base_dir = str(base_dir)
    net._file = loaded.file
    net._lines = loaded.lines
    _CrossChecker(net, loaded).check()
    return net


# --------------------------------------------------------------------------- pydantic errors
class _CrossChecker:
    """Checks that need the whole network: names, sizes, weight files, references."""

    def __init__(self, net: Network, loaded: LoadedYAML) -> None:
        self.net = net
        self.loaded = loaded

    def fail(self, path: tuple, message: str) -> None:
        raise IRError(message, file=self.loaded.file, path=path, line=self.loaded.line_of(path))

    def population(self, path: tuple, name: str) -> None:
        if name not in self.net.populations:
            self.fail(path, f"unknown population '{name}'{did_you_mean(name, self.net.populations)}"
                      f"; defined: {', '.join(self.net.populations)}")

    def check(self) -> None:
        net = self.net
        for name in net.projections:
            if name in net.populations:
                self.fail(("projections", name), f"name '{name}' is already a population; "
                          "give the projection its own name")
        for name, pop in net.populations.items():
            self._population(name, pop)
        for name, proj in net.projections.items():
            self._projection(name, proj)
        self._plasticity()
        self._task()
        for kind, model in MODELS.items():
            entry = getattr(net.noise, kind, None)
            for i, pop in enumerate((entry.populations or []) if entry else []):
                self.population(("noise", kind, "populations", i), pop)
                if model.needs_membrane and net.populations[pop].kind not in MEMBRANE_KINDS:
                    self.fail(("noise", kind, "populations", i), f"'{pop}' is a "
                              f"{net.populations[pop].kind} population without a membrane; "
                              f"{kind} noise applies to lif and stochastic populations")
        seen = set()
        for i, mon in enumerate(net.monitors):
            self.population(("monitors", i, "population"), mon.population)
            kind = net.populations[mon.population].kind
            if mon.var not in MONITOR_VARS[kind]:
                self.fail(("monitors", i, "var"), f"a {kind} population has no '{mon.var}'; "
                          f"monitor one of {', '.join(MONITOR_VARS[kind])}")
            if (mon.population, mon.var) in seen:
                self.fail(("monitors", i), f"duplicate monitor {mon.population}.{mon.var}; remove it")
            seen.add((mon.population, mon.var))
        self._run_size()

    def _run_size(self) -> None:
        """Refuse run.steps whose recorded output would not fit in memory."""
        pops = self.net.populations
        monitored = [(pops[m.population].size, m.var) for m in self.net.monitors] or \
            [(p.size, "spikes") for p in pops.values() if p.kind in MEMBRANE_KINDS]
        sources = [p.size for p in pops.values() if p.kind not in MEMBRANE_KINDS]
        steps = self.net.run.steps
        path = ("run", "steps")
        limits.check_memory(limits.run_output_bytes(steps, monitored, sources),
                            f"a run of {steps:,} steps ({len(monitored)} monitors, "
                            f"{sum(s for s, _ in monitored):,} monitored neurons)",
                            "run fewer steps or monitor fewer populations", IRError,
                            file=self.loaded.file, path=path, line=self.loaded.line_of(path))

    def _population(self, name: str, pop: Any) -> None:
        base = ("populations", name)
        if isinstance(pop, (LIFPopulation, StochasticPopulation)):
            for field in ("v_th", "bias"):
                value = getattr(pop.params, field)
                if isinstance(value, list) and len(value) != pop.size:
                    self.fail(base + ("params", field), f"has {len(value)} values but the "
                              f"population has size {pop.size}; give one value or {pop.size}")
            if pop.params.tau_syn < self.net.dt or pop.params.tau_mem < self.net.dt:
                which = "tau_syn" if pop.params.tau_syn < self.net.dt else "tau_mem"
                self.fail(base + ("params", which), f"time constant {getattr(pop.params, which)}"
                          f" ms is shorter than dt={self.net.dt} ms; use tau >= dt")
        if isinstance(pop, PoissonPopulation):
            rates = np.atleast_1d(np.asarray(pop.rate, dtype=float))
            if rates.size not in (1, pop.size):
                self.fail(base + ("rate",), f"has {rates.size} values but the population has "
                          f"size {pop.size}; give one value or {pop.size}")
            if rates.max() * self.net.dt / 1000.0 > 1.0:
                self.fail(base + ("rate",), f"rate {rates.max()} Hz exceeds one spike per step "
                          f"(dt={self.net.dt} ms); use at most {1000.0 / self.net.dt:g} Hz")

    def _projection(self, name: str, proj: Any) -> None:
        base = ("projections", name)
        self.population(base + ("pre",), proj.pre)
        self.population(base + ("post",), proj.post)
        pre = self.net.populations[proj.pre]
        post = self.net.populations[proj.post]
        if post.kind not in MEMBRANE_KINDS + ("graded",):
            self.fail(base + ("post",), f"population '{proj.post}' is a {post.kind} and cannot "
                      "receive synapses; target a lif, stochastic or graded population")
        if proj.connectivity == "one_to_one" and pre.size != post.size:
            self.fail(base + ("connectivity",), f"one_to_one needs equal sizes, got pre "
                      f"{pre.size} and post {post.size}; use dense or {{sparse: p}}")
        if isinstance(proj.weights, FileWeights):
            self.net_weights()[name] = self._weight_file(base + ("weights",), proj, pre.size,
                                                         post.size)

    def net_weights(self) -> dict:
        return weight_arrays(self.net)

    def _weight_file(self, path: tuple, proj: Any, n_pre: int, n_post: int) -> np.ndarray:
        spec: FileWeights = proj.weights
        if proj.connectivity not in ("dense", "one_to_one"):
            self.fail(path, "a weight file defines its own connectivity; use connectivity: "
                      "dense (zeros are absent synapses)")
        file = Path(self.net._base_dir) / spec.file
        fpath = path + ("file",)
        outside = outside_folder(Path(self.net._base_dir), spec.file)
        if outside:
            self.fail(fpath, outside)
        if file.suffix not in (".npy", ".npz"):
            self.fail(fpath, f"'{spec.file}' is not a .npy or .npz file")
        if not file.exists():
            self.fail(fpath, f"weight file '{spec.file}' not found (looked in {file.parent}); "
                      "paths are relative to the YAML file")
        if not file.is_file():
            self.fail(fpath, f"'{spec.file}' is not a regular file; save the weights with np.save")
        expected = (n_post,) if proj.connectivity == "one_to_one" else (n_post, n_pre)
        try:
            array = read_weight_file(file, spec.key, expected)
        except WeightFileError as exc:
            self.fail(path + ("key",) if exc.about_key else fpath,
                      exc.message.replace("{file}", f"'{spec.file}'"))
        if not np.all(np.isfinite(array)):
            bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
            self.fail(fpath, f"'{spec.file}' contains {bad} NaN/inf values; replace them")
        return np.asarray(array, dtype=np.float64)

    def _task(self) -> None:
        """The task's input is a spike_source and its output a spiking population."""
        task = self.net.task
        if task is None:
            return
        if getattr(task, "kind", None) == "sampling":
            from .sampling_check import check_sampling
            check_sampling(self)
            return
        for field, kinds in (("input", ("spike_source",)), ("output", MEMBRANE_KINDS)):
            name = getattr(task, field)
            self.population(("task", field), name)
            kind = self.net.populations[name].kind
            if kind not in kinds:
                self.fail(("task", field), f"'{name}' is a {kind} population; the task's "
                          f"{field} must be a {' or '.join(kinds)} population")

    def _plasticity(self) -> None:
        owner: dict[str, str] = {}
        for name, rule in self.net.plasticity.items():
            base = ("plasticity", name)
            for i, pop in enumerate(getattr(rule, "populations", ())):
                self.population(base + ("populations", i), pop)
            for i, proj in enumerate(getattr(rule, "projections", ())):
                if proj not in self.net.projections:
                    self.fail(base + ("projections", i), f"unknown projection '{proj}'"
                              f"{did_you_mean(proj, self.net.projections)}")
                if proj in owner and not (getattr(rule, "phase", None) and getattr(
                        self.net.plasticity[owner[proj]], "phase", None)):
                    self.fail(base + ("projections", i), f"projection '{proj}' already learns "
                              f"under '{owner[proj]}'; a projection has one rule (or several "
                              "stdp blocks with a phase, in a sampling task)")
                owner[proj] = name
            if getattr(rule, "error_from", None) is not None:
                self.population(base + ("error_from",), rule.error_from)


def weight_arrays(net: Network) -> dict[str, np.ndarray]:
    """Weight arrays read from files while loading ``net`` (projection name -> array)."""
    return net._weights_from_files


def describe(net: Network) -> str:
    """A short human summary of a network, printed by ``neurodeploy check``."""
    lines = [f"network '{net.name}' (IR v{net.neurodeploy}, seed {net.seed}, dt {net.dt} ms, "
             f"{net.run.steps} steps)"]
    for name, pop in net.populations.items():
        lines.append(f"  population {name}: {pop.kind}, {pop.size} neurons")
    for name, proj in net.projections.items():
        conn = proj.connectivity if isinstance(proj.connectivity, str) else f"sparse {proj.connectivity.sparse}"
        lines.append(f"  projection {name}: {proj.pre} -> {proj.post}, {conn}")
    for name, rule in net.plasticity.items():
        parts = getattr(rule, "projections", None) or getattr(rule, "populations", ())
        lines.append(f"  plasticity {name}: {rule.rule} on {', '.join(parts)}")
    if net.monitors:
        lines.append("  monitors: " + ", ".join(f"{m.population}.{m.var}" for m in net.monitors))
    return "\n".join(lines)


__all__ = ["load_network", "parse_network", "describe", "weight_arrays", "format_path"]
