"""The lava backend: a build simulated with Lava processes on ``Loihi2SimCfg``.

Mapping (see :mod:`neurodeploy.compilers.plan` for the timing contract, which is Lava's):

* LIF population -> :class:`~.processes.NdLIF` (Lava's LIF models, per-neuron ``vth``);
  with ``readout="monitor"`` and a uniform threshold, Lava's own ``LIF`` process.
* stochastic population (float) -> :class:`~.stochastic.NdStochastic` (the float LIF with
  the escape activation; its uniforms precomputed at the cpu loop's coordinates).
* spike_source / Poisson population -> ``RingBuffer`` with the input ``[size, steps]``
  (column ``t`` is sent at step ``t``); Poisson spikes are pre-drawn by ``make_inputs``.
* dense projection, no delay -> ``Dense``; coo projection, no delay -> ``Sparse`` (csr);
  any delay > 0 (scalar or per synapse) -> ``DelayDense`` on the densified matrix.
  Fixed builds pass ``weight_exp``, ``num_weight_bits`` and ``sign_mode``.
* Fixed builds run with ``Loihi2SimCfg(select_tag="fixed_pt")`` (bit-accurate models),
  float builds with ``"floating_pt"``.

Read-out: by default every monitored LIF writes its own spikes (bit-packed) and v/u into a
memory-mapped file from inside its Lava process (see :mod:`.processes`); ``readout="monitor"``
uses Lava ``Monitor`` processes and ``get_data()`` instead (slow; kept for comparison).
Spikes of monitored source populations are the input trains themselves in recorder mode
(a RingBuffer emits exactly its data) and are probed on the RingBuffer in monitor mode.

Every run is guarded: the run is started non-blocking and polled against a deadline
(option ``timeout``) and against its workers' health (:mod:`.guard`: a worker that raised or
died, e.g. killed by the out-of-memory killer, ends the run within one poll). On timeout,
error, KeyboardInterrupt, or SIGTERM/SIGHUP (raised as ``KeyboardInterrupt`` by
:mod:`neurodeploy.signals` in the CLI) all Lava child processes are killed and joined and
the run's temporary directory is removed; otherwise the runtime is stopped normally.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import tempfile
import time
import typing as ty
import warnings
from dataclasses import dataclass, field

import numpy as np

from neurodeploy import _lava_compat, signals
from neurodeploy.errors import BackendError
from neurodeploy.neurons import MEMBRANE_KINDS, lif, stochastic

from .. import Backend
from . import guard
from ..plan import PopulationPlan, ProjectionPlan, SimPlan
from ..result import SimResult

_lava_compat.install()

READOUTS = ("recorder", "monitor")
ERROR_REPORT_TIMEOUT = 10.0   # s a failing worker gets to deliver its traceback


def _lava():
    """Import Lava lazily (module import must stay cheap for the registry)."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.magma.runtime.runtime import Runtime
    from lava.magma.core.process.message_interface_enum import ActorType
    from lava.magma.runtime.mgmt_token_enums import MGMT_COMMAND, MGMT_RESPONSE, enum_equal
    from lava.proc.dense.process import DelayDense, Dense
    from lava.proc.io.source import RingBuffer
    from lava.proc.lif.process import LIF, LIFRefractory
    from lava.proc.monitor.process import Monitor
    from lava.proc.sparse.process import Sparse
    from lava.utils.weightutils import SignMode
    from . import processes
    return dict(RunSteps=RunSteps, Loihi2SimCfg=Loihi2SimCfg, Runtime=Runtime,
                ActorType=ActorType, MGMT_COMMAND=MGMT_COMMAND, MGMT_RESPONSE=MGMT_RESPONSE,
                enum_equal=enum_equal, DelayDense=DelayDense, Dense=Dense, RingBuffer=RingBuffer,
                LIF=LIF, LIFRefractory=LIFRefractory, Monitor=Monitor, Sparse=Sparse,
                SignMode=SignMode, processes=processes)


@dataclass
class _Net:
    """The Lava processes of one plan inside a (possibly shared) run."""

    plan: SimPlan
    inputs: dict[str, np.ndarray]
    procs: dict[str, ty.Any] = field(default_factory=dict)        # population -> process
    conns: list[ty.Any] = field(default_factory=list)
    records: dict[tuple[str, str], str] = field(default_factory=dict)   # (pop, var) -> file
    monitors: dict[tuple[str, str], ty.Any] = field(default_factory=dict)
    components: list[set[str]] = field(default_factory=list)


def _components(plan: SimPlan, used: set[str]) -> list[set[str]]:
    """Connected components of the populations in ``used`` (via projections)."""
    parent = {n: n for n in used}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for proj in plan.projections.values():
        if proj.pre in parent and proj.post in parent:
            parent[find(proj.pre)] = find(proj.post)
    comps: dict[str, set[str]] = {}
    for n in used:
        comps.setdefault(find(n), set()).add(n)
    return [comps[k] for k in sorted(comps)]


class LavaBackend(Backend):
    """Run a build on Lava (``Loihi2SimCfg``, fixed_pt or floating_pt).

    Options: ``readout`` ('recorder' default, or 'monitor' for Lava Monitors),
    ``timeout`` (seconds for one run; default ``60 + 0.005 * steps * processes``),
    ``stop_timeout`` (seconds allowed for a normal runtime stop before it is killed),
    ``noise_chip`` (the chip whose temporal noise is drawn, docs/noise.md; default 0).
    """

    name = "lava"

    def __init__(self, readout: str = "recorder", timeout: float | None = None,
                 stop_timeout: float = 20.0, noise_chip: int = 0) -> None:
        if readout not in READOUTS:
            raise BackendError(f"lava readout must be one of {', '.join(READOUTS)}; "
                               f"got '{readout}'")
        self.readout = readout
        self.timeout = timeout
        self.stop_timeout = stop_timeout
        if isinstance(noise_chip, bool) or not isinstance(noise_chip, (int, np.integer)) \
                or noise_chip < 0:
            raise BackendError(f"noise_chip must be an integer >= 0; got {noise_chip!r}")
        self.noise_chip = int(noise_chip)

    # ------------------------------------------------------------------ refusal
    def refuse_reason(self, plan: SimPlan) -> str | None:
        reason = super().refuse_reason(plan)
        if reason:
            return reason
        if plan.fixed and lif.lava_mismatch(plan.neuron_model):
            return lif.lava_mismatch(plan.neuron_model)
        for name, pop in plan.populations.items():
            if pop.kind == "lif" and pop.refractory > 0 and plan.fixed:
                return (f"population '{name}' has refractory {pop.refractory}; Lava's "
                        "bit-accurate LIF has no refractory period (LIFRefractory is "
                        "floating_pt only); compile with refractory: 0")
            if pop.kind == "stochastic" and plan.fixed:
                return (f"population '{name}' is stochastic, which has no fixed-point model; "
                        "compile for a float profile")
            if pop.kind not in MEMBRANE_KINDS + ("spike_source", "poisson"):
                return f"population '{name}' has kind '{pop.kind}', which has no Lava process"
        from ..noise import noise_refusal
        reason = noise_refusal(plan)
        if reason:
            return reason
        if plan.noise and self.readout == "monitor":
            return ("temporal noise needs readout 'recorder' (a Monitor on s_out would see "
                    "dropped spikes as missing)")
        for name, proj in plan.projections.items():
            if proj.format not in ("dense", "coo"):
                return f"projection '{name}' has weight format '{proj.format}'"
            d = np.asarray(proj.delays)
            if d.size and (d.min() < 0 or (plan.fixed and d.max() > 63)):
                return (f"projection '{name}' has delays outside 0..63, which Lava's "
                        "DelayDense does not accept")
            if plan.fixed and proj.sign_mode.upper() not in ("MIXED", "EXCITATORY",
                                                             "INHIBITORY", "NULL"):
                return f"projection '{name}' has unknown sign_mode '{proj.sign_mode}'"
        return None

    # ------------------------------------------------------------------ public
    def run(self, plan: SimPlan, inputs: dict[str, np.ndarray], steps: int) -> SimResult:
        """Simulate ``steps`` steps; ``inputs`` holds ``[steps, size]`` spikes per source."""
        return self.run_many([(plan, inputs)], steps)[0]

    def run_many(self, items: ty.Sequence[tuple[SimPlan, dict[str, np.ndarray]]],
                 steps: int) -> list[SimResult]:
        """Simulate several plans of the same numerics as disconnected parts of ONE Lava run
        (saves Lava's start-up per network); results are as from :meth:`run` each."""
        if not items:
            return []
        steps = int(steps)
        if steps < 1:
            raise BackendError(f"steps must be >= 1; got {steps}")
        numerics = {p.numerics for p, _ in items}
        if len(numerics) != 1:
            raise BackendError("run_many needs plans of one numerics; got "
                               + ", ".join(sorted(numerics)))
        for plan, _ in items:
            self.check(plan)
        with signals.handle_termination():    # SIGTERM/SIGHUP/SIGINT: clean up, fork-safe
            return self._run_many(items, steps)

    def _run_many(self, items: ty.Sequence[tuple[SimPlan, dict[str, np.ndarray]]],
                  steps: int) -> list[SimResult]:
        fixed = items[0][0].fixed
        L = _lava()
        # the multiprocessing temp dir (the shared-memory manager's socket) and resource
        # tracker must belong to this process, not to a worker that may be killed (whose
        # own tracker would then report the segments it cleans up)
        from multiprocessing import resource_tracker
        from multiprocessing import util as mp_util
        mp_util.get_temp_dir()
        resource_tracker.ensure_running()
        before = guard.children()
        tmp = tempfile.mkdtemp(prefix="neurodeploy-lava-")
        try:
            t0 = time.perf_counter()
            nets = [self._build(L, i, plan, inputs, steps, tmp)
                    for i, (plan, inputs) in enumerate(items)]
            root, n_procs = self._tie(L, nets)
            timeout = self.timeout if self.timeout is not None else 60.0 + 0.005 * steps * n_procs
            cfg = L["Loihi2SimCfg"](select_tag="fixed_pt" if fixed else "floating_pt")
            timings: dict[str, float] = {}
            data = self._execute(L, root, cfg, steps, timeout, nets, timings, t0)
        except BaseException:
            guard.kill_new_children(before)
            raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        out = []
        for net, d in zip(nets, data):
            meta = {"backend": self.name, "numerics": net.plan.numerics, "steps": steps,
                    "readout": self.readout, "network": net.plan.name,
                    "select_tag": "fixed_pt" if fixed else "floating_pt",
                    "timings": dict(timings), "networks_in_run": len(nets),
                    "lava_processes": n_procs}
            out.append(SimResult(data=d, meta=meta))
        return out

    # ------------------------------------------------------------------ build
    def _build(self, L: dict, idx: int, plan: SimPlan, inputs: dict[str, np.ndarray],
               steps: int, tmp: str) -> _Net:
        net = _Net(plan=plan, inputs=self._check_inputs(plan, inputs, steps))
        used = {n for n, p in plan.populations.items() if p.kind in MEMBRANE_KINDS}
        for proj in plan.projections.values():
            used |= {proj.pre, proj.post}
        if self.readout == "monitor":
            used |= {pop for pop, _ in plan.monitors}
        mon_vars: dict[str, list[str]] = {}
        for pop, var in plan.monitors:
            mon_vars.setdefault(pop, []).append(var)
        from ..noise import delivered, noise_arrays, stochastic_uniforms
        noise = noise_arrays(plan, steps, self.noise_chip)     # docs/noise.md
        draws = stochastic_uniforms(plan, steps, self.noise_chip)   # the cpu loop's
        for name in sorted(used):
            pop = plan.populations[name]
            if pop.kind in MEMBRANE_KINDS:
                record = {}
                if self.readout == "recorder":
                    for var in mon_vars.get(name, []):
                        path = os.path.join(tmp, f"{idx}-{len(net.records)}-{var}.bin")
                        record[var] = path
                        net.records[(name, var)] = path
                        self._prealloc(path, pop.size, var, steps, plan.fixed)
                net.procs[name] = self._lif(L, pop, plan.fixed, record, steps,
                                            noise.membrane.get(name), noise.drop.get(name),
                                            noise.current.get(name), draws.get(name))
            else:
                # dropped source spikes are not sent; the record keeps the given input
                data = delivered(np.asarray(net.inputs[name][:steps]), noise.drop.get(name))
                data = data.T.astype(np.int32 if plan.fixed else np.float64)
                net.procs[name] = L["RingBuffer"](data=np.ascontiguousarray(data))
        for proj in plan.projections.values():
            conn = self._conn(L, proj, plan.fixed)
            net.procs[proj.pre].s_out.connect(conn.s_in)
            conn.a_out.connect(net.procs[proj.post].a_in)
            net.conns.append(conn)
        if self.readout == "monitor":
            lava_var = {"spikes": "s_out", "v": "v", "u": "u"}
            for pop, var in plan.monitors:
                m = L["Monitor"]()
                m.probe(getattr(net.procs[pop], lava_var[var]), steps)
                net.monitors[(pop, var)] = m
        net.components = _components(plan, used)
        return net

    @staticmethod
    def _check_inputs(plan: SimPlan, inputs: dict[str, np.ndarray], steps: int
                      ) -> dict[str, np.ndarray]:
        out = {}
        for name in plan.sources():
            pop = plan.populations[name]
            if name not in inputs:
                raise BackendError(f"no input spikes for source population '{name}' "
                                   "(use make_inputs(plan, steps, given))")
            arr = np.asarray(inputs[name])
            if arr.ndim != 2 or arr.shape[1] != pop.size or arr.shape[0] < steps:
                raise BackendError(f"input '{name}' has shape {arr.shape}; expected "
                                   f"[>= {steps}, {pop.size}]")
            out[name] = arr
        return out

    @staticmethod
    def _prealloc(path: str, size: int, var: str, steps: int, fixed: bool) -> None:
        from .processes import RECORD_DTYPES
        if var == "spikes":
            row = (size + 7) // 8
        else:
            row = size * np.dtype(RECORD_DTYPES[(var, fixed)]).itemsize
        with open(path, "wb") as fh:
            fh.truncate(row * steps)

    def _lif(self, L: dict, pop: PopulationPlan, fixed: bool, record: dict[str, str],
             steps: int, noise: np.ndarray | None = None, drop: np.ndarray | None = None,
             current: np.ndarray | None = None, uniforms: np.ndarray | None = None) -> ty.Any:
        """The Lava process of a LIF or (``uniforms`` given) stochastic population."""
        n = pop.size
        if uniforms is not None:
            from . import stochastic as S
            kw = stochastic.lava_kwargs(pop)
            if noise is not None or drop is not None or current is not None:
                kw.update(noise=noise, drop=drop, current=current)
            cls = S.NdStochasticRefractory if pop.refractory > 0 else S.NdStochastic
            return cls(shape=(n,), record=record, steps=steps, uniforms=uniforms, **kw)
        # du/dv may be per neuron (a mismatched chip, neurodeploy.variability): NdLIF takes
        # them as arrays; Lava's own LIF only as scalars
        kw = lif.lava_kwargs(pop, fixed)
        vth = kw.pop("vth")
        du, dv = kw["du"], kw["dv"]
        uniform_decay = bool(np.all(du == du[0]) and np.all(dv == dv[0]))
        P = L["processes"]
        if noise is not None or drop is not None or current is not None:
            kw.update(noise=noise, drop=drop, current=current)
        elif self.readout == "monitor" and np.all(vth == vth[0]) and uniform_decay:
            kw.update(du=du[0].item(), dv=dv[0].item())
            # Lava's own LIF / LIFRefractory process and models, untouched
            cls = L["LIFRefractory"] if pop.refractory > 0 else L["LIF"]
            return cls(shape=(n,), vth=vth[0].item(), **kw)
        cls = P.NdLIFRefractory if pop.refractory > 0 else P.NdLIF
        return cls(shape=(n,), vth=vth, record=record, steps=steps, **kw)

    @staticmethod
    def _conn(L: dict, proj: ProjectionPlan, fixed: bool) -> ty.Any:
        kw: dict[str, ty.Any] = {}
        if fixed:
            kw = dict(weight_exp=int(proj.weight_exp), num_weight_bits=int(proj.num_weight_bits),
                      sign_mode=L["SignMode"][proj.sign_mode.upper()])
        wdtype = np.int32 if fixed else np.float64
        delayed = np.any(np.asarray(proj.delays) != 0)
        if delayed:
            # Lava checks ``delays.dtype == int`` (int64), or a Python int
            delays = (int(proj.delays) if np.ndim(proj.delays) == 0
                      else proj.dense_delays().astype(int))
            return L["DelayDense"](weights=proj.dense_weights().astype(wdtype),
                                   delays=delays, **kw)
        if proj.format == "coo":
            from scipy.sparse import csr_matrix
            w = csr_matrix((np.asarray(proj.weights, dtype=wdtype),
                            (np.asarray(proj.rows), np.asarray(proj.cols))), shape=proj.shape)
            return L["Sparse"](weights=w, **kw)
        return L["Dense"](weights=np.asarray(proj.weights, dtype=wdtype), **kw)

    @staticmethod
    def _tie(L: dict, nets: list[_Net]) -> tuple[ty.Any, int]:
        """The process to run on: a Tie joining all components, or the only component."""
        taps = []
        n_procs = 0
        for net in nets:
            n_procs += len(net.procs) + len(net.conns) + len(net.monitors)
            for comp in net.components:
                name = sorted(comp)[0]
                taps.append(net.procs[name].s_out)
        if not taps:
            raise BackendError("nothing to simulate: the network has no LIF population "
                               "and no projection")
        if len(taps) == 1:
            return taps[0].process, n_procs
        tie = L["processes"].make_tie([t.shape for t in taps])
        for i, port in enumerate(taps):
            port.connect(getattr(tie, f"in_{i}"))
        return tie, n_procs + 1

    # ------------------------------------------------------------------ execution
    def _execute(self, L: dict, root: ty.Any, cfg: ty.Any, steps: int, timeout: float,
                 nets: list[_Net], timings: dict[str, float], t0: float
                 ) -> list[dict[str, np.ndarray]]:
        try:
            with warnings.catch_warnings():
                # Lava execs every sibling module of a process's file while searching
                # models; backend.py (relative imports) cannot run that way: harmless.
                warnings.filterwarnings("ignore", message="Cannot import module")
                exe = root.compile(cfg)
        except Exception as exc:
            raise BackendError(f"Lava could not compile the network: "
                               f"{type(exc).__name__}: {exc}") from exc
        rt = L["Runtime"](exe, L["ActorType"].MultiProcessing)
        exe.assign_runtime_to_all_processes(rt)
        deadline = time.monotonic() + timeout
        clean = False
        try:
            guard.initialize(rt, deadline, timeout)
            timings["build_s"] = time.perf_counter() - t0
            t1 = time.perf_counter()
            rt.start(L["RunSteps"](num_steps=steps, blocking=False))
            self._await(L, rt, deadline, timeout, "run")
            timings["run_s"] = time.perf_counter() - t1
            t2 = time.perf_counter()
            if self.readout == "monitor":
                data = [self._read_monitors(net, steps) for net in nets]
            self._stop(L, rt, time.monotonic() + self.stop_timeout)
            clean = True
            if self.readout == "recorder":
                data = [self._read_records(net, steps) for net in nets]
            timings["readout_s"] = time.perf_counter() - t2
            return data
        except BackendError:
            raise
        except Exception as exc:
            dead = guard.dead_worker_cause(rt)   # the cause, when a worker died under Lava
            raise BackendError(f"{dead}; the run was stopped" if dead else
                               f"Lava run failed: {type(exc).__name__}: {exc}") from exc
        finally:
            if not clean:
                _kill_runtime(rt)

    @staticmethod
    def _await(L: dict, rt: ty.Any, deadline: float, timeout: float, what: str) -> None:
        """Poll the runtime services until all answered; raise on error, on a dead worker
        (see :mod:`.guard`) or on timeout."""
        ports = list(rt.service_to_runtime)
        answers: dict[int, ty.Any] = {}
        delay = 0.0005
        while len(answers) < len(ports):
            for i, port in enumerate(ports):
                if i not in answers and port.probe():
                    answers[i] = port.recv()
            if len(answers) == len(ports):
                break
            if time.monotonic() > deadline:
                raise BackendError(f"Lava {what} did not finish within {timeout:.0f} s "
                                   "(a miswired port blocks forever); raise the backend's "
                                   "timeout option if the network is just slow")
            reason = guard.failure(rt)
            if reason:
                raise BackendError(reason)
            signals.raise_pending()
            time.sleep(delay)
            delay = min(delay * 2, 0.02)
        bad = [a for a in answers.values() if not L["enum_equal"](a, L["MGMT_RESPONSE"].DONE)]
        if bad:
            reason = guard.wait_for_failure(rt, ERROR_REPORT_TIMEOUT)
            raise BackendError(reason or f"Lava process model failed: response {bad[0]}")
        rt._is_running = False

    @staticmethod
    def _stop(L: dict, rt: ty.Any, deadline: float) -> None:
        """``Runtime.stop()`` with a deadline (the original blocks forever on a dead actor)."""
        for port in rt.runtime_to_service:
            port.send(L["MGMT_COMMAND"].STOP)
        for port in rt.service_to_runtime:
            while not port.probe():
                if time.monotonic() > deadline:
                    raise BackendError("Lava runtime did not stop in time")
                reason = guard.dead_workers(rt)
                if reason:
                    raise BackendError(reason + "; the run was stopped")
                time.sleep(0.001)
            port.recv()
        rt.join()
        rt._is_running = False
        rt._is_started = False
        mi = rt._messaging_infrastructure
        for actor in mi.actors:
            mp.Process.join(actor, max(0.1, deadline - time.monotonic()))
            if actor.is_alive():
                raise BackendError("Lava process did not exit after stop")
            actor.join()
        mi._smm.shutdown()
        rt._watchdog_manager.stop()

    # ------------------------------------------------------------------ read-out
    @staticmethod
    def _read_records(net: _Net, steps: int) -> dict[str, np.ndarray]:
        from .processes import RECORD_DTYPES
        plan, out = net.plan, {}
        for pop, var in plan.monitors:
            key = f"{pop}.{var}"
            size = plan.populations[pop].size
            if plan.populations[pop].kind not in MEMBRANE_KINDS:
                out[key] = np.asarray(net.inputs[pop][:steps], dtype=np.uint8)
                continue
            path = net.records[(pop, var)]
            if var == "spikes":
                packed = np.fromfile(path, dtype=np.uint8).reshape(steps, (size + 7) // 8)
                out[key] = np.unpackbits(packed, axis=1, count=size)
            else:
                out[key] = np.fromfile(path, dtype=RECORD_DTYPES[(var, plan.fixed)]
                                       ).reshape(steps, size)
        return out

    @staticmethod
    def _read_monitors(net: _Net, steps: int) -> dict[str, np.ndarray]:
        plan, out = net.plan, {}
        lava_var = {"spikes": "s_out", "v": "v", "u": "u"}
        for pop, var in plan.monitors:
            proc = net.procs[pop]
            arr = np.asarray(net.monitors[(pop, var)].get_data()[proc.name][lava_var[var]])
            arr = arr.reshape(steps, plan.populations[pop].size)
            if var == "spikes":
                out[f"{pop}.{var}"] = (arr != 0).astype(np.uint8)
            else:
                out[f"{pop}.{var}"] = arr.astype(np.int32 if plan.fixed else np.float64)
        return out


# ---------------------------------------------------------------------- cleanup
def _kill_runtime(rt: ty.Any) -> None:
    """Kill and join every child process of a Lava runtime (best effort, never raises)."""
    try:
        rt._is_running = False
        rt._is_started = False       # Runtime.__del__ must not try a blocking stop()
        mi = rt._messaging_infrastructure
        actors = list(getattr(mi, "actors", []) or []) if mi is not None else []
        for actor in actors:
            try:
                if actor._popen is not None and actor.is_alive():
                    actor.kill()
            except (ValueError, AttributeError, OSError):
                pass
        for actor in actors:
            try:
                if actor._popen is not None:
                    mp.Process.join(actor, 5)
            except (ValueError, AttributeError, OSError, AssertionError):
                pass
        try:
            rt.join()                  # release the main process's port threads
        except Exception:
            pass
        smm = getattr(mi, "_smm", None) if mi is not None else None
        if smm is not None:
            handles = list(getattr(smm, "_shared_memory_handles", []) or [])
            try:
                smm.shutdown()
            except Exception:
                proc = guard.manager_process(rt)
                if proc is not None and proc.is_alive():
                    proc.kill()
                    proc.join(5)
            guard.unlink_segments(handles)     # a manager that died could not remove them
        wd = getattr(rt, "_watchdog_manager", None)
        if wd is not None:
            try:
                wd.stop()
            except Exception:
                pass
    except Exception:
        pass
