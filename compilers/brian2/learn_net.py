"""One Brian2 run of a learning build: objects from the cpu layout, run, read back.

Each run owns its :class:`~brian2.Network`, :class:`~brian2.Clock` and objects (fixed
names, explicit namespaces), starts from a fresh state (u, v, buffers, traces, gate
counters) and the given weights, as :class:`compilers.cpu.learner.CpuLearner` does at the
start of every ``present``. Schedule of one step ``t``:

* ``groups``     -- sources set ``val`` from their input; LIF populations reset u and v at
  sample starts, consume their buffers, update, spike, gate the third factor; graded
  relays emit their summed input (:mod:`.learn_code`);
* ``thresholds`` -- every emitter group emits where ``val != 0``;
* ``synapses``   -- each (projection, delay) adds ``w * val_pre`` to the post buffers, in
  projection order (the cpu's scatter order);
* ``resets``     -- ``v = 0`` after a LIF spike (and the refractory counter);
* ``end``        -- the learning epoch of every active plastic projection.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurodeploy.errors import BackendError
from neurodeploy.learning.engine_rule import EngineRule
from neurodeploy.neurons import has_membrane, lif, stochastic

from ..cpu.learn_layout import Layout
from . import learn_code as code


@dataclass
class RunResult:
    """What one run hands back: weights, read-out spikes and workload counts."""

    w: np.ndarray            # [nnz] flat weights after the run (cpu layout order)
    readout_t: np.ndarray    # step of each read-out spike
    readout_i: np.ndarray    # read-out neuron of each spike
    totals: np.ndarray       # [n] spikes per neuron (layout neuron order; graded: 0)
    synops: float            # synapses reached by an emission (effective accumulates)


def _depths(layout: Layout) -> dict[str, dict[str, int]]:
    """Per post population, the deepest delay of each port that reaches it."""
    out: dict[str, dict[str, int]] = {name: {"current": 0} for name in layout.neurons}
    for name, proj in layout.plan.projections.items():
        sl = layout.slices[name]
        d = layout.net.delay[sl.syn0:sl.syn0 + sl.nnz]
        deepest = int(d.max()) if d.size else 0
        ports = out[proj.post]
        ports[proj.port] = max(ports.get(proj.port, 0), deepest)
    return out


class LearnNet:
    """Builds and runs the Brian2 network of one chip."""

    def __init__(self, b2, layout: Layout, rules: dict[str, EngineRule], readout: str) -> None:
        self.b2, self.layout, self.rules, self.readout = b2, layout, rules, readout
        self.depths = _depths(layout)

    def run(self, sources: dict[str, np.ndarray], n_steps: int, period: int, w: np.ndarray,
            gain: np.ndarray, learn: bool, draws: dict[str, np.ndarray] | None = None
            ) -> RunResult:
        """Simulate ``n_steps`` steps; ``sources`` [n_steps, size] 0/1 per given source (others
        silent); ``draws`` [n_steps, size] uniforms per stochastic population; u and v are
        reset every ``period`` steps; rules learn when ``learn`` and active in
        ``layout.rules``."""
        b2, lay = self.b2, self.layout
        dt = lay.plan.dt * b2.ms
        clock = b2.Clock(dt=dt, name="nd_clock")
        objects: list = []
        groups = {}
        for k, (name, pop) in enumerate(lay.plan.populations.items()):
            groups[name] = self._group(name, pop, k, clock, objects, sources.get(name),
                                       (draws or {}).get(name), period)
        synapses = self._synapses(groups, clock, objects, w, gain, learn)
        mons = {}
        for k, name in enumerate(lay.plan.populations):
            record = name == self.readout
            mons[name] = b2.SpikeMonitor(groups[name], record=record, name=f"nd_mon{k}")
            objects.append(mons[name])
        net = b2.Network(*objects, name="nd_learn_network")
        saved = b2.prefs["codegen.target"]
        try:
            b2.prefs["codegen.target"] = "numpy"
            net.run(n_steps * dt, namespace={})
        except Exception as exc:  # Brian2 codegen errors become backend errors
            raise BackendError(f"Brian2 (numpy) failed: {type(exc).__name__}: {exc}") from exc
        finally:
            b2.prefs["codegen.target"] = saved
        if int(round(float(clock.t / dt))) != n_steps:
            raise BackendError(f"Brian2 ran {float(clock.t / dt):g} steps instead of {n_steps}")
        return self._collect(mons, synapses, w, float(dt))

    # ------------------------------------------------------------------ groups
    def _group(self, name: str, pop, k: int, clock, objects: list, spikes, uniforms,
               period: int):
        """The group of one population: ``spikes`` a source's input, ``uniforms`` a
        stochastic population's draws of the run."""
        b2, lay = self.b2, self.layout
        tag = f"nd_pop{k}"
        if pop.kind in ("spike_source", "poisson"):
            ns = {}
            if spikes is not None:
                ns["stim"] = b2.TimedArray(np.asarray(spikes != 0, np.float64), dt=clock.dt,
                                           name=f"{tag}_stim")
            g = b2.NeuronGroup(pop.size, code.SOURCE_MODEL, threshold="val != 0", reset="",
                               clock=clock, namespace=ns, name=tag)
            if spikes is not None:
                g.run_regularly(code.SOURCE_STEP, clock=clock, when="groups", name=f"{tag}_step")
        elif pop.kind == "graded":
            depths = self.depths[name]
            g = b2.NeuronGroup(pop.size, code.graded_model(depths), threshold="val != 0",
                               reset="", clock=clock, namespace={}, name=tag)
            g.run_regularly(code.graded_step(depths), clock=clock, when="groups",
                            name=f"{tag}_step")
        else:
            depths = self.depths[name]
            refractory = int(pop.refractory) > 0
            reset = lif.brian2_code(int(pop.refractory))[2]
            escape = pop.kind == "stochastic"
            ns = {"nd_r": b2.TimedArray(np.asarray(uniforms, np.float64), dt=clock.dt,
                                        name=f"{tag}_r")} if escape else {}
            g = b2.NeuronGroup(pop.size, code.lif_model(depths, refractory, escape),
                               threshold="spk > 0" if escape else "v > vth", reset=reset,
                               clock=clock, namespace=ns, name=tag)
            (stochastic if escape else lif).brian2_set(g, pop)
            o = lay.neuron0[name]
            g.gwin = lay.net.gate_win[o:o + pop.size]
            g.ep = lay.net.epoch[o:o + pop.size]
            g.cpl = lay.net.couple[o:o + pop.size]
            g.since = code.NEVER
            g.period = period
            g.run_regularly(code.lif_step(depths, refractory, escape), clock=clock,
                            when="groups", name=f"{tag}_step")
        objects.append(g)
        return g

    # ------------------------------------------------------------------ synapses
    def _synapses(self, groups: dict, clock, objects: list, w: np.ndarray, gain: np.ndarray,
                  learn: bool) -> list[tuple[object, slice, np.ndarray]]:
        """One Synapses object per (projection, delay), synapses in the cpu layout's order;
        returns (object, projection slice, positions in the slice) to read weights back."""
        b2, lay = self.b2, self.layout
        active = {name: bool(a) for name, a in zip(lay.rule_names, lay.rules.active)}
        out = []
        for p, (name, proj) in enumerate(lay.plan.projections.items()):
            sl = lay.slices[name]
            flat = slice(sl.syn0, sl.syn0 + sl.nnz)
            delays = lay.net.delay[flat]
            rule = self.rules.get(name)
            learning = learn and rule is not None and active.get(name, False)
            q = lay.rule_names.index(name) if rule is not None else -1
            for d in np.unique(delays):
                sel = np.flatnonzero(delays == d)
                tag = f"nd_proj{p}_d{int(d)}"
                syn = b2.Synapses(groups[proj.pre], groups[proj.post],
                                  model=code.synapse_model(rule if learning else None),
                                  on_pre=code.on_pre(proj.port, int(d)), clock=clock,
                                  namespace={}, name=tag, order=p)
                syn.connect(i=sl.cols[sel], j=sl.rows[sel])
                syn.w = w[flat][sel]
                if learning:
                    self._rule_values(syn, rule, q, gain[flat][sel])
                    syn.run_regularly(code.learning_step(rule), clock=clock, when="end",
                                      order=p, name=f"{tag}_learn")
                objects.append(syn)
                out.append((syn, flat, sel))
        return out

    def _rule_values(self, syn, rule: EngineRule, q: int, gain: np.ndarray) -> None:
        """Coefficients (as the layout holds them: a learning-rate schedule scales them
        there), trace constants, bounds and gain of one plastic Synapses object."""
        r = self.layout.rules
        syn.gain = gain
        for k in range(len(rule.terms)):
            setattr(syn, f"c{k}", r.t_coef[r.q_t0[q] + k])
        consts = {"x1": (r.q_xdec[q, 0], r.q_ximp[q, 0]), "x2": (r.q_xdec[q, 1], r.q_ximp[q, 1]),
                  "y1": (r.q_ydec[q], r.q_yimp[q])}
        for trace in code.used_traces(rule):
            setattr(syn, f"{trace}_dec", consts[trace][0])
            setattr(syn, f"{trace}_imp", consts[trace][1])
        if code.bounded(rule):
            syn.w_lo, syn.w_hi = r.q_wmin[q], r.q_wmax[q]

    # ------------------------------------------------------------------ results
    def _collect(self, mons: dict, synapses: list, w: np.ndarray, dt_s: float) -> RunResult:
        lay = self.layout
        w_out = np.array(w, np.float64, copy=True)
        for syn, flat, sel in synapses:
            w_out[flat.start + sel] = np.asarray(syn.w[:], np.float64)
        counts = {name: np.asarray(m.count[:], np.int64) for name, m in mons.items()}
        totals = np.zeros(lay.n, np.int64)
        for name in lay.neurons:
            if has_membrane(lay.plan.populations[name].kind):
                o = lay.neuron0[name]
                totals[o:o + counts[name].size] = counts[name]
        synops = 0.0
        for name, proj in lay.plan.projections.items():
            sl = lay.slices[name]
            out_degree = np.bincount(sl.cols, minlength=proj.shape[1])
            synops += float(np.dot(counts[proj.pre], out_degree))
        mon = mons[self.readout]
        steps = np.rint(np.asarray(mon.t_[:]) / dt_s).astype(np.int64)
        return RunResult(w_out, steps, np.asarray(mon.i[:], np.int64), totals, synops)
