"""The lava backend: a build simulated with Lava processes on ``Loihi2SimCfg``.

Fixed builds run with ``Loihi2SimCfg(select_tag="fixed_pt")`` (bit-accurate models), float
builds with ``"floating_pt"``. The processes are built by :mod:`.build` (the mapping of
populations and projections), run under the deadline and clean stop of :mod:`.runtime`, and
read back by :mod:`.records`; several plans can share one Lava run (:meth:`run_many`).
Whatever ends a run, the new child processes are killed and its temporary directory removed.
"""
from __future__ import annotations

import shutil
import tempfile
import time
import typing as ty

import numpy as np

from neurodeploy import signals
from neurodeploy.errors import BackendError
from neurodeploy.neurons import lif

from .. import Backend
from ..capabilities import Capabilities, translated
from . import build, guard, records, runtime
from ..plan import SimPlan
from ..result import SimResult
from .imports import lava

READOUTS = ("recorder", "monitor")


#: the kinds this backend's builders translate (its runs and its learner's); a kind whose
#: ``NeuronKind.backends`` claims lava but is not here is refused, never built as a LIF
TRANSLATED = ("lif", "stochastic", "graded")


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

    capabilities = Capabilities("lava", modes=("run", "learn"), numerics=("fixed", "float"),
                                noise_channels={"run": ("membrane", "current", "drop")},
                                kind_check=translated("lava", TRANSLATED))

    # ------------------------------------------------------------------ refusal
    def refuse_reason(self, plan: SimPlan, mode: str = "run") -> str | None:
        reason = super().refuse_reason(plan, mode)
        if reason:
            return reason
        if plan.fixed and lif.lava_mismatch(plan.neuron_model):
            return lif.lava_mismatch(plan.neuron_model)
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
        """Build, run and read back checked plans in one guarded Lava run."""
        fixed = items[0][0].fixed
        L = lava()
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
            nets = [build.build(L, i, plan, inputs, steps, tmp, self.readout, self.noise_chip)
                    for i, (plan, inputs) in enumerate(items)]
            root, n_procs = build.tie(L, nets)
            timeout = self.timeout if self.timeout is not None else 60.0 + 0.005 * steps * n_procs
            cfg = L["Loihi2SimCfg"](select_tag="fixed_pt" if fixed else "floating_pt")
            timings: dict[str, float] = {}
            live = self.readout == "monitor"
            read = records.read_monitors if live else records.read_records
            data = runtime.execute(L, root, cfg, steps, timeout, self.stop_timeout,
                                   lambda: [read(net, steps) for net in nets], live, timings, t0)
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
