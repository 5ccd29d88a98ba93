"""Presenting samples to a learning build on Brian2 (float reference of the cpu learner).

Same interface and semantics as :class:`compilers.cpu.learner.CpuLearner`: the host hands
each sample's input (and label) spikes to the network and the network learns by itself
(error relays, feedback projections, rules generated from each projection's
:class:`~neurodeploy.learning.engine_rule.EngineRule` by :mod:`.learn_code`). Weights are
kept in the cpu :class:`~compilers.cpu.learn_layout.Layout`'s flat order, so ``weights``,
``layout.dense`` and ``layout.synapse_values`` read them as for the cpu learner. Float
builds only; Brian2's numpy target.
"""
from __future__ import annotations

import numpy as np

from neurodeploy.errors import BackendError
from neurodeploy.learning.engine_rule import EngineRule
from neurodeploy.learning.phases import coupling
from neurodeploy.neurons import has_membrane

from ..cpu.learn_layout import Layout
from ..plan import SimPlan
from .backend import Brian2Backend
from .learn_net import LearnNet, RunResult

FIXED_REASON = ("is 'fixed'; the brian2 learner runs float builds only (Brian2 is the float "
                "reference); compile or train with --profile cpu, or run this build with "
                "--backend cpu or lava")


def _brian2():
    import brian2  # heavy import, done on first use only
    from brian2.devices.device import RuntimeDevice
    if not isinstance(brian2.get_device(), RuntimeDevice):
        raise BackendError("the brian2 learner needs Brian2's runtime device; a standalone "
                           "device was set with set_device() in this process")
    return brian2


class Brian2Learner:
    """One network (one weight set) that learns on samples in Brian2, or ``chips`` networks
    (one weight row each) run one after the other."""

    def __init__(self, plan: SimPlan, readout: str, chips: int = 1,
                 weights: np.ndarray | None = None, gain: np.ndarray | None = None,
                 noise_chips: list[int] | None = None) -> None:
        """``noise_chips``: the chip whose stochastic neurons' draws each chip (or all)
        reads, as on the cpu learner; what the brian2 backend does not declare for learning
        (fixed point, temporal noise, kinds without a Brian2 translation) is refused first."""
        if plan.fixed:
            raise BackendError(FIXED_REASON, file=plan.path, path=("numerics",))
        Brian2Backend().check(plan, "learn")
        if chips < 1:
            raise BackendError(f"chips must be >= 1, got {chips}")
        self.rules: dict[str, EngineRule] = {}
        for block in plan.plasticity.values():
            for proj, d in block["projections"].items():
                self.rules[proj] = EngineRule.from_dict(d)
        self.layout = Layout(plan, self.rules)
        if readout not in plan.populations or not has_membrane(plan.populations[readout].kind):
            raise BackendError(f"read-out population '{readout}' is not a lif population of "
                               "this build (spike counts are read from lif neurons)")
        self.plan, self.readout, self.chips = plan, readout, chips
        nnz = self.layout.w0.size
        self._w = np.array(self.layout.w0[None, :] if weights is None else weights, np.float64,
                           copy=True, ndmin=2)
        if self._w.ndim != 2 or self._w.shape[1] != nnz or self._w.shape[0] not in (1, chips):
            raise BackendError(f"weights have shape {self._w.shape}; expected [1 or {chips}, "
                               f"{nnz}] (the cpu layout's flat order)")
        if gain is not None:
            gain = np.array(gain, np.float64, ndmin=2)
            if gain.ndim != 2 or gain.shape[1] != nnz or gain.shape[0] not in (1, chips):
                raise BackendError(f"gain has shape {gain.shape}; expected [1 or {chips}, {nnz}]")
            self.layout.rules = self.layout.rules._replace(gain=gain)
        lo = self.layout.neuron0[readout]
        self.count_range = (lo, lo + plan.populations[readout].size)
        self.synops = 0.0
        self.last_totals: np.ndarray | None = None
        self.noise_chips = [0] if noise_chips is None else [int(c) for c in noise_chips]
        self.t_off = 0                  # steps run so far: stochastic draws continue, as on cpu
        self._net = LearnNet(_brian2(), self.layout, self.rules, readout)

    @property
    def weights(self) -> np.ndarray:
        """Flat weights [chips or 1, nnz] in the cpu layout's order (see ``Layout.dense``)."""
        return self._w

    def set_phase(self, phase: str | None) -> None:
        """Enable the rules of one phase ('train', 'mirror', 'align'), or none, and couple
        the feedback into the hidden soma where that phase asks for it (SAL)."""
        active = np.array([phase is not None and self.rules[n].phase == phase
                           for n in self.layout.rule_names], np.uint8)
        self.layout.rules = self.layout.rules._replace(active=active)
        self.layout.net = self.layout.net._replace(couple=coupling(
            self.plan, self.layout.neuron0, self.layout.n, self.layout.dtype, phase))

    # ------------------------------------------------------------------ inputs
    def _sources(self, inputs: dict[str, np.ndarray], n_samples: int, steps: int
                 ) -> list[dict[str, np.ndarray]]:
        """Per chip, [n_samples*steps, size] spikes of every given source (as the cpu
        learner reads them: [samples, steps, size], [chips, samples*steps, size] or
        [samples*steps, size]); sources not given stay silent."""
        total = n_samples * steps
        per_chip: list[dict[str, np.ndarray]] = [{} for _ in range(self.chips)]
        for name, arr in inputs.items():
            if name not in self.layout.sources:
                raise BackendError(f"input '{name}' is not a source population of this build "
                                   f"(sources: {', '.join(self.layout.sources)})")
            size = self.plan.populations[name].size
            a = np.asarray(arr)
            if a.ndim == 3 and a.shape[:2] == (n_samples, steps):
                a = a.reshape(1, total, a.shape[2])
            elif a.ndim == 2:
                a = a[None]
            if a.ndim != 3 or a.shape[1] < total or a.shape[2] != size or \
                    a.shape[0] not in (1, self.chips):
                raise BackendError(f"input '{name}' has shape {np.asarray(arr).shape}; expected "
                                   f"[{n_samples}, {steps}, {size}] or [chips, {total}, {size}]")
            for c in range(self.chips):
                per_chip[c][name] = a[c if a.shape[0] > 1 else 0, :total]
        return per_chip

    def _row(self, arr: np.ndarray, chip: int) -> np.ndarray:
        return arr[chip] if arr.shape[0] > 1 else arr[0]

    # ------------------------------------------------------------------ runs
    def present(self, inputs: dict[str, np.ndarray], n_samples: int, steps: int,
                learn: bool) -> np.ndarray:
        """Run ``n_samples`` samples of ``steps`` steps in order (u and v reset at each
        sample start) on every chip; returns read-out spike counts [chips, samples, classes]."""
        per_chip = self._sources(inputs, n_samples, steps)
        if learn and self.chips > 1 and self._w.shape[0] == 1:
            raise BackendError("chips that learn need one weight row each")
        lo, hi = self.count_range
        counts = np.zeros((self.chips, n_samples, hi - lo), np.int32)
        totals = np.zeros((self.chips, self.layout.n), np.int64)
        for c in range(self.chips):
            res = self._net.run(per_chip[c], n_samples * steps, steps, self._row(self._w, c),
                                self._row(self.layout.rules.gain, c), learn,
                                self._draws(c, n_samples * steps, self.t_off))
            if learn:
                self._w[c] = res.w
            counts[c] = self._bin(res, n_samples, steps)
            totals[c] = res.totals
            self.synops += res.synops
        self.last_totals = totals
        self.t_off += n_samples * steps
        return counts

    def _draws(self, chip: int, n_steps: int, step0: int) -> dict[str, np.ndarray]:
        """The stochastic neurons' uniforms of ``chip`` for steps ``step0`` on (cpu's)."""
        from ..noise import stochastic_uniforms
        nc = self.noise_chips
        return stochastic_uniforms(self.plan, n_steps, nc[chip] if len(nc) > 1 else nc[0],
                                   step0)

    def predict_counts(self, inputs: dict[str, np.ndarray], n_samples: int, steps: int,
                       chip: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
        """Frozen read-out of many samples, one after the other on one chip (the rules off).

        Returns (counts [samples, classes], spike totals per neuron, synaptic events)."""
        per_chip = self._sources(inputs, n_samples, steps)
        res = self._net.run(per_chip[chip], n_samples * steps, steps, self._row(self._w, chip),
                            self._row(self.layout.rules.gain, chip), False,
                            self._draws(chip, n_samples * steps, 0))
        return self._bin(res, n_samples, steps), res.totals, res.synops

    def _bin(self, res: RunResult, n_samples: int, steps: int) -> np.ndarray:
        """Read-out spikes counted per sample window."""
        lo, hi = self.count_range
        counts = np.zeros((n_samples, hi - lo), np.int32)
        np.add.at(counts, (res.readout_t // steps, res.readout_i), 1)
        return counts
