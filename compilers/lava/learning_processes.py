"""Lava processes of the learner (:mod:`.learner`): learning LIF, graded relay, and
learning synapses that report their weights.

``LearnLIF``
    Lava's LIF arithmetic (the models subclass :mod:`.processes`' ``NdLIF`` models, which
    subclass Lava's own) plus what a learning run needs: ``LIFReset``'s sample reset (u and
    v zeroed at the start of every step with ``time_step % reset_interval ==
    reset_offset``), a third-factor input ``a_third_factor_in`` that is *read every step*
    (Lava's stock ``LearningLIF`` never reads it, so a network wired to it blocks), the gate
    (the third factor counts only within ``gate_window`` steps after the neuron's last
    spike), and the post-synaptic learning signals of ``Loihi3FLearningRule``: back-propagated
    spike ``s_out_bap``, ``y1`` (its own spike trace), ``y2 = max(r, 0)``, ``y3 = max(-r, 0)``
    with ``r`` the gated third factor summed over the neuron's learning ``epoch`` (sent at
    the epoch's last step, zero at the others; see :mod:`.learning_rules`). The y values are sent times ``y_gain``:
    ``Loihi3FLearningRule`` gives y1..y3 a decay time constant of 65535 steps, so Lava's
    learning synapse decays what it receives by ``exp(-1/65535)`` (1.5e-5) before the rule
    reads it; the learner sets ``y_gain`` to the inverse so the rule sees the neuron's values. Spike counts per sample window go to a memory-mapped
    file (``counts``: [windows, size] int32), written inside the neuron's own process.

    In fixed point the gated third factor ``r`` (an integer activation) summed over the
    learning epoch is sent at the epoch's last step as ``y2, y3 = third_factor_channels(r,
    tf_shift)`` (7-bit, the shift the build's quantized rule stores;
    :mod:`neurodeploy.learning.fixed_point`), 0 at the other steps, and y1 as 0.

``GradedRelay``
    Emits its summed input as a graded spike every step (zero when the input is zero): the
    error and feedback relay populations (``kind: graded``) of the feedback-alignment family
    (float, or fixed point: int32 payloads, as the cpu loop's graded kind).

``DelayLine``
    Delays a plastic projection's activations by its (uniform) synaptic delay.

``RecLearningDense``, ``RecLearningSparse``
    Learning synapses that report their weights (:mod:`.learning_synapses`).
"""
from __future__ import annotations

import typing as ty

import numpy as np

from neurodeploy import _lava_compat

_lava_compat.install()

from lava.magma.core.decorator import implements, requires, tag  # noqa: E402
from lava.magma.core.model.py.model import PyLoihiProcessModel  # noqa: E402
from lava.magma.core.model.py.ports import PyInPort, PyOutPort  # noqa: E402
from lava.magma.core.model.py.type import LavaPyType  # noqa: E402
from lava.magma.core.process.ports.ports import InPort, OutPort  # noqa: E402
from lava.magma.core.process.process import AbstractProcess  # noqa: E402
from lava.magma.core.process.variable import Var  # noqa: E402
from lava.magma.core.resources import CPU  # noqa: E402
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol  # noqa: E402

from neurodeploy.learning.fixed_point import third_factor_channels  # noqa: E402

from .processes import NdLIF, PyNdLifModelBitAcc, PyNdLifModelFloat  # noqa: E402
from .stochastic import Escape, add_beta  # noqa: E402

NEVER = 1 << 30


class LearnLIF(NdLIF):
    """LIF with sample reset, a third-factor input, a gate and learning outputs."""

    def __init__(self, *, shape: tuple[int, ...], reset_interval: int = 0,
                 reset_offset: int = 1, refractory_period: int = 0, gate_window: int = 0,
                 y1_decay: float = 1.0, y1_impulse: float = 0.0, counts: str = "",
                 windows: int = 0, window: int = 1, y_gain: float = 1.0, epoch: int = 1,
                 tf_shift: int = 0, coupling: ty.Any = 0.0, **kwargs: ty.Any) -> None:
        super().__init__(shape=shape, y_gain=float(y_gain), epoch=int(epoch),
                         tf_shift=int(tf_shift), reset_interval=int(reset_interval),
                         reset_offset=int(reset_offset), refractory_period=int(refractory_period),
                         gate_window=int(gate_window),
                         y1_decay=float(y1_decay),
                         y1_impulse=float(y1_impulse), counts=counts, windows=int(windows),
                         window=int(window), **kwargs)
        self.a_third_factor_in = InPort(shape=shape)
        self.s_out_bap = OutPort(shape=shape)
        self.s_out_y1 = OutPort(shape=shape)
        self.s_out_y2 = OutPort(shape=shape)
        self.s_out_y3 = OutPort(shape=shape)
        self.y1 = Var(shape=shape, init=0)
        self.y2 = Var(shape=shape, init=0)
        self.y3 = Var(shape=shape, init=0)
        self.since = Var(shape=shape, init=NEVER)
        self.tf_sum = Var(shape=shape, init=0)
        self.refractory_period_end = Var(shape=shape, init=0)
        self.cpl = Var(shape=shape, init=np.broadcast_to(np.asarray(coupling, float), shape).copy())
        self.pending = Var(shape=shape, init=0)


class _LearnMixin:
    """Reset, gate, learning outputs and per-window spike counts (shared by both models)."""

    _counts: ty.Optional[np.memmap] = None

    def _sample_reset(self) -> None:
        interval = self.proc_params["reset_interval"]
        if interval > 0 and self.time_step % interval == self.proc_params["reset_offset"] % interval:
            self.u[:] = 0
            self.v[:] = 0

    def _learning_outputs(self, spikes: np.ndarray, third: np.ndarray) -> None:
        spiked = spikes.astype(bool)
        self.since[:] = np.where(spiked, 0, np.minimum(self.since + 1, NEVER))
        win = self.proc_params["gate_window"]
        r = third if win == 0 else np.where(self.since < win, third, 0)
        self.y1[:] = self.y1 * self.proc_params["y1_decay"] + np.where(
            spiked, self.proc_params["y1_impulse"], 0)
        self.tf_sum[:] = self.tf_sum + r
        if self.time_step % self.proc_params["epoch"] == 0:
            self.y2[:] = np.maximum(self.tf_sum, 0)
            self.y3[:] = np.maximum(-self.tf_sum, 0)
            self.tf_sum[:] = 0
        else:
            self.y2[:] = 0
            self.y3[:] = 0
        g = self.proc_params["y_gain"]
        self.s_out_bap.send(spiked)
        self.s_out_y1.send(self.y1 * g)
        self.s_out_y2.send(self.y2 * g)
        self.s_out_y3.send(self.y3 * g)

    def _count(self, spikes: np.ndarray) -> None:
        path = self.proc_params["counts"]
        if not path:
            return
        if self._counts is None:
            self._counts = np.memmap(path, dtype=np.int32, mode="r+",
                                     shape=(self.proc_params["windows"], self.v.size))
        w = (self.time_step - 1) // self.proc_params["window"]
        if w < self._counts.shape[0]:
            self._counts[w] += spikes.astype(bool)


@implements(proc=LearnLIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyLearnLifModelFloat(_LearnMixin, PyNdLifModelFloat):
    """Float LIF (``PyLifModelFloat``, or ``PyLifRefractoryModelFloat`` arithmetic when
    ``refractory_period`` > 0) with sample reset and learning outputs."""

    implements_process = None
    a_third_factor_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out_bap: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, bool)
    s_out_y1: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    s_out_y2: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    s_out_y3: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    y1: np.ndarray = LavaPyType(np.ndarray, float)
    y2: np.ndarray = LavaPyType(np.ndarray, float)
    y3: np.ndarray = LavaPyType(np.ndarray, float)
    since: np.ndarray = LavaPyType(np.ndarray, int)
    tf_sum: np.ndarray = LavaPyType(np.ndarray, float)
    refractory_period_end: np.ndarray = LavaPyType(np.ndarray, int)
    cpl: np.ndarray = LavaPyType(np.ndarray, float)
    pending: np.ndarray = LavaPyType(np.ndarray, float)

    def subthr_dynamics(self, activation_in: np.ndarray) -> None:
        self.u[:] = self.u * (1 - self.du)
        self.u[:] += activation_in
        if self.proc_params["refractory_period"] == 0:
            self.v[:] = self.v * (1 - self.dv) + self.u + self.bias_mant
            return
        free = self.refractory_period_end < self.time_step
        self.v[free] = self.v[free] * (1 - self.dv[free]) + (self.u[free] + self.bias_mant[free])

    def run_spk(self) -> None:
        """One step; ``cpl`` (SAL's alignment phase) sends the raw third factor of this step
        into the next step's current, as the cpu loop's coupling does."""
        a_in = self.a_in.recv()
        third = self.a_third_factor_in.recv()
        a_in = a_in + self.pending
        self.pending[:] = self.cpl * third
        self._sample_reset()
        self.subthr_dynamics(activation_in=a_in)
        s = self.spiking_activation()
        if self.proc_params["refractory_period"] > 0:
            self.refractory_period_end[s] = self.time_step + self.proc_params["refractory_period"]
        self.v[s] = 0
        self.s_out_buff = s
        self.s_out.send(s)
        self._learning_outputs(s, third)
        self._count(s)
        self._record()


@implements(proc=LearnLIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("bit_accurate_loihi", "fixed_pt")
class PyLearnLifModelBitAcc(_LearnMixin, PyNdLifModelBitAcc):
    """Lava's bit-accurate LIF with ``LIFReset``'s reset and learning outputs: y0 (the
    back-propagated spike), y1 = 0 and the 7-bit y2 / y3 channels of the gated third factor
    summed over the learning epoch, at its last step
    (:func:`~neurodeploy.learning.fixed_point.third_factor_channels`)."""

    implements_process = None
    a_third_factor_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=7)
    s_out_bap: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, bool, precision=1)
    s_out_y1: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=7)
    s_out_y2: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=7)
    s_out_y3: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=7)
    y1: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=7)
    y2: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=7)
    y3: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=7)
    since: np.ndarray = LavaPyType(np.ndarray, int)
    tf_sum: np.ndarray = LavaPyType(np.ndarray, np.int32)
    refractory_period_end: np.ndarray = LavaPyType(np.ndarray, int)
    cpl: np.ndarray = LavaPyType(np.ndarray, float)
    pending: np.ndarray = LavaPyType(np.ndarray, float)

    def run_spk(self) -> None:
        a_in = self.a_in.recv()
        third = self.a_third_factor_in.recv()
        self._sample_reset()
        self.scale_bias()
        if not self.isthrscaled:
            self.scale_threshold()
        self.subthr_dynamics(activation_in=a_in)
        s = self.spiking_activation()
        self.reset_voltage(spike_vector=s)
        self.s_out_buff = s
        self.s_out.send(s)
        spiked = s.astype(bool)
        self.s_out_bap.send(spiked)
        self.since[:] = np.where(spiked, 0, np.minimum(self.since + 1, NEVER))
        win = self.proc_params["gate_window"]
        r = np.asarray(third, np.int64)
        r = r if win == 0 else np.where(self.since < win, r, 0)
        self.tf_sum[:] = self.tf_sum + r
        if self.time_step % self.proc_params["epoch"] == 0:
            y2, y3 = third_factor_channels(np.asarray(self.tf_sum, np.int64),
                                           self.proc_params["tf_shift"])
            self.y2[:], self.y3[:] = y2, y3
            self.tf_sum[:] = 0
        else:
            self.y2[:], self.y3[:] = 0, 0
        self.s_out_y1.send(np.zeros(self.v.shape, np.int32))
        self.s_out_y2.send(self.y2.astype(np.int32))
        self.s_out_y3.send(self.y3.astype(np.int32))
        self._count(s)
        self._record()


# --------------------------------------------------------------------------- graded relay
class GradedRelay(AbstractProcess):
    """Sends its summed input as a graded spike each step; counts non-zero emissions."""

    def __init__(self, *, shape: tuple[int, ...], counts: str = "", windows: int = 0,
                 window: int = 1, name: ty.Optional[str] = None) -> None:
        super().__init__(shape=shape, counts=counts, windows=int(windows), window=int(window),
                         name=name)
        self.a_in = InPort(shape=shape)
        self.s_out = OutPort(shape=shape)
        self.v = Var(shape=shape, init=0)


@implements(proc=GradedRelay, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyGradedRelayModelFloat(_LearnMixin, PyLoihiProcessModel):
    """Float relay: ``s_out = a_in`` (the cpu loop's graded neuron)."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    v: np.ndarray = LavaPyType(np.ndarray, float)

    def run_spk(self) -> None:
        a = self.a_in.recv()
        self.v[:] = a
        self.s_out.send(a)
        self._count(a != 0)


@implements(proc=GradedRelay, protocol=LoihiProtocol)
@requires(CPU)
@tag("bit_accurate_loihi", "fixed_pt")
class PyGradedRelayModelFixed(_LearnMixin, PyLoihiProcessModel):
    """Fixed-point relay: ``s_out = a_in`` as an int32 graded payload."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    v: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)

    def run_spk(self) -> None:
        a = np.asarray(self.a_in.recv()).astype(np.int64).astype(np.int32)
        self.v[:] = a
        self.s_out.send(a)
        self._count(a != 0)


# --------------------------------------------------------------------------- delay line
class DelayLine(AbstractProcess):
    """Passes its input on ``delay`` steps later: the uniform synaptic delay of a plastic
    projection (Lava's ``LearningDense`` has none), placed between the learning synapse and
    its post neuron so that the traces still see the spikes when they are emitted."""

    def __init__(self, *, shape: tuple[int, ...], delay: int,
                 name: ty.Optional[str] = None) -> None:
        super().__init__(shape=shape, delay=int(delay), name=name)
        self.a_in = InPort(shape=shape)
        self.a_out = OutPort(shape=shape)
        self.fifo = Var(shape=(int(delay),) + tuple(shape), init=0)


class _DelayLineModel(PyLoihiProcessModel):
    def run_spk(self) -> None:
        a = self.a_in.recv()
        slot = self.time_step % self.fifo.shape[0]
        out = self.fifo[slot].copy()
        self.fifo[slot] = a
        self.a_out.send(out)


@implements(proc=DelayLine, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyDelayLineModelFloat(_DelayLineModel):
    """Float delay line."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    fifo: np.ndarray = LavaPyType(np.ndarray, float)


@implements(proc=DelayLine, protocol=LoihiProtocol)
@requires(CPU)
@tag("bit_accurate_loihi", "fixed_pt")
class PyDelayLineModelFixed(_DelayLineModel):
    """Fixed-point delay line (activations as the synapse sends them)."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    fifo: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)


# --------------------------------------------------------------------------- stochastic
class LearnStochastic(LearnLIF):
    """``LearnLIF`` whose spike is the stochastic kind's escape, with the run's ``uniforms``
    ([steps, n], the cpu learner's draws) and a per-neuron ``beta``."""

    def __init__(self, *, shape: tuple[int, ...], beta: ty.Any = 0.1, uniforms: np.ndarray,
                 **kwargs: ty.Any) -> None:
        super().__init__(shape=shape, uniforms=uniforms, **kwargs)
        add_beta(self, shape, beta)


@implements(proc=LearnStochastic, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyLearnStochasticModelFloat(Escape, PyLearnLifModelFloat):
    """The float learning LIF with the escape activation (float only, like the kind)."""

    implements_process = None
    beta: np.ndarray = LavaPyType(np.ndarray, float)


from .learning_synapses import RecLearningDense, RecLearningSparse  # noqa: E402,F401
