"""Chip-in-the-loop fine-tuning (``validate --finetune``): each mismatched chip runs the
build's own on-chip learning rule on the training split, then is read out on the test split.

All chips of a task learn at once on the cpu learner's chip axis: the learning layout is
built once from the nominal plan, and each chip contributes one row of weights (its applied
effective weights, in the layout's synapse order), one row of neuron parameters (du, dv,
vth, bias) and one row of per-synapse learning-rate gains (``Chip.learning_gain``, forward
and feedback drawn independently); the learning pathway itself keeps nominal weights
(see :func:`stack_chips`). Stuck synapses and synapses into dead or stuck-on
neurons get gain 0: the device cannot change them. Each chip's update noise and stochastic
rounding (``Chip.learning_settings``) step in LSBs of each plastic projection's nominal full
scale (:func:`~neurodeploy.learning.updates.update_settings`), drawn per synapse and update
at the chip's seed and index. The weights a chip ends with are put into
its frozen plan and read out exactly as ``neurodeploy evaluate`` would.
"""
from __future__ import annotations

import copy
import functools
import json
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from neurodeploy.errors import NeurodeployError
from neurodeploy.neurons.kind import MEMBRANE_KINDS
from neurodeploy.variability.chip import Chip, batch_plan

from neurodeploy.learning.metrics import pair_angle
from neurodeploy.learning.updates import to_layout, update_settings

from . import accuracy

GET_FLOAT_BUILD = ("train it with a float profile such as cpu, mixed_signal or memristive, "
                   "e.g. neurodeploy train NET.yaml --profile cpu -o BUILD")


@dataclass
class LearnSetup:
    """What every fine-tuning task of one run shares: the learning plan and its data."""

    plan: Any                   # nominal plan with the learning pathway
    block: dict                 # its error-driven plasticity block
    lr_scale: float             # learning-rate factor on the block's rule coefficients
    x: np.ndarray               # training features used for fine-tuning
    y: np.ndarray


def check(s: Any, plan: Any) -> None:
    """Refuse (one line) what ``--finetune`` cannot do, before anything is written."""
    if s.backend != "cpu":
        raise NeurodeployError(f"--finetune runs the chips' learning on the cpu learner only "
                               f"(got --backend {s.backend}); use --backend cpu",
                               path=("--backend",))
    if s.input or not plan.task:
        raise NeurodeployError("--finetune needs a build with a task (a data set to learn "
                               "and be tested on); drop --input", path=("--finetune",))
    if s.finetune_epochs < 1:
        raise NeurodeployError(f"must be >= 1; got {s.finetune_epochs}",
                               path=("--finetune-epochs",))
    if s.finetune_lr_scale is not None and not s.finetune_lr_scale > 0:
        raise NeurodeployError(f"must be > 0; got {s.finetune_lr_scale}",
                               path=("--finetune-lr-scale",))
    if s.finetune_samples is not None and s.finetune_samples < 1:
        raise NeurodeployError(f"must be >= 1; got {s.finetune_samples}",
                               path=("--finetune-samples",))
    _block(plan, s.build)
    _check_learning_settings(s, plan)


def _block(plan: Any, build: str) -> dict:
    """The build's one error-driven plasticity block, or a one-line refusal."""
    from neurodeploy.learning.train import ERROR_DRIVEN
    blocks = [b for b in plan.plasticity.values() if b.get("rule") in ERROR_DRIVEN]
    if len(blocks) != 1:
        rules = sorted({str(b.get("rule")) for b in plan.plasticity.values()})
        what = (f"{len(blocks)} error-driven plasticity blocks" if blocks else
                f"no error-driven learning rule (only {', '.join(rules)})" if rules else
                "no learning pathway (plasticity block)")
        raise NeurodeployError(f"--finetune needs a build that kept its on-chip learning rule; "
                               f"this build has {what} (fixed-point profiles deploy the "
                               f"forward network only): {GET_FLOAT_BUILD}",
                               file=build, path=("--finetune",))
    return blocks[0]


def _check_learning_settings(s: Any, plan: Any) -> None:
    """Update noise and stochastic rounding step in LSBs of each plastic projection's
    nominal full scale (:func:`update_lsb`): refuse a plastic projection whose weights are
    all 0, which has no full scale."""
    from neurodeploy.compiling.artifact import Build
    from neurodeploy.variability.config import MismatchConfig
    base = MismatchConfig.from_manifest(Build(s.build).manifest)
    points = [base.with_overrides(o).values for o in s.points()]
    if plan.fixed:
        if any(v["update_noise"] or v["stochastic_rounding"] is False for v in points):
            raise NeurodeployError("a fixed-point build fine-tunes in its learning engine's "
                                   "own arithmetic, which rounds weight updates stochastically "
                                   "(as Lava's model) and adds no update noise; set "
                                   "variability.learning.update_noise=0 and leave "
                                   "variability.learning.stochastic_rounding on",
                                   file=s.build, path=("--finetune",))
        return
    if not any(v["update_noise"] or v["stochastic_rounding"] for v in points):
        return
    for proj in _block(plan, s.build)["projections"]:
        if not np.any(plan.projections[proj].weights):
            raise NeurodeployError(f"projection '{proj}' has only zero weights, so its weight "
                                   "LSB (max|w| / (2^(bits-1) - 1)) is undefined for update "
                                   "noise and stochastic rounding; set "
                                   "variability.learning.update_noise=0 and "
                                   "variability.learning.stochastic_rounding=false",
                                   file=s.build, path=("--finetune",))


def trained_lr_scale(build: str, block: dict) -> float:
    """Where ``train``'s learning-rate schedule stopped: ``lr_decay ** epochs`` (epochs
    from ``training/summary.json``; 1 for a build that was not trained by ``train``)."""
    from neurodeploy.learning.summary import read_summary
    summary = read_summary(build)           # sealed: an edited epochs count is refused
    if summary is None:
        return 1.0
    return float(block["params"].get("lr_decay", 1.0)) ** summary["epochs"]


@functools.lru_cache(maxsize=2)
def learn_setup(build: str, data: str, samples: int | None, seed: int,
                lr_scale: float | None = None) -> LearnSetup:
    """The build's learning plan and the training samples fine-tuning presents."""
    from neurodeploy.compilers import load_plan
    from neurodeploy.task import load_dataset
    from neurodeploy.task.datasets import check_fits
    plan = load_plan(build)
    block = _block(plan, build)
    task = plan.task
    from neurodeploy.learning.summary import trained_classes
    ds = load_dataset(data, features=plan.populations[task["input"]].size)
    classes = trained_classes(build)
    if classes:                      # fine-tune on the labels the build was trained on
        ds = ds.subset(classes)
    check_fits(ds, plan.populations[task["input"]].size,
               plan.populations[task["output"]].size, ds.name)
    x, y = ds.x_train, np.asarray(ds.y_train, np.int64)
    if samples and samples < y.size:
        keep = np.sort(np.random.default_rng([seed, 17]).choice(y.size, samples, replace=False))
        x, y = x[keep], y[keep]
    scale = trained_lr_scale(build, block) if lr_scale is None else float(lr_scale)
    return LearnSetup(plan=plan, block=block, lr_scale=scale, x=x, y=y)


def _locked(chip: Chip, plan: Any, name: str) -> np.ndarray:
    """Synapses the chip cannot change: stuck ones and those into dead or stuck-on neurons."""
    proj = plan.projections[name]
    shape = tuple(np.shape(proj.weights))
    v = chip.config.values
    locked = chip.synapse_draws(name, shape)["stuck"] < v["stuck_fraction"]
    post = plan.populations[proj.post]
    if post.kind in MEMBRANE_KINDS:
        dead, stuck_on = chip.masks(proj.post, post.size)
        silenced = dead | stuck_on
        if silenced.any():
            idx = (np.broadcast_to(np.arange(proj.shape[0])[:, None], proj.shape)
                   if proj.format == "dense" else np.asarray(proj.rows, np.int64))
            locked = locked | silenced[idx]
    return locked


def stack_chips(layout: Any, plan: Any, chips: Sequence[Chip], plastic: Sequence[str]
                ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Per-chip neuron parameter slots [chips, N_SLOTS, n], weights [chips, nnz] and
    learning-rate gains [chips, nnz] of ``chips`` applied to ``plan``.

    The learning pathway (label source, error relays, feedback and third-factor
    projections: ``plan.learning_parts()``) keeps its nominal weights: it stands for the
    chip's learning circuitry, whose imperfection is the per-synapse learning-rate gain.
    With weight mismatch on the error relays the error no longer vanishes at the target
    and a single epoch can collapse a chip (docs/validate.md)."""
    N = len(chips)
    _, pathway = plan.learning_parts()
    w = np.repeat(layout.w0[None, :], N, axis=0)
    g = np.ones_like(w)
    over: dict[str, dict[str, np.ndarray]] = {}
    for c, chip in enumerate(chips):
        applied = chip.apply(plan)
        for name in layout.neurons:
            pop = applied.populations[name]
            if pop.kind not in MEMBRANE_KINDS:
                continue
            rows = over.setdefault(name, {k: np.zeros((N, pop.size)) for k in
                                          ("du", "dv", "vth", "bias_mant")})
            for key in rows:
                rows[key][c] = getattr(pop, key)
        for name, sl in layout.slices.items():
            part = slice(sl.syn0, sl.syn0 + sl.nnz)
            if name not in pathway:         # the learning pathway keeps its nominal weights
                vals = to_layout(layout, plan, name, applied.projections[name].weights)
                if plan.fixed:              # registers, shifted as the layout holds them
                    vals = np.asarray(vals, np.int64) << max(plan.projections[name].weight_exp, 0)
                w[c, part] = vals
            if name in plastic:
                gain = chip.learning_gain(name, plan=plan)
                gain = np.where(_locked(chip, plan, name), 0.0, gain)
                g[c, part] = to_layout(layout, plan, name, gain)
    return layout.neuron_params(over, N), w, g


def finetune(setup: LearnSetup, chips: Sequence[Chip], epochs: int, seed: int,
             start_out: list[np.ndarray] | None = None, freeze_feedback: bool = False
             ) -> tuple[Any, np.ndarray]:
    """Run the build's rule on every chip for ``epochs`` passes over the training samples;
    returns (learner layout, weights [chips, nnz] after). ``start_out``, when given, gets the
    chips' weights before fine-tuning (each chip's applied W and the nominal B);
    ``freeze_feedback`` holds every feedback matrix (gain 0, no alignment phases): the
    control that shows what B's own learning adds."""
    from neurodeploy.compilers.cpu.learner import CpuLearner
    from neurodeploy.learning.device_models import attach as attach_device
    from neurodeploy.learning.phases import align_phase, alignment
    from neurodeploy.learning.lr_schedule import scale_fixed_rules, scale_learning_rate
    from neurodeploy.task.sequences import encode_inputs, encode_targets
    plan, block = setup.plan, setup.block
    task = plan.task
    run_plan = batch_plan(plan)
    if plan.fixed:          # its own copy of the quantized rules, which the schedule rewrites
        run_plan.plasticity = copy.deepcopy(plan.plasticity)
        scale_fixed_rules(run_plan, setup.lr_scale)
    learner = CpuLearner(run_plan, task["output"], chips=len(chips),
                         noise_chips=[int(c.index) for c in chips])
    lay = learner.layout
    par, w, g = stack_chips(lay, plan, chips, lay.rule_names)
    if plan.fixed and any(c.config.values["learning_rate_cv"] or c.config.values["stuck_fraction"]
                          for c in chips):
        raise NeurodeployError("fixed-point fine-tuning runs the learning engine's own rule "
                               "on every synapse: per-synapse learning-rate gain and stuck "
                               "synapses are float-learner models; set "
                               "variability.learning.cv=0 and variability.stuck_fraction=0, "
                               "or fine-tune a float "
                               "build", path=("--finetune",))
    if freeze_feedback:
        for _, *b_chain in block.get("pairs") or []:
            for name in b_chain:
                if name in lay.slices:
                    sl = lay.slices[name]
                    g[:, sl.syn0:sl.syn0 + sl.nnz] = 0.0
    learner.state = lay.new_state(len(chips), w)
    if start_out is not None:
        start_out.append(np.array(w, copy=True))
    attach_device(learner, {"plasticity": {"block": block}}, "cpu", int(chips[0].seed),
                  [int(c.index) for c in chips], lambda text: None)
    lay.net = lay.net._replace(par=par)
    if not plan.fixed:      # fixed point: the engine's own rounding (Lava's), no gain model
        lay.rules = lay.rules._replace(gain=g, upd=update_settings(lay, plan, chips))
        scale_learning_rate(learner, run_plan, setup.lr_scale)
    steps = int(task["sample_steps"])
    n_classes = plan.populations[task["output"]].size
    decay = float(block["params"].get("lr_decay", 1.0))
    for k in range(epochs):
        if k and decay != 1.0:
            scale_learning_rate(learner, run_plan, decay)
        order = np.random.default_rng([seed, 31, k]).permutation(setup.y.size)
        x, y = setup.x[order], setup.y[order]
        inputs = {task["input"]: encode_inputs(x, task, seed * 1000 + k + 11),
                  block["label"]: encode_targets(y, n_classes, task, x, block["target_rate"])}
        learner.set_phase("train")
        learner.present(inputs, y.size, steps, learn=True)
        if alignment(block) and not freeze_feedback:
            align_phase(learner, learner.plan, block, [seed, k, 99])
    return lay, learner.weights


def tuned_plan(frozen: Any, chip: Chip, layout: Any, w: np.ndarray) -> Any:
    """``chip`` applied to the frozen plan, with the forward weights it learned."""
    out = chip.apply(frozen)
    for name, proj in out.projections.items():
        vals = layout.synapse_values(w, name)
        if frozen.fixed:                    # back to the registers the plan holds
            proj.weights = (np.asarray(vals, np.int64) >> max(proj.weight_exp, 0)).astype(
                proj.weights.dtype)
        else:
            proj.weights = vals.astype(np.float64)
    return out


def task_figures(ctx: Any, s: Any, chips: list[Chip], before: list[dict[str, float]]
                 ) -> list[dict[str, float]]:
    """Figures of each chip after fine-tuning, with ``accuracy_before`` from ``before``."""
    setup = learn_setup(s.build, s.data, s.finetune_samples, s.seed, s.finetune_lr_scale)
    start: list[np.ndarray] = []
    lay, w = finetune(setup, chips, s.finetune_epochs, s.seed, start_out=start,
                      freeze_feedback=s.finetune_freeze_feedback)
    plans = [tuned_plan(ctx.plan, c, lay, w[i]) for i, c in enumerate(chips)]
    pairs = setup.block.get("pairs") or []

    def one(i: int) -> dict[str, float]:
        f = accuracy.chip_figures(plans[i], "cpu", ctx.work, ctx.plan.dt, int(chips[i].index))
        f["accuracy_before"] = before[i]["accuracy"]
        if pairs:   # angle(B, W^T) against the chip's own W, mean over feedback pairs
            f["angle_before"] = float(np.mean([pair_angle(lay, start[0][i], *p) for p in pairs]))
            f["angle"] = float(np.mean([pair_angle(lay, w[i], *p) for p in pairs]))
        return f
    if len(chips) < 2:
        return [one(i) for i in range(len(chips))]
    import os
    from concurrent.futures import ThreadPoolExecutor
    n = max(1, min(len(chips), s.threads or len(os.sched_getaffinity(0))))
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(len(chips))))


def html_section(report: dict) -> str:
    """The report page's fine-tuning part: mean accuracy before/after per point, a
    before-versus-after scatter of every chip and a per-chip table ('' without --finetune)."""
    import html

    chips = [c for c in report["chips"] if "accuracy_before" in c["figures"]]
    if not chips:
        return ""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from .png import png_uri
    fig, ax = plt.subplots(figsize=(4.2, 4))
    for e in report["points"]:
        mine = [c for c in chips if c["point"] == e["point"]]
        label = f"{report['sweep']['path']}={e['value']}" if report["sweep"] else None
        ax.plot([c["figures"]["accuracy_before"] for c in mine],
                [c["figures"]["accuracy"] for c in mine], "o", ms=3, alpha=0.7, label=label)
    lo = min(min(c["figures"]["accuracy_before"], c["figures"]["accuracy"]) for c in chips)
    ax.plot([lo, 1], [lo, 1], "k:", lw=1)
    ax.set(xlabel="accuracy before fine-tuning", ylabel="accuracy after",
           title="each chip, before and after")
    if report["sweep"]:
        ax.legend(fontsize=7)
    rows = "".join(
        f"<tr><td>{html.escape(json.dumps(e['overrides']))}</td>"
        f"<td>{e['figures']['accuracy_before']['mean']:.4f}</td>"
        f"<td>{e['figures']['accuracy']['mean']:.4f}</td></tr>"
        for e in report["points"] if "accuracy_before" in e["figures"])
    per_chip = "".join(
        f"<tr><td>{c['point']}</td><td>{c['chip']}</td>"
        f"<td>{c['figures']['accuracy_before']:.4f}</td><td>{c['figures']['accuracy']:.4f}</td></tr>"
        for c in chips)
    return (f"<h2>Chip-in-the-loop fine-tuning</h2><p>Each chip ran the build's learning rule "
            f"on the training split; yield and figures above are after fine-tuning.</p>"
            f"<table><tr><th>settings</th><th>mean accuracy before</th><th>after</th></tr>"
            f"{rows}</table><img src='{png_uri(fig)}'>"
            f"<table><tr><th>point</th><th>chip</th><th>accuracy before</th><th>after</th></tr>"
            f"{per_chip}</table>")
