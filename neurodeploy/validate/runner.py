"""Monte Carlo runner: chips in chunks, on the cpu backend (batched), Lava or Brian2.

A task is (sweep point, chip indices). :func:`run_task` is a pure top-level function of the
settings dict and the task, so it runs the same in this process or on a Dask worker; the
results of a chip depend only on (build, settings, seed, chip index), never on the chunk
it ran in or on the machine, which is what makes ``--resume`` and Dask runs equal to a
plain local run.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neurodeploy.compile.artifact import Build
from neurodeploy.errors import NeurodeployError
from neurodeploy.variability.chip import Chip, batch_plan, stack_overrides
from neurodeploy.variability.config import MismatchConfig

from . import metrics
from .spec import parse_spec

CHUNK = {"cpu": 25, "lava": 4, "brian2": 1}


@dataclass
class Settings:
    """Everything that determines the results of a validation run."""

    build: str
    chips: int
    seed: int
    spec: str | None = None
    sweep_path: str | None = None
    sweep_values: list = field(default_factory=list)
    sets: dict = field(default_factory=dict)
    backend: str = "cpu"
    steps: int | None = None
    input: str | None = None
    chunk: int | None = None
    threads: int | None = None
    frozen: bool = False

    def points(self) -> list[dict[str, Any]]:
        """Command-line overrides of each sweep point (one point without a sweep)."""
        if not self.sweep_path:
            return [dict(self.sets)]
        return [{**self.sets, self.sweep_path: v} for v in self.sweep_values]

    def key(self) -> str:
        """Hash of what results depend on (not the chip count, chunking or threads), with
        the build's manifest digest, so resuming with other settings is refused."""
        d = asdict(self)
        for k in ("chips", "chunk", "threads"):
            d.pop(k)
        d["build_digest"] = _build_digest(self.build)
        d["input_digest"] = _file_digest(self.input) if self.input else None
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()


def _build_digest(path: str) -> str:
    return hashlib.sha256((Path(path) / "manifest.json").read_bytes()).hexdigest()


def _file_digest(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------------------- worker context
_CONTEXTS: dict[str, "_Context"] = {}


@dataclass
class _Context:
    """Per-process cache of what every task of one run shares (plan, inputs, nominal chip)."""

    plan: Any
    inputs: dict[str, np.ndarray]
    steps: int
    base: MismatchConfig
    nominal: dict[str, np.ndarray] | None
    fanout: dict[str, np.ndarray]
    base_synops: float
    backend: Any


def load_context(s: Settings) -> _Context:
    """Plan (spikes of every LIF population monitored), inputs, nominal raster, backend."""
    key = json.dumps({k: v for k, v in asdict(s).items() if k not in ("chips", "chunk")},
                     sort_keys=True, default=str)
    if key in _CONTEXTS:
        return _CONTEXTS[key]
    from neurodeploy.compilers import get_backend, load_plan, make_inputs
    from neurodeploy.compilers.plan import read_input_file
    plan = load_plan(s.build)
    if s.frozen:
        plan = plan.frozen()
    lif = [n for n, p in plan.populations.items() if p.kind == "lif"]
    plan.monitors = [(n, "spikes") for n in lif]
    steps = plan.steps if s.steps is None else int(s.steps)
    opts = {"threads": s.threads} if s.backend == "cpu" and s.threads else {}
    backend = get_backend(s.backend, **opts)
    backend.check(batch_plan(plan))         # refusals (plasticity, noise, ...) come first
    given = read_input_file(s.input) if s.input else None
    inputs = make_inputs(plan, steps, given)
    base = MismatchConfig.from_manifest(Build(s.build).manifest)
    fanout = metrics.fanout_of(plan)
    base_synops = float(sum(inputs[n].sum(axis=0) @ fanout[n] for n in inputs))
    ctx = _Context(plan=plan, inputs=inputs, steps=steps, base=base, nominal=None,
                   fanout=fanout, base_synops=base_synops, backend=backend)
    nominal = _simulate(ctx, s.backend, [None])[0]          # for distances
    ctx.nominal = {pop: metrics.filtered(r, plan.dt) for pop, r in nominal.items()}
    _CONTEXTS.clear()            # one run at a time per process
    _CONTEXTS[key] = ctx
    return ctx


def _simulate(ctx: _Context, backend: str, chips: list[Chip | None]) -> list[dict[str, np.ndarray]]:
    """Spike rasters ``{pop: [T, n]}`` of each chip (None: the nominal chip)."""
    plan, steps = ctx.plan, ctx.steps
    if backend == "cpu":
        real = [c for c in chips if c is not None]
        if real and len(real) != len(chips):
            raise ValueError("mix of nominal and real chips")
        ov = stack_overrides(real, plan) if real else None
        run_plan = batch_plan(plan) if real else plan.nominal()
        res = ctx.backend.run_batch(run_plan, ctx.inputs, steps, len(chips), overrides=ov)
        return [{pop: res[f"{pop}.spikes"][b] for pop, _ in plan.monitors}
                for b in range(len(chips))]
    plans = [plan.nominal() if c is None else c.apply(plan) for c in chips]
    if backend == "lava":
        results = ctx.backend.run_many([(p, ctx.inputs) for p in plans], steps)
    else:
        results = [ctx.backend.run(p, ctx.inputs, steps) for p in plans]
    return [{pop: r[f"{pop}.spikes"] for pop, _ in plan.monitors} for r in results]


def chip_summary(chip: Chip, plan: Any) -> dict[str, float]:
    """What makes a chip unusual: fault counts and mean parameter shifts."""
    dead = stuck = 0
    vth = []
    for name, pop in plan.populations.items():
        if pop.kind != "lif":
            continue
        d, s = chip.masks(name, pop.size)
        dead += int(d.sum())
        stuck += int(s.sum())
        vth.append(chip.neuron_draws(name, pop.size)["vth"])
    v = chip.config.values
    stuck_syn, gains = 0, []
    for name, proj in plan.projections.items():
        dr = chip.synapse_draws(name, tuple(np.shape(proj.weights)))
        if v["stuck_fraction"] > 0:
            stuck_syn += int(np.count_nonzero(dr["stuck"] < v["stuck_fraction"]))
        from neurodeploy.variability.effective import gain
        gains.append(gain(dr["gain"], v["weights_cv"], v["weights_dist"]).ravel())
    z = np.concatenate(vth) if vth else np.zeros(0)
    g = np.concatenate(gains) if gains else np.ones(0)
    return {"dead_neurons": dead, "stuck_on_neurons": stuck, "stuck_synapses": stuck_syn,
            "mean_vth_shift": float(v["v_th_cv"] * z.mean()) if z.size else 0.0,
            "mean_weight_gain": float(g.mean()) if g.size else 1.0}


def run_task(settings: dict, point: int, indices: list[int]) -> list[dict]:
    """Simulate chips ``indices`` at sweep point ``point``; one result dict per chip."""
    s = Settings(**settings)
    ctx = load_context(s)
    overrides = s.points()[point]
    cfg = ctx.base.with_overrides(overrides)
    chips = [Chip(s.seed, int(k), cfg) for k in indices]
    rasters = _simulate(ctx, s.backend, chips)
    stacked = {pop: np.stack([r[pop] for r in rasters]) for pop in rasters[0]} if rasters else {}
    figs = metrics.figures(stacked, ctx.nominal, ctx.plan.dt, ctx.fanout, ctx.steps,
                           ctx.base_synops)
    spec = parse_spec(s.spec) if s.spec else None
    value = s.sweep_values[point] if s.sweep_path else None
    out = []
    for chip, f in zip(chips, figs):
        out.append({"point": point, "value": value, "chip": chip.index, "seed": s.seed,
                    "figures": f, "pass": spec.holds(f) if spec else None,
                    "margin": spec.margin(f) if spec else None,
                    "chip_summary": chip_summary(chip, ctx.plan)})
    return out


CHUNK_BYTES = 256 << 20     # cpu chunks: rasters + distance temporaries stay under this


def chunk_size(s: Settings, manifest: dict) -> int:
    """Chips per task: ``--chunk``, else the backend's default, made smaller for long runs
    so one chunk's rasters and filtered traces (~33 bytes per neuron-step) fit CHUNK_BYTES."""
    if s.chunk:
        return s.chunk
    size = CHUNK.get(s.backend, 1)
    steps = s.steps or manifest["steps"]
    n = sum(int(p["size"]) for p in manifest["populations"].values() if p["kind"] == "lif")
    per_chip = max(1, steps * n * 33)
    return max(1, min(size, CHUNK_BYTES // per_chip))


def plan_tasks(s: Settings, done: set[tuple[int, int]], size: int
               ) -> list[tuple[int, list[int]]]:
    """(point, chip indices) chunks of every chip not yet in ``done``."""
    tasks = []
    for p in range(len(s.points())):
        todo = [k for k in range(s.chips) if (p, k) not in done]
        for i in range(0, len(todo), size):
            tasks.append((p, todo[i:i + size]))
    return tasks


def check_settings(s: Settings) -> None:
    """Fail early (one line) on settings no task could run."""
    if s.chips < 1:
        raise NeurodeployError(f"--chips must be >= 1; got {s.chips}", path=("--chips",))
    if s.backend not in CHUNK:
        raise NeurodeployError(f"unknown backend '{s.backend}'; use cpu, lava or brian2",
                               path=("--backend",))
    if s.chunk is not None and s.chunk < 1:
        raise NeurodeployError(f"--chunk must be >= 1; got {s.chunk}", path=("--chunk",))
    for overrides in s.points():
        MismatchConfig().with_overrides(overrides)
