"""The Lava processes of one learner run (:class:`LearnNet`) and the files they write.

Built by :class:`~.learner.LavaLearner` for every ``present`` / ``predict_counts`` call; see
its module docstring for the mapping. Read-out counts, learned weights and emission counts
come back through memory-mapped files written inside the Lava processes.
"""
from __future__ import annotations

import dataclasses
import os
import typing as ty

import numpy as np

from neurodeploy.errors import BackendError
from neurodeploy.neurons import has_membrane, lif, stochastic

from .build import components, connection
from .learning_rules import LavaRule

GRADED_BITS = 24
#: Loihi3FLearningRule's y trace tau: Lava's synapse decays received y values by one step of it
Y_TAU_3F = float(np.iinfo(np.uint16).max)
Y_GAIN_3F = float(1.0 / np.exp(-1.0 / np.array([Y_TAU_3F]))[0])


class LearnNet:
    """The Lava processes of one run and the files they write."""

    def __init__(self, learner: ty.Any, L: dict, tmp: str, inputs: dict[str, np.ndarray],
                 n_samples: int, steps: int, rules: dict[str, LavaRule], step0: int = 0) -> None:
        """``step0``: the step the stochastic neurons' draws start at (the cpu learner's)."""
        self.lr, self.L, self.tmp = learner, L, tmp
        self.plan = plan = learner.plan
        self.n_samples, self.steps = n_samples, steps
        self.total = total = n_samples * steps
        from ..noise import stochastic_uniforms
        self.draws = stochastic_uniforms(plan, total, 0, step0)
        self.procs: dict[str, ty.Any] = {}
        self.count_files: dict[str, str] = {}
        self.weight_files: dict[str, str] = {}
        self.src: dict[str, np.ndarray] = {}
        self.n_conns = 0
        lay = learner.layout
        for name in lay.sources:
            self.src[name] = self._source(inputs.get(name), plan.populations[name].size)
        y1 = self._post_y1(rules)
        gate = {}
        for block in plan.plasticity.values():
            for pop in block.get("gated", []):
                gate[pop] = int(block.get("gate_window", 0))
        shifts = self._tf_shifts(rules)
        for name in lay.neurons:
            self.procs[name] = self._neuron(name, gate.get(name, 0), y1.get(name, (1.0, 0.0)),
                                            shifts.get(name, 0))
        for name in lay.sources:
            dt = np.int32 if plan.fixed else np.float64
            self.procs[name] = L["RingBuffer"](data=np.ascontiguousarray(self.src[name].T.astype(dt)))
        for name, proj in plan.projections.items():
            w = self._weights(name)
            if name in rules:
                conn = self._learning_conn(name, proj, w, rules[name])
            else:
                conn = self._conn(name, proj, w)
            self.procs[proj.pre].s_out.connect(conn.s_in)
            post = self.procs[proj.post]
            out = conn.a_out
            delay = int(np.asarray(proj.delays).flat[0]) if np.size(proj.delays) else 0
            if name in rules and delay > 0:
                line = _processes().DelayLine(shape=(proj.shape[0],), delay=delay)
                out.connect(line.a_in)
                out = line.a_out
                self.n_conns += 1
            out.connect(post.a_third_factor_in if proj.port == "third_factor" else post.a_in)
            self.n_conns += 1

    # ------------------------------------------------------------------ parts
    def _source(self, a: np.ndarray | None, size: int) -> np.ndarray:
        if a is None:
            return np.zeros((self.total, size), np.uint8)
        a = np.asarray(a)
        if a.shape not in ((self.n_samples, self.steps, size), (1, self.total, size)):
            raise BackendError(f"input of shape {a.shape}; expected [samples, steps, {size}] = "
                               f"[{self.n_samples}, {self.steps}, {size}] or [1, samples*steps, "
                               f"{size}] (the lava learner runs one chip)")
        return a.reshape(self.total, size).astype(np.uint8)

    def _post_y1(self, rules: dict[str, LavaRule]) -> dict[str, tuple[float, float]]:
        """(decay, impulse) of the y1 trace each post population sends to three-factor rules."""
        out: dict[str, tuple[float, float]] = {}
        for name, r in rules.items():
            rule = self.lr.rules[name]
            if not r.third_factor or not any("y1" in t.factors for t in rule.terms):
                continue
            post = self.plan.projections[name].post
            want = (rule.y1.decay, rule.y1.impulse)
            if out.setdefault(post, want) != want:
                raise BackendError(f"three-factor rules into '{post}' ask for different y1 "
                                   "traces; a Lava learning neuron sends one")
            out[post] = want
        return out

    def _tf_shifts(self, rules: dict[str, LavaRule]) -> dict[str, int]:
        """Fixed point: the third-factor shift of each learning post population (the one
        its quantized three-factor rules store)."""
        if not self.plan.fixed:
            return {}
        from neurodeploy.learning.fixed_point import plan_rule
        out: dict[str, int] = {}
        for name, r in rules.items():
            if r.third_factor:
                post = self.plan.projections[name].post
                shift = int(plan_rule(self.plan, name)["third_factor"]["shift"])
                if out.setdefault(post, shift) != shift:
                    raise BackendError(f"three-factor rules into '{post}' store different "
                                       "third-factor shifts; recompile the build")
        return out

    def _counts_file(self, name: str, size: int) -> str:
        path = os.path.join(self.tmp, f"counts-{len(self.count_files)}.bin")
        with open(path, "wb") as fh:
            fh.truncate(self.n_samples * size * 4)
        self.count_files[name] = path
        return path

    def _neuron(self, name: str, gate_window: int, y1: tuple[float, float],
                tf_shift: int = 0) -> ty.Any:
        pop = self.plan.populations[name]
        counts = self._counts_file(name, pop.size)
        P = _processes()
        if pop.kind == "graded":
            return P.GradedRelay(shape=(pop.size,), counts=counts, windows=self.n_samples,
                                 window=self.steps)
        n, fixed = pop.size, self.plan.fixed
        cls = P.LearnLIF
        kw = lif.lava_kwargs(pop, fixed)
        if pop.kind == "stochastic":
            cls = P.LearnStochastic
            kw = dict(stochastic.lava_kwargs(pop), uniforms=self.draws[name])
        kw.pop("refractory_period", None)        # LearnLIF takes it below (float only)
        lay = self.lr.layout
        o = lay.neuron0[name]
        epochs = (set(np.asarray(lay.net.epoch[o:o + n]).tolist()) if not fixed
                  else self._fixed_epochs(name))
        if len(epochs) != 1:
            raise BackendError(f"population '{name}' has neurons with different learning epochs")
        return cls(shape=(n,), reset_interval=self.steps, reset_offset=1, epoch=epochs.pop(),
                          refractory_period=0 if fixed else int(pop.refractory),
                          gate_window=gate_window, y1_decay=y1[0], y1_impulse=y1[1],
                          counts=counts, windows=self.n_samples, window=self.steps,
                          y_gain=1.0 if fixed else Y_GAIN_3F, tf_shift=tf_shift,
                          coupling=np.asarray(lay.net.couple[o:o + n], float), **kw)

    def _fixed_epochs(self, name: str) -> set[int]:
        """Learning epochs of a fixed build's population: those of the epoch-summed
        third-factor rules it learns with (:func:`~neurodeploy.learning.fixed_point.
        epoch_summed`), else one step."""
        from neurodeploy.learning.fixed_point import epoch_summed
        out = {r.t_epoch for p, r in self.lr.rules.items()
               if self.plan.projections[p].post == name and epoch_summed(r)}
        return out or {1}

    def _weights(self, name: str) -> np.ndarray:
        """[post, pre] weights as Lava's connection takes them (fixed: the mantissa)."""
        dense = self.lr.layout.dense(self.lr.weights[0], name)
        proj = self.plan.projections[name]
        if self.plan.fixed and proj.weight_exp > 0:
            dense = dense >> proj.weight_exp
        return dense.astype(np.int32 if self.plan.fixed else np.float64)

    def _conn(self, name: str, proj: ty.Any, w: np.ndarray) -> ty.Any:
        sl = self.lr.layout.slices[name]
        if proj.format == "coo":
            vals = w[sl.rows, sl.cols]
            order = np.lexsort((sl.cols, sl.rows))
            proj = dataclasses.replace(proj, weights=vals[order], rows=sl.rows[order],
                                       cols=sl.cols[order], delays=self._coo_delays(proj, sl, order))
        else:
            proj = dataclasses.replace(proj, weights=w)
        conn = connection(self.L, proj, self.plan.fixed)
        if self.plan.populations[proj.pre].kind == "graded":
            conn.num_message_bits.init = np.array([GRADED_BITS])
            conn.proc_params._parameters["num_message_bits"] = GRADED_BITS
        return conn

    @staticmethod
    def _coo_delays(proj: ty.Any, sl: ty.Any, order: np.ndarray) -> ty.Any:
        if np.ndim(proj.delays) == 0:
            return proj.delays
        return proj.dense_delays()[sl.rows[order], sl.cols[order]]

    def _learning_conn(self, name: str, proj: ty.Any, w: np.ndarray, rule: LavaRule) -> ty.Any:
        P = _processes()
        path = os.path.join(self.tmp, f"w-{len(self.weight_files)}.bin")
        steps = self.record_steps()
        with open(path, "wb") as fh:
            fh.truncate(len(steps) * w.size * 8)
        self.weight_files[name] = path
        kw: dict[str, ty.Any] = {}
        if self.plan.fixed:
            kw = dict(weight_exp=int(proj.weight_exp), num_weight_bits=int(proj.num_weight_bits),
                      sign_mode=self.L["SignMode"][proj.sign_mode.upper()])
        if self.plan.populations[proj.pre].kind == "graded":   # payloads: see LavaRule
            kw["num_message_bits"] = GRADED_BITS
        cls = P.RecLearningDense
        if proj.format == "coo":           # explicit synapses: only these learn
            from scipy.sparse import csr_matrix
            sl = self.lr.layout.slices[name]
            w = csr_matrix((w[sl.rows, sl.cols], (sl.rows, sl.cols)), shape=w.shape)
            cls = P.RecLearningSparse
        conn = cls(weights=w, learning_rule=rule.learning_rule(), weights_file=path,
                   record_steps=steps, **kw)
        post = self.procs[proj.post]
        post.s_out_bap.connect(conn.s_in_bap)
        if rule.third_factor:
            post.s_out_y1.connect(conn.s_in_y1)
            post.s_out_y2.connect(conn.s_in_y2)
            post.s_out_y3.connect(conn.s_in_y3)
        return conn

    def record_steps(self) -> tuple[int, ...]:
        """Lava time steps after which learned weights are written: the last one, or every
        step when the learner keeps trajectories (``trace_weights``)."""
        if getattr(self.lr, "trace_weights", False):
            return tuple(range(1, self.total + 1))
        return (self.total,)

    def root(self) -> tuple[ty.Any, int]:
        """The process Lava compiles from (a tie joining disconnected components)."""
        used = set(self.procs)
        comps = components(self.plan, used)
        taps = [self.procs[sorted(c)[0]].s_out for c in comps]
        n = len(self.procs) + self.n_conns
        if len(taps) == 1:
            return taps[0].process, n
        tie = _processes_base().make_tie([t.shape for t in taps])
        for i, port in enumerate(taps):
            port.connect(getattr(tie, f"in_{i}"))
        return tie, n + 1

    # ------------------------------------------------------------------ read-out
    def read(self, total: int) -> tuple[np.ndarray, np.ndarray, float]:
        """(read-out counts [samples, classes], totals per layout neuron, synaptic events)."""
        lay, plan = self.lr.layout, self.plan
        per_sample: dict[str, np.ndarray] = {}
        for name, path in self.count_files.items():
            size = plan.populations[name].size
            per_sample[name] = np.fromfile(path, np.int32).reshape(self.n_samples, size)
        for name, a in self.src.items():
            per_sample[name] = a.reshape(self.n_samples, self.steps, -1).sum(axis=1)
        totals = np.zeros(lay.n, np.int64)
        for name in lay.neurons:
            if has_membrane(plan.populations[name].kind):
                o = lay.neuron0[name]
                totals[o:o + plan.populations[name].size] = per_sample[name].sum(axis=0)
        synops = 0.0
        for name, proj in plan.projections.items():
            sl = lay.slices[name]
            outdeg = np.bincount(sl.cols, minlength=proj.shape[1]).astype(np.float64)
            synops += float(per_sample[proj.pre].sum(axis=0) @ outdeg)
        return per_sample[self.lr.readout].astype(np.int32), totals, synops


def _processes():
    from . import learning_processes
    return learning_processes


def _processes_base():
    from . import processes
    return processes
