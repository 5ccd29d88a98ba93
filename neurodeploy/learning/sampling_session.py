"""``neurodeploy train`` of a ``task: {kind: sampling}`` network: iterations of a free
(sleep) phase on the sampling simulator and one update each, validation points with
D_KL(target || sampled) and the weight asymmetry, and the outputs (summary, curves, the
trained network) written whole or not at all."""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import yaml

from ..compiling.connectivity import build_synapses
from ..errors import BackendError, CompileError, NeurodeployError
from ..ir import load_network
from ..ir.load import weight_arrays
from ..ir.models import Network
from ..outputs import check_writable
from ..sealed import canonical, read_sealed, seal
from ..task.sampling import Target, asymmetry, boltzmann, dkl, draw_target
from .sampling import sleep_phase
from .sampling_rules import Rules, apply_update, build_rules

SEAL_KEY = "summary_sha256"
KIND = "sampling"


@dataclass
class SamplingCurves:
    """Per validation point: the iteration, D_KL(target || sampled) and the asymmetry."""

    iteration: list[int] = field(default_factory=list)
    dkl: list[float] = field(default_factory=list)
    asymmetry: list[float] = field(default_factory=list)


@dataclass
class SamplingResult:
    """What a sampling session measured (``out`` is None when nothing was written)."""

    curves: SamplingCurves
    weights: np.ndarray
    bias: np.ndarray
    target: Target
    steps: int
    seconds: float
    cpu_seconds: float
    out: Path | None = None

    @property
    def step_seconds(self) -> float:
        """CPU time of this process per network step (simulation, rules, updates and
        read-outs; CPU, not wall, time: a shared machine's load does not count)."""
        return self.cpu_seconds / max(self.steps, 1)


def target_of(net: Network) -> Target:
    """The task's target Boltzmann machine, given or drawn."""
    t, n = net.task.target, net.populations[net.task.population].size
    if t.seed is not None:
        return boltzmann(*draw_target(n, t.seed, t.alpha, t.beta))
    return boltzmann(np.asarray(t.weights, float), np.asarray(t.bias, float))


def _per_neuron(value, n: int) -> np.ndarray:
    """A scalar or per-neuron parameter as one float per neuron."""
    return np.broadcast_to(np.asarray(value, np.float64), (n,)).copy()


class SamplingTrainer:
    """The sampling simulator with the network's rules, iteration by iteration."""

    def __init__(self, net: Network) -> None:
        task = net.task
        self.net, self.task = net, task
        pop = net.populations[task.population]
        p = pop.params
        self.n = pop.size
        self.w = np.array(build_synapses(net, task.projection, weight_arrays(net)).weights,
                          dtype=np.float64)
        self.b = _per_neuron(p.bias, self.n)
        self.vth, self.beta = _per_neuron(p.v_th, self.n), _per_neuron(p.beta, self.n)
        self.tau_ref = int(p.refractory)
        self.tau_syn = float(p.tau_syn / net.dt)
        self.rect = task.psp == "rectangular"
        self.target = target_of(net)
        self.rules: Rules = build_rules(net, self.n)
        self.curves = SamplingCurves()
        self.steps_run = 0

    def iteration(self, k: int, validate: bool) -> None:
        """One sleep phase (``validation_factor`` times longer when ``validate``) and update."""
        steps = self.task.steps * (self.task.validation_factor if validate else 1)
        r = self.rules
        acc = np.zeros((r.codes.size, self.n, self.n))
        counts = np.zeros(self.n, np.int64)
        hist = np.zeros(2 ** self.n if validate else 0, np.int64)
        seed = int(np.random.SeedSequence([self.task.sim_seed, k]).generate_state(1)[0])
        sleep_phase(self.w, self.b, self.vth, self.beta, self.tau_ref, self.tau_syn, self.rect,
                    steps, seed, r.codes, r.amp_p, r.amp_m, r.tau_p, r.tau_m, acc, counts, hist)
        self.steps_run += steps
        norm = self.tau_ref / steps
        if validate:
            c = self.curves
            c.iteration.append(k)
            c.dkl.append(dkl(self.target.distribution, hist / hist.sum()))
            c.asymmetry.append(asymmetry(self.w))
        apply_update(r, self.target, self.w, self.b, acc * norm, counts * norm)

    def run(self, progress: Callable[[str], None] | None = None) -> SamplingResult:
        """Every iteration; validation points every ``validate_every`` and at the last."""
        task, t0, c0 = self.task, time.perf_counter(), time.process_time()
        for k in range(task.iterations):
            validate = k % task.validate_every == 0 or k == task.iterations - 1
            self.iteration(k, validate)
            if validate and progress:
                progress(f"iteration {k + 1}/{task.iterations}: D_KL {self.curves.dkl[-1]:.4f}, "
                         f"asymmetry {self.curves.asymmetry[-1]:.4f}")
        return SamplingResult(self.curves, self.w, self.b, self.target, self.steps_run,
                              time.perf_counter() - t0, time.process_time() - c0)


def summary_of(net: Network, res: SamplingResult) -> dict:
    """``training/summary.json``'s content: final values and curves."""
    c = res.curves
    return {"kind": KIND, "rule": "+".join(sorted({b.rule for b in net.plasticity.values()})),
            "backend": "cpu", "epochs": net.task.iterations, "classes": None,
            "plasticity": sorted(net.plasticity), "dkl": c.dkl[-1], "asymmetry": c.asymmetry[-1],
            "curves": {"iteration": c.iteration, "dkl": c.dkl, "asymmetry": c.asymmetry},
            "network_steps": res.steps, "seconds": res.seconds, "cpu_seconds": res.cpu_seconds,
            "cpu_seconds_per_step": res.step_seconds}


def plot(res: SamplingResult, path: Path, title: str) -> None:
    """D_KL and asymmetry per validation point, one PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    c = res.curves
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    axes[0].semilogy(c.iteration, c.dkl)
    axes[0].set(xlabel="iteration", ylabel="D_KL(target || sampled)", title="D_KL")
    axes[1].plot(c.iteration, c.asymmetry)
    axes[1].set(xlabel="iteration", ylabel="var(triu(W - W^T))", title="asymmetry")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _trained_yaml(net: Network, res: SamplingResult, directory: Path) -> None:
    """The trained network: the projection's weights from a file, the learned biases."""
    doc = net.model_dump(mode="json", exclude_none=True)
    (directory / "weights").mkdir(parents=True)
    np.save(directory / "weights" / f"{net.task.projection}.npy", res.weights)
    doc["projections"][net.task.projection]["weights"] = {
        "file": f"weights/{net.task.projection}.npy"}
    doc["populations"][net.task.population]["params"]["bias"] = [float(x) for x in res.bias]
    (directory / "network.yaml").write_text(
        "# written by neurodeploy train: the trained sampling network\n"
        + yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


def _check_out(out: Path, force: bool) -> None:
    """``out`` may be written: absent, empty, or (with ``force``) a sampling run's output."""
    from ..compiling.artifact import _cwd_inside
    check_writable(out, directory=True)
    if not os.path.lexists(out):
        return
    if out.is_symlink() or not out.is_dir():
        raise CompileError("exists and is not a directory; choose another -o", file=out)
    if _cwd_inside(Path(os.path.abspath(out))):
        raise CompileError("is the current directory or one of its parents; refusing to "
                           "replace it, choose another -o", file=out)
    if not any(out.iterdir()):
        return
    mine = (out / "training" / "summary.json").is_file()
    if mine:
        try:
            mine = read_sealed(out / "training" / "summary.json", SEAL_KEY, "").get("kind") == KIND
        except NeurodeployError:  # an unreadable or edited summary: not ours to replace
            mine = False
    if not mine:
        raise CompileError("exists and is not a sampling run's output; choose another -o",
                           file=out)
    if not force:
        raise CompileError("output directory already exists; pass --force to replace it",
                           file=out)


def run_sampling(network: str | Path | Network, out: Path, force: bool = False,
                 backend: str = "cpu", progress: Callable[[str], None] | None = None
                 ) -> SamplingResult:
    """Train a sampling task and write ``out/training/`` (summary, curves, network)."""
    net = network.model_copy(deep=True) if isinstance(network, Network) else load_network(network)
    if backend != "cpu":
        raise BackendError(f"backend '{backend}' cannot run a sampling task: its rules run on "
                           "the sampling simulator's spike events (rectangular PSPs, nearest "
                           "pairs, per-iteration updates); use --backend cpu",
                           path=("--backend",))
    out = Path(out)
    _check_out(out, force)
    say = progress or (lambda s: print(s, file=sys.stderr, flush=True))
    res = SamplingTrainer(net).run(say)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=Path(os.path.abspath(out)).parent))
    old = work.with_name(work.name + ".old")
    try:
        train = work / "training"
        train.mkdir(parents=True)
        _trained_yaml(net, res, train)
        plot(res, train / "curves.png", f"{net.name}: sampling on cpu")
        c = res.curves
        (train / "curves.json").write_text(json.dumps(
            {"iteration": c.iteration, "dkl": c.dkl, "asymmetry": c.asymmetry}, indent=2) + "\n")
        (train / "summary.json").write_text(canonical(seal(summary_of(net, res), SEAL_KEY)))
        if out.exists():                 # the old output moves aside until the new is in place
            os.replace(out, old)
        try:
            os.replace(work, out)
        except OSError:
            if os.path.lexists(old) and not os.path.lexists(out):
                os.replace(old, out)
            raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    res.out = out
    return res
