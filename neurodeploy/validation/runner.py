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
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neurodeploy.compiling.artifact import Build
from neurodeploy.errors import NeurodeployError
from neurodeploy.neurons.kind import MEMBRANE_KINDS
from neurodeploy.variability.chip import Chip, batch_plan, stack_overrides
from neurodeploy.variability.config import MismatchConfig

from . import accuracy, metrics
from .spec import parse_spec

CHUNK = {"cpu": 25, "lava": 4, "brian2": 1}
MAX_CHIPS = 100_000         # per sweep point; every chip is a line in results.jsonl
FINETUNE_KEYS = ("finetune", "finetune_epochs", "finetune_samples", "finetune_lr_scale",
                 "finetune_freeze_feedback")


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
    data: str = "digits"
    samples: int | None = None
    finetune: bool = False
    finetune_epochs: int = 1
    finetune_samples: int | None = None
    finetune_lr_scale: float | None = None
    finetune_freeze_feedback: bool = False

    def points(self) -> list[dict[str, Any]]:
        """Command-line overrides of each sweep point (one point without a sweep)."""
        if not self.sweep_path:
            return [dict(self.sets)]
        return [{**self.sets, self.sweep_path: v} for v in self.sweep_values]

    def key(self) -> str:
        """Hash of what results depend on (not the chip count, chunking or threads), with
        the digests of the build's manifest, of the --input and --data files' content and
        the classes the build was trained on, so resuming with other settings, or after a
        file was rewritten in place, is refused."""
        from neurodeploy.learning.summary import trained_classes
        d = asdict(self)
        for k in ("chips", "chunk", "threads") + (() if self.finetune else FINETUNE_KEYS):
            d.pop(k)
        if not d.get("finetune_freeze_feedback", True):
            d.pop("finetune_freeze_feedback")       # runs from before the control keep their key
        d["build_digest"] = _build_digest(self.build)
        d["input_digest"] = _file_digest(self.input) if self.input else None
        d["data_digest"] = _file_digest(self.data) if self.data != "digits" else None
        d["classes"] = trained_classes(self.build)
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
    work: Any = None            # accuracy.Workload of a build with a task (no --input)


def load_context(s: Settings) -> _Context:
    """Plan (spikes of every LIF population monitored), inputs, nominal raster, backend."""
    key = json.dumps({k: v for k, v in asdict(s).items() if k not in ("chips", "chunk")},
                     sort_keys=True, default=str)
    if key in _CONTEXTS:
        return _CONTEXTS[key]
    from neurodeploy.compilers import get_backend, load_plan, make_inputs
    from neurodeploy.compilers.plan import read_input_file
    plan = load_plan(s.build)
    if s.finetune:
        from . import finetune
        finetune.check(s, plan)
    task_mode = bool(plan.task) and not s.input
    if s.frozen or task_mode:       # a task is read out frozen (with its noise), as evaluate does
        plan = plan.frozen(keep_noise=task_mode and not s.frozen)
    lif = [n for n, p in plan.populations.items() if p.kind in MEMBRANE_KINDS]
    plan.monitors = [(n, "spikes") for n in lif]
    steps = plan.steps if s.steps is None else int(s.steps)
    if steps < 1:
        raise NeurodeployError(f"must be >= 1; got {steps}", path=("--steps",))
    opts = {"threads": s.threads} if s.backend == "cpu" and s.threads else {}
    backend = get_backend(s.backend, **opts)
    backend.check(batch_plan(plan))         # refusals (plasticity, noise, ...) come first
    work = None
    if task_mode:
        spec = parse_spec(s.spec) if s.spec else None
        if spec is not None and any("distance" in m for m in spec.metrics):
            raise NeurodeployError("spike-train distances need rasters, which the task "
                                   "read-out does not keep; use accuracy or rate specs, or "
                                   "give --input to validate the network on a spike input",
                                   path=("--spec",))
        if s.steps is not None:
            raise NeurodeployError("does not apply to a build with a task: each test "
                                   f"sample runs the task's sample_steps ({plan.task['sample_steps']})",
                                   path=("--steps",))
        if s.samples is not None and s.samples < 1:
            raise NeurodeployError(f"must be >= 1; got {s.samples}", path=("--samples",))
        work = accuracy.load_workload(plan, s.data, s.samples, 0)
        steps = work.steps
        inputs = {work.input: work.spikes}
        src_counts = {}
    else:
        given = read_input_file(s.input) if s.input else None
        inputs = make_inputs(plan, steps, given)
        src_counts = {n: a.sum(axis=0) for n, a in inputs.items()}
    base = MismatchConfig.from_manifest(Build(s.build).manifest)
    fanout = metrics.fanout_of(plan)
    base_synops = float(sum(src_counts[n] @ fanout[n] for n in src_counts))
    ctx = _Context(plan=plan, inputs=inputs, steps=steps, base=base, nominal=None,
                   fanout=fanout, base_synops=base_synops, backend=backend, work=work)
    if work is None:
        ctx.nominal = _simulate(ctx, s.backend, [None])[0]   # for distances
    _CONTEXTS.clear()            # one run at a time per process
    _CONTEXTS[key] = ctx
    return ctx


def _simulate(ctx: _Context, backend: str, chips: list[Chip | None]
              ) -> list[dict[str, np.ndarray]]:
    """Spike rasters ``{pop: [T, n]}`` of each chip (None: the nominal chip)."""
    plan, steps = ctx.plan, ctx.steps
    if backend == "cpu":
        real = [c for c in chips if c is not None]
        if real and len(real) != len(chips):
            raise ValueError("mix of nominal and real chips")
        run_plan = batch_plan(plan) if real else plan.nominal()
        ov = stack_overrides(real, plan) if real else None
        res = ctx.backend.run_batch(run_plan, ctx.inputs, steps, len(chips), overrides=ov,
                                    noise_chips=[_noise_chip(c) for c in chips])
        return [{pop: res[f"{pop}.spikes"][b] for pop, _ in plan.monitors}
                for b in range(len(chips))]
    plans = [plan.nominal() if c is None else c.apply(plan) for c in chips]
    if plan.draws_per_chip():   # noise / stochastic neurons of chip k: one backend per chip
        from neurodeploy.compilers import get_backend
        results = [get_backend(backend, noise_chip=_noise_chip(c)).run(p, ctx.inputs, steps)
                   for c, p in zip(chips, plans)]
    elif backend == "lava":
        results = ctx.backend.run_many([(p, ctx.inputs) for p in plans], steps)
    else:
        results = [ctx.backend.run(p, ctx.inputs, steps) for p in plans]
    return [{pop: r[f"{pop}.spikes"] for pop, _ in plan.monitors} for r in results]


def _noise_chip(chip: Chip | None) -> int:
    """The chip whose temporal noise a run draws: chip k draws its own; the nominal
    (mismatch-free) reference draws chip 0's (docs/noise.md)."""
    return 0 if chip is None else int(chip.index)


def _task_figures(ctx: _Context, backend: str, chips: list[Chip], threads: int | None
                  ) -> list[dict[str, float]]:
    """Accuracy and workload of each chip through the backend's learner read-out (cpu
    chips in parallel threads: the read-out releases the GIL)."""
    def one(chip: Chip) -> dict[str, float]:
        return accuracy.chip_figures(chip.apply(ctx.plan), backend, ctx.work, ctx.plan.dt,
                                     _noise_chip(chip))
    if backend != "cpu" or len(chips) < 2:
        return [one(c) for c in chips]
    from concurrent.futures import ThreadPoolExecutor
    n = max(1, min(len(chips), threads or len(os.sched_getaffinity(0))))
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, chips))


def chip_summary(chip: Chip, plan: Any) -> dict[str, float]:
    """What makes a chip unusual: fault counts per population, the mean threshold shift of
    each population, and each projection's relative weight error and signed bias."""
    out: dict[str, float] = {}
    for name, pop in plan.populations.items():
        if pop.kind not in MEMBRANE_KINDS:
            continue
        d, s = chip.masks(name, pop.size)
        out[f"dead.{name}"] = int(d.sum())
        out[f"stuck_on.{name}"] = int(s.sum())
        vth = chip.population_params(plan, name)["vth"].astype(np.float64)
        nominal = np.broadcast_to(np.asarray(pop.vth, np.float64), vth.shape)
        ok = ~(d | s) & (nominal != 0)
        out[f"vth_shift.{name}"] = float(np.mean(vth[ok] / nominal[ok] - 1)) if ok.any() else 0.0
    for name, proj in plan.projections.items():
        w0 = np.asarray(proj.weights, np.float64)
        w = chip.projection_weights(plan, name).astype(np.float64)
        scale = float(np.abs(w0).sum())
        out[f"weight_error.{name}"] = (float(np.linalg.norm(w - w0) / np.linalg.norm(w0))
                                       if scale else 0.0)
        out[f"weight_bias.{name}"] = float((w - w0).sum() / scale) if scale else 0.0
    return out


def nominal_figures(s: Settings) -> dict[str, float]:
    """Figures of the mismatch-free chip (for the report's reference line)."""
    ctx = load_context(s)
    if ctx.work is not None:
        return accuracy.chip_figures(ctx.plan.nominal(), s.backend, ctx.work, ctx.plan.dt)
    stacked = {pop: r[None] for pop, r in ctx.nominal.items()}
    return metrics.figures(stacked, ctx.nominal, ctx.plan.dt, ctx.fanout, ctx.steps,
                           ctx.base_synops)[0]


def run_task(settings: dict, point: int, indices: list[int]) -> list[dict]:
    """Simulate chips ``indices`` at sweep point ``point``; one result dict per chip."""
    s = Settings(**settings)
    ctx = load_context(s)
    overrides = s.points()[point]
    cfg = ctx.base.with_overrides(overrides)
    chips = [Chip(s.seed, int(k), cfg) for k in indices]
    if ctx.work is not None:
        figs = _task_figures(ctx, s.backend, chips, s.threads)
        if s.finetune:
            from . import finetune
            figs = finetune.task_figures(ctx, s, chips, figs)
    else:
        rasters = _simulate(ctx, s.backend, chips)
        stacked = {pop: np.stack([r[pop] for r in rasters]) for pop in rasters[0]}
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


CHUNK_BYTES = 256 << 20     # cpu chunks: rasters, weights and distance temporaries


def chunk_size(s: Settings, ctx: _Context) -> int:
    """Chips per task: ``--chunk``, else the backend's default, made smaller so that one
    cpu chunk (each chip's instances: 1, or one per test sample, with their weights, rasters
    and filtered traces) stays under CHUNK_BYTES."""
    if s.chunk:
        return s.chunk
    size = CHUNK.get(s.backend, 1)
    if s.backend != "cpu":
        return size
    n = sum(p.size for p in ctx.plan.populations.values() if p.kind in MEMBRANE_KINDS)
    nnz = sum(int(np.size(p.weights)) for p in ctx.plan.projections.values())
    if ctx.work is not None:           # learner read-outs keep no rasters
        return size
    per_chip = max(1, ctx.steps * n * 33 + nnz * 24)
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
        raise NeurodeployError(f"must be >= 1; got {s.chips}", path=("--chips",))
    if s.chips > MAX_CHIPS:
        raise NeurodeployError(f"{s.chips:,} chips is more than {MAX_CHIPS:,}: at {MAX_CHIPS:,} "
                               "chips a yield's 95 % interval is already narrower than "
                               "+-0.004; use at most that many", path=("--chips",))
    if s.chips * len(s.points()) > MAX_CHIPS * 10:
        raise NeurodeployError(f"{len(s.points())} sweep points x {s.chips:,} chips is more "
                               f"than {MAX_CHIPS * 10:,} chip runs; use fewer chips or points",
                               path=("--chips",))
    if s.backend not in CHUNK:
        raise NeurodeployError(f"unknown backend '{s.backend}'; use cpu, lava or brian2",
                               path=("--backend",))
    if s.chunk is not None and s.chunk < 1:
        raise NeurodeployError(f"must be >= 1; got {s.chunk}", path=("--chunk",))
    for overrides in s.points():
        MismatchConfig().with_overrides(overrides)
