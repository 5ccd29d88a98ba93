"""Presenting samples to a learning build on Lava (``Loihi2SimCfg``): the lava learner.

Same interface and semantics as :class:`compilers.cpu.learner.CpuLearner` (the reference):
all samples of one call run back to back in ONE Lava run; each LIF population is a
:class:`~.learning_processes.LearnLIF` whose ``LIFReset``-style reset zeroes u and v at the
start of every sample (Lava's ``time_step`` is the cpu loop's global step + 1, so the
cpu's reset at ``t % steps == 0`` is ``reset_interval = steps``, ``reset_offset = 1``);
activations in flight and learning traces are kept across samples, and every call starts
from zero state with the weights learned so far. Plastic projections of the active phase
become Lava ``LearningDense`` (float model, or the bit-approximate fixed-point model) with
the rule of :mod:`.learning_rules`; ``kind: graded`` populations become
:class:`~.learning_processes.GradedRelay` and their projections take graded spikes
(``num_message_bits`` 24). Read-out counts, spike totals and learned weights are written
by the Lava processes into memory-mapped files; synaptic events are counted from them
exactly as the cpu loop counts them (every emission times the emitter's out-degree).

Every run is guarded like the lava backend's (deadline, dead or failing workers via
:mod:`.guard`, runtime killed and joined on any error or interrupt).
"""
from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
import typing as ty
import warnings
from multiprocessing import util as mp_util

import numpy as np

from neurodeploy import _lava_compat
from neurodeploy.errors import BackendError
from neurodeploy.learning.engine_rule import EngineRule
from neurodeploy.learning.phases import coupling
from neurodeploy.neurons import has_membrane

from ..cpu.learn_layout import Layout
from .backend import LavaBackend
from ..plan import SimPlan
from . import guard, runtime
from .imports import lava
from .learn_net import LearnNet
from .learning_rules import LavaRule, translate

_lava_compat.install()



class LavaLearner:
    """One network (one weight set) learning on Lava; ``chips`` must be 1."""

    def __init__(self, plan: SimPlan, readout: str, chips: int = 1,
                 weights: np.ndarray | None = None, gain: np.ndarray | None = None,
                 timeout: float | None = None, stop_timeout: float = 20.0,
                 noise_chips: list[int] | None = None) -> None:
        """``noise_chips`` is accepted for the learner interface; what the lava backend does
        not declare for learning (temporal noise, kinds without a Lava translation) is
        refused first."""
        LavaBackend().check(plan, "learn")
        if chips != 1:
            raise BackendError(f"the lava learner runs one chip at a time; got chips={chips} "
                               "(the cpu learner runs many in parallel)")
        if gain is not None:
            raise BackendError("per-synapse learning gain (a mismatched chip) is not "
                               "simulated by the lava learner; use --backend cpu")
        self.rules: dict[str, EngineRule] = {}
        self.phase_of: dict[str, str] = {}
        for block in plan.plasticity.values():
            for proj, d in block["projections"].items():
                self.rules[proj] = EngineRule.from_dict(d)
        self._check_plan(plan)
        self.layout = Layout(plan, None if plan.fixed else self.rules)
        self.plan, self.readout, self.chips = plan, readout, 1
        if readout not in plan.populations or not has_membrane(plan.populations[readout].kind):
            raise BackendError(f"read-out population '{readout}' is not a lif population of "
                               f"'{plan.name}'")
        w = self.layout.w0[None, :] if weights is None else np.asarray(weights)
        if w.shape != (1, self.layout.w0.size):
            raise BackendError(f"weights have shape {w.shape}; expected (1, {self.layout.w0.size})")
        self._w = np.array(w, self.layout.dtype, copy=True)
        self.active: set[str] = set(self.rules)      # as the cpu learner: all until set_phase
        self.timeout, self.stop_timeout = timeout, stop_timeout
        self.synops = 0.0
        self.t_off = 0                  # steps presented so far (stochastic draws continue)
        self.last_totals = np.zeros((1, self.layout.n), np.int64)
        self.timings: dict[str, float] = {}
        self.trace_weights = False
        self.trajectories: dict[str, np.ndarray] = {}

    # ------------------------------------------------------------------ interface
    @property
    def weights(self) -> np.ndarray:
        """Flat weights [1, nnz] in the cpu Layout's order (see ``layout.dense``)."""
        return self._w

    def set_phase(self, phase: str | None) -> None:
        """Enable the rules of one phase ('train', 'mirror', 'align'), or none, and couple
        the feedback into the hidden soma where that phase asks for it (SAL)."""
        self.active = {n for n, r in self.rules.items() if phase is not None and r.phase == phase}
        lay = self.layout
        lay.net = lay.net._replace(couple=coupling(self.plan, lay.neuron0, lay.n, lay.dtype, phase))

    def keep_trajectories(self, on: bool = True) -> None:
        """Keep each plastic projection's weights after every step of the next runs in
        ``trajectories`` ({name: [steps, post, pre]}, the build's units; fixed: registers)."""
        self.trace_weights = bool(on)

    def present(self, inputs: dict[str, np.ndarray], n_samples: int, steps: int,
                learn: bool) -> np.ndarray:
        """Run ``n_samples`` samples of ``steps`` steps in order in one Lava run; returns
        read-out counts [1, samples, classes]; learned weights are kept."""
        counts, totals, synops = self._run(inputs, n_samples, steps, learn, self.t_off)
        self.synops += synops
        self.last_totals = totals[None]
        self.t_off += int(n_samples) * int(steps)     # stochastic draws continue, as on cpu
        return counts[None]

    def predict_counts(self, inputs: dict[str, np.ndarray], n_samples: int, steps: int,
                       chip: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
        """Frozen read-out: (counts [samples, classes], spike totals per neuron, synaptic
        events), in one Lava run with learning off."""
        if chip != 0:
            raise BackendError(f"the lava learner has one chip; got chip={chip}")
        return self._run(inputs, n_samples, steps, False, 0)

    # ------------------------------------------------------------------ checks
    def _check_plan(self, plan: SimPlan) -> None:
        """Refuse a third factor fed to a population without a membrane."""
        for name, proj in plan.projections.items():
            if proj.port == "third_factor" and not has_membrane(plan.populations[proj.post].kind):
                raise BackendError(f"projection '{name}' feeds the third factor of "
                                   f"'{proj.post}', which is not a lif or stochastic population")

    def _lava_rule(self, name: str) -> LavaRule:
        proj = self.plan.projections[name]
        if np.unique(np.asarray(proj.delays)).size > 1:
            raise BackendError(f"plastic projection '{name}' has delays that differ between "
                               "synapses; Lava's LearningDense has none and the lava learner "
                               "adds one uniform delay after it (use --backend cpu)")
        if proj.format != "dense":
            sl = self.layout.slices[name]
            if self.plan.fixed or not np.all(self._w[0, sl.syn0:sl.syn0 + sl.nnz] != 0):
                raise BackendError(f"plastic projection '{name}' is sparse; the lava learner "
                                   "learns sparse projections in float builds whose synapses "
                                   "all have non-zero weights (Lava's LearningSparse drops "
                                   "zero-weight synapses; use --backend cpu)")
        rule = self.rules[name]
        payload = rule.meta.get("pre_payload")
        if self.plan.populations[proj.pre].kind == "graded":
            if payload is None or self.plan.fixed:
                raise BackendError(f"plastic projection '{name}' starts at a graded population; "
                                   "Lava's x traces take graded spikes as payload/2, not the "
                                   "cpu loop's impulse x payload (use --backend cpu)")
            # every payload of the rule's phase is this constant (SAL: the error relay
            # carries -out), so a regular impulse of impulse x payload is the cpu's trace
            rule = dataclasses.replace(rule, x1=dataclasses.replace(
                rule.x1, impulse=rule.x1.impulse * payload))
        if self.plan.fixed:
            from .fixed_rules import fixed_lava_rule
            return fixed_lava_rule(name, rule, self.plan)
        return translate(name, rule)

    # ------------------------------------------------------------------ one run
    def _run(self, inputs: dict[str, np.ndarray], n_samples: int, steps: int, learn: bool,
             step0: int) -> tuple[np.ndarray, np.ndarray, float]:
        n_samples, steps = int(n_samples), int(steps)
        total = n_samples * steps
        if total < 1:
            raise BackendError(f"nothing to run: {n_samples} samples of {steps} steps")
        learning = sorted(self.active) if learn else []
        lava_rules = {n: self._lava_rule(n) for n in learning}
        L = lava()
        # the multiprocessing temp dir (the shared-memory manager's socket) must belong to
        # this process, as in the lava backend
        mp_util.get_temp_dir()
        before = guard.children()
        tmp = tempfile.mkdtemp(prefix="neurodeploy-lavalearn-")
        try:
            t0 = time.perf_counter()
            net = LearnNet(self, L, tmp, inputs, n_samples, steps, lava_rules, step0)
            root, n_procs = net.root()
            timeout = self.timeout if self.timeout is not None else 60.0 + 0.005 * total * n_procs
            self._execute(L, root, total, timeout)
            self.timings = {"run_s": time.perf_counter() - t0, "steps": total}
            counts, totals, synops = net.read(total)
            for name, path in net.weight_files.items():
                shape = self.plan.projections[name].shape
                rows = np.fromfile(path, np.float64).reshape((-1,) + tuple(shape))
                if self.trace_weights:
                    self.trajectories[name] = rows
                self._store(name, rows[-1])
        except BaseException:
            guard.kill_new_children(before)
            raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return counts, totals, synops

    def _store(self, name: str, dense: np.ndarray) -> None:
        sl = self.layout.slices[name]
        vals = dense[sl.rows, sl.cols]
        if self.plan.fixed:
            exp = self.plan.projections[name].weight_exp
            vals = np.rint(vals).astype(np.int64)
            vals = vals << exp if exp > 0 else vals
        self._w[0, sl.syn0:sl.syn0 + sl.nnz] = vals

    def _execute(self, L: dict, root: ty.Any, total: int, timeout: float) -> None:
        run_network(L, root, "fixed_pt" if self.plan.fixed else "floating_pt", total, timeout,
                    self.stop_timeout, "learning")


def run_network(L: dict, root: ty.Any, tag: str, steps: int, timeout: float,
                stop_timeout: float, what: str) -> None:
    """Compile ``root``'s network for ``Loihi2SimCfg(select_tag=tag)`` and run it for
    ``steps`` steps within ``timeout`` s (``what`` names it in errors); the runtime is always stopped (killed when it does
    not stop cleanly), and Lava's failures become one-line BackendErrors."""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Cannot import module")
            exe = root.compile(L["Loihi2SimCfg"](select_tag=tag))
    except Exception as exc:
        raise BackendError(f"Lava could not compile the {what} network: "
                           f"{type(exc).__name__}: {exc}") from exc
    rt = L["Runtime"](exe, L["ActorType"].MultiProcessing)
    exe.assign_runtime_to_all_processes(rt)
    clean = False
    try:
        rt.initialize()
        rt.start(L["RunSteps"](num_steps=steps, blocking=False))
        runtime.await_done(L, rt, time.monotonic() + timeout, timeout, f"{what} run")
        runtime.stop(L, rt, time.monotonic() + stop_timeout)
        clean = True
    except BackendError:
        raise
    except Exception as exc:
        raise BackendError(f"Lava {what} run failed: {type(exc).__name__}: {exc}") from exc
    finally:
        if not clean:
            runtime.kill(rt)
