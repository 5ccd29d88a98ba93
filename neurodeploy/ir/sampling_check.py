"""Cross-checks of a ``task: {kind: sampling}`` network: what the sampling simulator runs,
each refusal one line with the field path and the fix."""
from __future__ import annotations

from typing import Any

import numpy as np

#: the exact target distribution enumerates 2^size states
MAX_SAMPLING_SIZE = 16


def check_sampling(ck: Any) -> None:
    """Check the task's population, projection, target and plasticity blocks (``ck``: the
    loader's checker, whose ``fail`` raises the one-line IRError)."""
    net, task = ck.net, ck.net.task
    ck.population(("task", "population"), task.population)
    pop = net.populations[task.population]
    if pop.kind != "stochastic":
        ck.fail(("task", "population"), f"'{task.population}' is a {pop.kind} population; a "
                "sampling task samples a stochastic population")
    if pop.size > MAX_SAMPLING_SIZE:
        ck.fail(("populations", task.population, "size"), f"{pop.size} neurons: the exact "
                f"target distribution needs 2^size states; use at most {MAX_SAMPLING_SIZE}")
    p = pop.params
    if p.refractory < 1:
        ck.fail(("populations", task.population, "params", "refractory"), "a sampling "
                "neuron's state z = 1 lasts its refractory period tau_ref; set refractory >= 1")
    if p.tau_mem != net.dt:
        ck.fail(("populations", task.population, "params", "tau_mem"), f"a sampling neuron's "
                f"membrane is its input (no memory); set tau_mem to dt ({net.dt:g})")
    if p.tau_syn < net.dt:
        ck.fail(("populations", task.population, "params", "tau_syn"), f"the PSP lasts tau_syn;"
                f" set it to at least dt ({net.dt:g})")
    _projection(ck, task)
    _target(ck, task, pop.size)
    for name, block in net.plasticity.items():
        _block(ck, task, name, block)


def _projection(ck: Any, task: Any) -> None:
    """The sampled projection: recurrent on the population, dense, no delay."""
    name = task.projection
    if name not in ck.net.projections:
        ck.fail(("task", "projection"), f"unknown projection '{name}'; defined: "
                f"{', '.join(ck.net.projections) or 'none'}")
    proj = ck.net.projections[name]
    if (proj.pre, proj.post) != (task.population, task.population):
        ck.fail(("task", "projection"), f"'{name}' runs {proj.pre} -> {proj.post}; the "
                f"sampling projection must be recurrent on '{task.population}'")
    if proj.connectivity != "dense" or proj.port != "current" or proj.delay != 0:
        ck.fail(("projections", name), "the sampling projection must be dense, delay 0, "
                "port current")


def _target(ck: Any, task: Any, size: int) -> None:
    """A given target: W* symmetric [size, size], b* [size]."""
    t = task.target
    if t.weights is None:
        return
    w = np.asarray(t.weights, dtype=float) if all(len(r) == size for r in t.weights) else None
    if w is None or w.shape != (size, size):
        ck.fail(("task", "target", "weights"), f"W* must be {size} rows of {size} values "
                f"(the population's size)")
    if not np.allclose(w, w.T):
        ck.fail(("task", "target", "weights"), "W* must be symmetric (a Boltzmann machine)")
    if len(t.bias) != size:
        ck.fail(("task", "target", "bias"), f"b* must have {size} values, got {len(t.bias)}")


def _block(ck: Any, task: Any, name: str, block: Any) -> None:
    """A plasticity block the sampling simulator runs (stdp with a phase, or bias)."""
    base = ("plasticity", name)
    if block.rule == "bias":
        if block.populations != [task.population]:
            ck.fail(base + ("populations",), f"a sampling task learns the biases of "
                    f"'{task.population}' only; set populations: [{task.population}]")
        return
    if block.rule != "stdp":
        ck.fail(base + ("rule",), f"rule '{block.rule}' does not run in a sampling task; use "
                "stdp (signed amplitudes) and bias blocks")
    if block.projections != [task.projection]:
        ck.fail(base + ("projections",), f"a sampling task learns its projection only; set "
                f"projections: [{task.projection}]")
    if block.phase is None:
        ck.fail(base + ("phase",), "say when the rule learns: phase: wake or phase: sleep")
    if block.window == "triangular" and block.pairing == "all":
        ck.fail(base + ("pairing",), "the triangular window pairs each spike with the other "
                "neuron's latest spike; set pairing: nearest")
    if block.phase == "wake" and block.a_plus != -block.a_minus:
        ck.fail(base + ("a_minus",), f"a wake: target phase learns from the target's "
                f"coactivations, a symmetric statistic; set a_minus to -a_plus ({-block.a_plus:g})")
