"""Presenting samples to a learning build on the cpu backend.

The host's whole job during training is here: it hands each sample's input spikes (and,
when learning, the label spikes) to the network and resets neuron state between samples.
Errors, feedback and weight updates happen inside :func:`step_loop.run_instance`.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from neurodeploy.errors import BackendError
from neurodeploy.learning.engine_rule import EngineRule
from neurodeploy.learning.phases import coupling

from ..plan import SimPlan
from . import run_arrays
from .backend import CpuBackend
from .learn_layout import Layout
from .run_arrays import Recorder
from .step_loop import run_instance


def _threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class CpuLearner:
    """One network (one weight set) that learns on samples, or many chips (one weight set
    each, ``chips`` > 1) that learn in parallel."""

    def __init__(self, plan: SimPlan, readout: str, chips: int = 1,
                 weights: np.ndarray | None = None, gain: np.ndarray | None = None,
                 noise_chips: list[int] | None = None) -> None:
        """``noise_chips``: the chip whose temporal noise each chip (or all) draws
        (default chip 0, docs/noise.md)."""
        CpuBackend().check(plan, "learn")
        rules = {}
        for block in plan.plasticity.values():
            for proj, d in block["projections"].items():
                rules[proj] = EngineRule.from_dict(d)
        self.layout = Layout(plan, rules)
        self.rules = rules
        self.plan = plan
        self.readout = readout
        self.chips = chips
        self.state = self.layout.new_state(chips, weights)
        self.noise = run_arrays.noise(self.layout, noise_chips)
        if self.state.w.shape[0] not in (1, chips):
            raise BackendError(f"weights have {self.state.w.shape[0]} rows for {chips} chips")
        if gain is not None:
            self.layout.rules = self.layout.rules._replace(gain=np.asarray(gain, np.float64))
        lo = self.layout.neuron0[readout]
        self.count_range = (lo, lo + plan.populations[readout].size)
        self.synops = 0.0

    @property
    def weights(self) -> np.ndarray:
        """Flat weights [chips, nnz] (see :meth:`Layout.dense`)."""
        return self.state.w

    def set_phase(self, phase: str | None) -> None:
        """Enable the rules of one phase ('train', 'mirror', 'align'), or none, and couple
        the feedback into the hidden soma where that phase asks for it (SAL)."""
        active = np.array([phase is not None and self.rules[n].phase == phase
                           for n in self.layout.rule_names], np.uint8)
        self.layout.rules = self.layout.rules._replace(active=active)
        self.layout.net = self.layout.net._replace(couple=coupling(
            self.plan, self.layout.neuron0, self.layout.n, self.layout.dtype, phase))

    def _inputs(self, inputs: dict[str, np.ndarray], n_samples: int, steps: int) -> np.ndarray:
        """src [Bi, n_samples*steps, n_src]; sources not given stay silent."""
        full = {}
        for name in self.layout.sources:
            size = self.plan.populations[name].size
            a = inputs.get(name)
            if a is None:
                a = np.zeros((n_samples, steps, size), np.uint8)
            if a.ndim == 3 and a.shape[:2] == (n_samples, steps):
                a = a.reshape(1, n_samples * steps, size)
            elif a.ndim != 3 or a.shape[1:] != (n_samples * steps, size):
                raise BackendError(f"input '{name}' has shape {a.shape}; expected [samples, "
                                   f"steps, {size}] or [chips, samples*steps, {size}]")
            full[name] = a
        return self.layout.source_block(full, n_samples * steps)

    def _recorder(self, batch: int, n_windows: int, window: int) -> Recorder:
        return run_arrays.recorder(self.layout, batch, counts=self.count_range, windows=n_windows,
                                    window=window)

    def present(self, inputs: dict[str, np.ndarray], n_samples: int, steps: int,
                learn: bool) -> np.ndarray:
        """Run ``n_samples`` samples of ``steps`` steps in order (state reset between
        samples) on every chip; returns read-out spike counts [chips, samples, classes].
        Temporal noise and stochastic neurons continue from the steps of earlier calls."""
        src = self._inputs(inputs, n_samples, steps)
        rec = self._recorder(self.chips, n_samples, steps)
        self._reset()
        self.layout.reserve_steps(n_samples * steps)
        def one(b: int) -> None:
            run_instance(b, 0, n_samples * steps, src, self.layout.net, self.layout.rules,
                         self.state, self.noise, rec, learn, steps)
        if self.chips == 1:
            one(0)
        else:
            if learn and self.state.w.shape[0] == 1:
                raise BackendError("chips that learn need one weight row each")
            with ThreadPoolExecutor(min(_threads(), self.chips)) as pool:
                list(pool.map(one, range(self.chips)))
        self.synops += float(rec.synops.sum())
        self.last_totals = rec.total
        # the next presentation draws the noise of the steps after these (fresh each epoch)
        self.noise = self.noise._replace(t_off=np.int64(self.noise.t_off + n_samples * steps))
        return rec.counts

    def _reset(self) -> None:
        """Fresh neuron, delivery and trace state; the weights and update counts are carried."""
        self.state = self.layout.new_state(self.chips, self.state.w, self.state.nupd)

    def predict_counts(self, inputs: dict[str, np.ndarray], n_samples: int, steps: int,
                       chip: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
        """Frozen read-out of many samples in one sequence (as Lava and Brian2 run them, so
        the result does not depend on the machine's core count); weights of ``chip``; the
        noise of the sequence's own steps (the same at every call).

        Returns (counts [samples, classes], spike totals per neuron, synaptic events)."""
        src = self._inputs(inputs, n_samples, steps)
        w = self.state.w[chip:chip + 1] if self.state.w.shape[0] > 1 else self.state.w
        st = self.layout.new_state(1, w)
        rec = self._recorder(1, n_samples, steps)
        rules = self.layout.rules._replace(active=np.zeros_like(self.layout.rules.active))
        noise = self.noise._replace(t_off=np.int64(0)) if self.noise.chip.shape[0] == 1 else \
            run_arrays.noise(self.layout, self.noise.chip[chip:chip + 1])    # reproducible
        run_instance(0, 0, n_samples * steps, src, self.layout.net, rules, st, noise, rec, False,
                     steps)
        return rec.counts[0], rec.total[0], float(rec.synops[0])
