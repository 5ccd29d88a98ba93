"""Brian2 float reference backend.

The model is not Brian2's ODE LIF: it is the *discrete* update of Lava's ``PyLifModelFloat``
(and ``PyLifRefractoryModelFloat`` when ``refractory > 0``), written as plain per-step code so
that Brian2 reproduces the float artifact operation by operation::

    u = u * (1 - du) + a_in
    v = v * (1 - dv) + u + bias        (refractory: v = v * (1 - dv) + (u + bias), held
                                        for ``refractory`` steps after a spike)
    s = v > vth;  v[s] = 0

Scheduling (one shared local :class:`~brian2.Clock`, ``dt = plan.dt * ms``; Brian2 runs the
objects of one step in the order of its schedule slots ``start, groups, thresholds, synapses,
resets, end``):

* ``groups``      -- a ``run_regularly`` block consumes the accumulator ``a`` (the activation
  delivered this step), clears it, and updates ``u`` then ``v``;
* ``thresholds``  -- LIF thresholders test ``v > vth``; ``SpikeGeneratorGroup`` sources emit the
  spikes of this step (a spike at time ``t * dt`` is emitted in step ``t``);
* ``synapses``    -- every projection's pre pathway pushes this step's spikes into its queue and
  runs the events that are due now: ``a_post += w``.  Because this slot comes *after* the
  ``groups`` update, what is added here is consumed at the next step, so a Brian2 synaptic
  delay of ``d * dt`` gives the contract's delivery at ``t + 1 + d``;
* ``resets``      -- ``v = 0`` (and the refractory counter) for neurons that spiked;
* ``end``         -- ``StateMonitor`` records ``v``/``u`` after the reset (the contract's
  "state after the update of step t"; Brian2's default ``start`` would record the previous
  step).  Spikes come from a ``SpikeMonitor``.

Float equality with the NumPy/Lava float model: each arithmetic statement is a two-operand
operation (``1 - du`` and ``1 - dv`` are precomputed in NumPy and stored as shared variables so
sympy never folds or reorders them), so Brian2 computes the same float64 values for ``u`` and
``v`` given the same input.  The only source of difference is the order in which the synaptic
input ``a`` is summed (Brian2 adds synapse by synapse; Lava and the cpu kernels use a
matrix-vector product per projection and delay slot), i.e. float64 rounding of the input.
The cython target is compiled without ``-ffast-math`` (no FMA contraction or reassociation)
into its own cache directory so it follows the same IEEE arithmetic as the numpy target.

Every run builds its own objects in its own :class:`~brian2.Network` with an explicit empty
namespace; ``defaultclock`` and the magic network are never touched and the codegen
preferences are restored after each run.  Object names are fixed (``nd_pop0``, ``nd_proj1``)
because Brian2 writes them into the generated code: auto-numbered names would make every
cython run recompile.

``meta["timings"]`` (seconds): ``build`` (Brian2 objects and synapse creation -- with cython
this includes compiling the synapse-creation code on a cold cache), ``codegen`` (code
generation and, for cython, compilation of the run code; ~0 on a warm cache), ``run`` (the
simulation loop, Brian2's own measure) and ``collect`` (monitor arrays to results).

Temporal noise (``docs/noise.md``) comes precomputed from the counter-based random function
(the numbers the cpu and Lava backends use) as ``TimedArray``s: ``v = v + nd_nz(t, i)`` ends
the per-step update, and a population with spike drop emits a custom event ``delivered``
(``v > vth`` and not dropped) that its outgoing synapses listen to instead of ``spike``
(the SpikeMonitor still records every spike; the neuron still resets). Dropped source spikes
are left out of the SpikeGeneratorGroup and recorded as given.

Stochastic populations (:mod:`neurodeploy.neurons.stochastic`) run the same update, then
compute the escape probability ``p``; their threshold is ``live and nd_r(t, i) < p`` with the
uniforms ``nd_r`` precomputed at the cpu loop's coordinates (a ``TimedArray``).
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from neurodeploy.errors import BackendError
from neurodeploy.neurons import has_membrane, lif, stochastic

from .. import Backend
from ..capabilities import Capabilities, translated
from ..plan import SimPlan
from ..result import SimResult

FIXED_REASON = ("fixed-point builds run on cpu or lava; Brian2 is the float reference — "
                "compile with --profile cpu")
TARGETS = ("numpy", "cython")
# IEEE-faithful flags for the cython target (Brian2's defaults add -ffast-math and
# -march=native, which allow FMA contraction/reassociation and so change float64 rounding).
CYTHON_COMPILE_ARGS = ["-w", "-O2", "-ffp-contract=off", "-fno-fast-math", "-std=c++11"]
_FLAGS_TAG = "ieee-O2"
DEFAULT_CACHE = Path(os.path.expanduser("~/.cache/neurodeploy/brian2"))

def _brian2():
    import brian2  # heavy import, done on first run only
    return brian2


def _names(plan: SimPlan) -> dict[tuple[str, str], str]:
    """Brian2 object names: fixed, by position (``nd_pop0``, ``nd_proj1``).

    Brian2 puts object names into the generated code, so names that change from run to run
    (``name*`` auto-numbering) would make every cython run a cache miss and recompile; fixed
    names let identical model code be reused across runs and across networks of the same
    structure.  Names only need to be unique within one Network, which each run owns.
    """
    out = {("pop", n): f"nd_pop{i}" for i, n in enumerate(plan.populations)}
    out.update({("proj", n): f"nd_proj{i}" for i, n in enumerate(plan.projections)})
    return out


#: the kinds this backend's builders translate (its runs and its learner's); a kind whose
#: ``NeuronKind.backends`` claims brian2 but is not here is refused, never built as a LIF
TRANSLATED = ("lif", "stochastic", "graded")


class Brian2Backend(Backend):
    """Runs float builds on Brian2 (runtime mode, numpy or cython code generation)."""

    name = "brian2"

    def __init__(self, target: str = "numpy", cache_dir: str | Path | None = None,
                 noise_chip: int = 0) -> None:
        """``noise_chip``: the chip whose temporal noise is drawn (docs/noise.md)."""
        if target not in TARGETS:
            raise BackendError(f"brian2 target must be one of {', '.join(TARGETS)}, got '{target}'")
        if isinstance(noise_chip, bool) or not isinstance(noise_chip, (int, np.integer)) \
                or noise_chip < 0:
            raise BackendError(f"noise_chip must be an integer >= 0; got {noise_chip!r}")
        self.noise_chip = int(noise_chip)
        self.target = target
        self.cache_dir = Path(cache_dir) if cache_dir else DEFAULT_CACHE

    capabilities = Capabilities("brian2", modes=("run", "learn"), numerics=("float",),
                                noise_channels={"run": ("membrane", "current", "drop")},
                                kind_check=translated("brian2", TRANSLATED))

    # ------------------------------------------------------------------ checks
    def refuse_reason(self, plan: SimPlan, mode: str = "run") -> str | None:
        if plan.fixed:
            return FIXED_REASON
        return super().refuse_reason(plan, mode)

    # ------------------------------------------------------------------ run
    def run(self, plan: SimPlan, inputs: dict[str, np.ndarray], steps: int) -> SimResult:
        self.check(plan)
        steps = int(steps)
        if steps <= 0:
            raise BackendError(f"steps must be positive, got {steps}")
        sources = self._source_spikes(plan, inputs, steps)
        b2 = _brian2()
        from brian2.devices.device import RuntimeDevice
        if not isinstance(b2.get_device(), RuntimeDevice):
            raise BackendError("backend 'brian2' needs Brian2's runtime device; a standalone "
                               "device was set with set_device() in this process")
        prefs = b2.prefs
        saved = {"codegen.target": prefs["codegen.target"]}
        if self.target == "cython":
            saved["codegen.runtime.cython.cache_dir"] = prefs["codegen.runtime.cython.cache_dir"]
            saved["codegen.cpp.extra_compile_args_gcc"] = list(
                prefs["codegen.cpp.extra_compile_args_gcc"])
        try:
            prefs["codegen.target"] = self.target
            if self.target == "cython":
                cache = self.cache_dir / "cython" / _FLAGS_TAG
                cache.mkdir(parents=True, exist_ok=True)
                prefs["codegen.runtime.cython.cache_dir"] = str(cache)
                prefs["codegen.cpp.extra_compile_args_gcc"] = list(CYTHON_COMPILE_ARGS)
            return self._run(b2, plan, sources, steps)
        finally:
            for key, value in saved.items():
                prefs[key] = value

    @staticmethod
    def _source_spikes(plan: SimPlan, inputs: dict[str, np.ndarray], steps: int
                       ) -> dict[str, np.ndarray]:
        """[steps, size] 0/1 arrays per source, keyed by population (``name`` or ``name.spikes``)."""
        out = {}
        for name in plan.sources():
            size = plan.populations[name].size
            arr = inputs.get(name, inputs.get(f"{name}.spikes"))
            if arr is None:
                raise BackendError(f"no input spikes for source population '{name}' "
                                   "(use make_inputs to build them)")
            arr = np.asarray(arr)
            if arr.ndim != 2 or arr.shape[1] != size or arr.shape[0] < steps:
                raise BackendError(f"input for '{name}' has shape {arr.shape}; expected "
                                   f"[steps >= {steps}, {size}]")
            out[name] = arr[:steps] != 0
        return out

    def _run(self, b2: Any, plan: SimPlan, sources: dict[str, np.ndarray], steps: int
             ) -> SimResult:
        t0 = time.perf_counter()
        dt = plan.dt * b2.ms
        clock = b2.Clock(dt=dt, name="nd_clock")
        names = _names(plan)
        groups: dict[str, Any] = {}
        objects: list[Any] = []
        from ..noise import delivered, noise_arrays, stochastic_uniforms
        noise = noise_arrays(plan, steps, self.noise_chip)     # docs/noise.md
        draws = stochastic_uniforms(plan, steps, self.noise_chip)   # the cpu loop's
        for name, pop in plan.populations.items():
            tag = names[("pop", name)]
            if has_membrane(pop.kind):
                groups[name] = self._lif_group(b2, pop, clock, tag, objects,
                                               noise.membrane.get(name), noise.drop.get(name),
                                               noise.current.get(name), draws.get(name))
            else:
                idx_t, idx_i = np.nonzero(delivered(sources[name], noise.drop.get(name)))
                g = b2.SpikeGeneratorGroup(pop.size, idx_i.astype(np.int64),
                                           idx_t.astype(np.float64) * plan.dt * b2.ms,
                                           clock=clock, name=tag)
                groups[name] = g
                objects.append(g)
        for name, proj in plan.projections.items():
            on_event = "delivered" if _has_drop(plan, proj.pre, noise.drop) else "spike"
            syn = self._synapses(b2, proj, groups, clock, plan.dt * b2.ms,
                                 names[("proj", name)], on_event)
            if syn is not None:
                objects.append(syn)
        # monitors
        wanted: dict[str, list[str]] = {}
        for pop_name, var in plan.monitors:
            if pop_name not in plan.populations:
                raise BackendError(f"monitor on unknown population '{pop_name}'")
            wanted.setdefault(pop_name, [])
            if var not in wanted[pop_name]:
                wanted[pop_name].append(var)
        spike_mons, state_mons = {}, {}
        for pop_name, vars_ in wanted.items():
            if not has_membrane(plan.populations[pop_name].kind):
                continue
            tag = names[("pop", pop_name)]
            if "spikes" in vars_:
                spike_mons[pop_name] = b2.SpikeMonitor(groups[pop_name], name=f"{tag}_spikemon")
                objects.append(spike_mons[pop_name])
            state_vars = [v for v in vars_ if v != "spikes"]
            if state_vars:
                state_mons[pop_name] = b2.StateMonitor(groups[pop_name], state_vars, record=True,
                                                       clock=clock, when="end", order=0,
                                                       name=f"{tag}_statemon")
                objects.append(state_mons[pop_name])
        net = b2.Network(*objects, name="nd_network")
        t_build = time.perf_counter() - t0

        t1 = time.perf_counter()
        try:
            net.run(steps * dt, namespace={})
        except Exception as exc:  # Brian2 codegen/compile errors become backend errors
            raise BackendError(f"Brian2 ({self.target}) failed: {type(exc).__name__}: {exc}"
                               ) from exc
        t_total_run = time.perf_counter() - t1
        loop = getattr(b2.get_device(), "_last_run_time", None)
        timings = {"build": t_build}
        if isinstance(loop, float) and 0 <= loop <= t_total_run:
            timings["codegen"] = t_total_run - loop   # code generation (+ cython compile)
            timings["run"] = loop
        else:
            timings["run"] = t_total_run
        if int(round(float(clock.t / dt))) != steps:
            raise BackendError(f"Brian2 ran {float(clock.t / dt):g} steps instead of {steps}")

        t2 = time.perf_counter()
        data: dict[str, np.ndarray] = {}
        dt_s = float(dt)
        for pop_name, var in plan.monitors:
            key = f"{pop_name}.{var}"
            if key in data:
                continue
            pop = plan.populations[pop_name]
            if not has_membrane(pop.kind):
                data[key] = sources[pop_name].astype(np.uint8)
            elif var == "spikes":
                mon = spike_mons[pop_name]
                arr = np.zeros((steps, pop.size), dtype=np.uint8)
                step_idx = np.rint(np.asarray(mon.t_[:]) / dt_s).astype(np.int64)
                arr[step_idx, np.asarray(mon.i[:], dtype=np.int64)] = 1
                data[key] = arr
            else:
                vals = np.asarray(getattr(state_mons[pop_name], var)[:], dtype=np.float64)
                if vals.shape != (pop.size, steps):
                    raise BackendError(f"Brian2 recorded {vals.shape} for {key}, expected "
                                       f"{(pop.size, steps)}")
                data[key] = np.ascontiguousarray(vals.T)
        timings["collect"] = time.perf_counter() - t2
        meta = {"backend": self.name, "target": self.target, "numerics": plan.numerics,
                "steps": steps, "dt_ms": plan.dt, "brian2_version": b2.__version__,
                "build": plan.path, "timings": timings}
        return SimResult(data=data, meta=meta)

    # ------------------------------------------------------------------ model pieces
    @staticmethod
    def _lif_group(b2: Any, pop: Any, clock: Any, tag: str, objects: list,
                   nz: np.ndarray | None = None, drop: np.ndarray | None = None,
                   current: np.ndarray | None = None, uniforms: np.ndarray | None = None) -> Any:
        """A LIF group, or (``uniforms`` given) a stochastic one."""
        namespace: dict[str, Any] = {}
        if uniforms is None:
            eqs, update, reset = lif.brian2_code(int(pop.refractory))
            threshold = "v > vth"
        else:
            eqs, update, reset, threshold = stochastic.brian2_code(int(pop.refractory))
            namespace["nd_r"] = b2.TimedArray(np.asarray(uniforms, np.float64), dt=clock.dt,
                                              name=f"{tag}_r")
        events = None
        if current is not None:         # the input plus its noise, before u takes it
            namespace["nd_nzc"] = b2.TimedArray(np.asarray(current, np.float64), dt=clock.dt,
                                                name=f"{tag}_nzc")
            update = "a = a + nd_nzc(t, i)\n" + update
        if nz is not None:
            namespace["nd_nz"] = b2.TimedArray(np.asarray(nz, np.float64), dt=clock.dt,
                                               name=f"{tag}_nz")
            update += "v = v + nd_nz(t, i)\n"
        if uniforms is not None:
            update += stochastic.BRIAN2_ESCAPE
        if drop is not None:
            namespace["nd_keep"] = b2.TimedArray((~np.asarray(drop, bool)).astype(np.float64),
                                                 dt=clock.dt, name=f"{tag}_keep")
            events = {"delivered": f"{threshold} and nd_keep(t, i) > 0.5"}
        g = b2.NeuronGroup(pop.size, eqs, threshold=threshold, reset=reset, clock=clock,
                           namespace=namespace, name=tag, events=events)
        (lif if uniforms is None else stochastic).brian2_set(g, pop)
        g.run_regularly(update, clock=clock, when="groups", order=0, name=f"{tag}_update")
        objects.append(g)
        return g

    @staticmethod
    def _synapses(b2: Any, proj: Any, groups: dict, clock: Any, dt: Any, tag: str,
                  on_event: str = "spike") -> Any:
        if proj.format == "coo":
            post = np.asarray(proj.rows, dtype=np.int64)
            pre = np.asarray(proj.cols, dtype=np.int64)
            w = np.asarray(proj.weights, dtype=np.float64).reshape(-1)
            if np.ndim(proj.delays) == 0:
                d = np.full(w.shape, int(proj.delays), dtype=np.int64)
            else:
                d = np.asarray(proj.delays, dtype=np.int64).reshape(-1)
        else:
            wm = np.asarray(proj.weights, dtype=np.float64)
            post, pre = np.nonzero(np.ones(wm.shape, dtype=bool))
            w = wm[post, pre]
            d = proj.dense_delays()[post, pre]
        keep = w != 0            # a zero weight adds nothing (Lava adds +0.0)
        post, pre, w, d = post[keep], pre[keep], w[keep], d[keep]
        if w.size == 0:
            return None
        if np.any(d < 0):
            raise BackendError(f"projection {proj.name} has negative delays")
        syn = b2.Synapses(groups[proj.pre], groups[proj.post], model="w : 1 (constant)",
                          on_pre="a_post += w", clock=clock, namespace={}, name=tag,
                          on_event=on_event)
        syn.connect(i=pre, j=post)
        syn.w = w
        if np.any(d > 0):
            # The accumulator adds one step (consumed at the next 'groups' slot), so the
            # Brian2 delay is d (not 1 + d) steps for the contract's t + 1 + d delivery.
            syn.delay = d.astype(np.float64) * dt
        return syn


def _has_drop(plan: SimPlan, pop: str, drop: dict[str, np.ndarray]) -> bool:
    """True when the LIF or stochastic population ``pop`` has spike drop (its synapses take
    ``delivered``)."""
    return pop in drop and has_membrane(plan.populations[pop].kind)
