"""Lava processes and process models used by the lava backend.

``NdLIF``
    Lava's LIF with a per-neuron threshold (Lava's ``LIF.vth`` is one scalar per
    population) that can record its own spikes, ``v`` and ``u``.  Its models
    *subclass* Lava's ``PyLifModelBitAcc`` / ``PyLifModelFloat`` and only widen
    ``vth`` to an array and append a record call after Lava's own ``run_spk``:
    the arithmetic is Lava's code, unchanged.

    Temporal noise (``docs/noise.md``): ``noise`` ([steps, n] increments added to ``v``
    after Lava's sub-threshold update, then clipped as Lava clips) and ``drop`` ([steps, n]
    bool: the spike is recorded and the neuron resets, but it is not sent) are precomputed
    from the counter-based random function, the numbers the cpu backend uses.

    Recording happens inside the neuron's own OS process: after each step the
    state after the update of step ``t`` (what a Monitor would read in the
    post-management phase) is written into row ``t`` of a memory-mapped file
    (spikes bit-packed, v/u as int32 or float64).  The backend preallocates the
    files and reads them after the run; no per-step channel traffic, no
    ``Monitor.get_data()`` round trip through the runtime.

``make_tie(shapes)``
    A sink with one InPort per given shape that receives and drops every
    message.  Lava compiles only the processes connected to the one ``run()``
    is called on; tapping one OutPort of every connected component joins
    disconnected networks into one run without changing any neuron's input.
"""
from __future__ import annotations

import typing as ty

import numpy as np

from neurodeploy import _lava_compat

_lava_compat.install()

from lava.magma.core.decorator import implements, requires  # noqa: E402
from lava.magma.core.model.py.model import PyLoihiProcessModel  # noqa: E402
from lava.magma.core.model.py.ports import PyInPort  # noqa: E402
from lava.magma.core.model.py.type import LavaPyType  # noqa: E402
from lava.magma.core.process.ports.ports import InPort  # noqa: E402
from lava.magma.core.process.process import AbstractProcess  # noqa: E402
from lava.magma.core.process.variable import Var  # noqa: E402
from lava.magma.core.resources import CPU  # noqa: E402
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol  # noqa: E402
from lava.proc.lif.models import (PyLifModelBitAcc, PyLifModelFloat,  # noqa: E402
                                  PyLifRefractoryModelFloat)
from lava.proc.lif.process import AbstractLIF  # noqa: E402

__all__ = ["NdLIF", "NdLIFRefractory", "PyNdLifModelBitAcc", "PyNdLifModelFloat",
           "PyNdLifRefractoryModelFloat", "make_tie", "RECORD_DTYPES"]

#: dtype of a recorded var per numerics ('spikes' is always bit-packed uint8)
RECORD_DTYPES = {("v", True): np.int32, ("u", True): np.int32,
                 ("v", False): np.float64, ("u", False): np.float64}


class NdLIF(AbstractLIF):
    """Lava LIF with a per-neuron ``vth`` Var and optional self-recording.

    ``record`` maps ``'spikes'``, ``'v'`` or ``'u'`` to a file path; ``steps`` is the
    number of rows of each file (steps beyond it are not recorded).
    """

    def __init__(self, *, shape: tuple[int, ...], vth: ty.Any = 10, u: ty.Any = 0, v: ty.Any = 0,
                 du: ty.Any = 0, dv: ty.Any = 0, bias_mant: ty.Any = 0, bias_exp: ty.Any = 0,
                 record: ty.Optional[dict[str, str]] = None, steps: int = 0,
                 noise: ty.Optional[np.ndarray] = None, drop: ty.Optional[np.ndarray] = None,
                 current: ty.Optional[np.ndarray] = None,
                 name: ty.Optional[str] = None, **kwargs: ty.Any) -> None:
        super().__init__(shape=shape, u=u, v=v, du=du, dv=dv, bias_mant=bias_mant,
                         bias_exp=bias_exp, name=name, log_config=None,
                         record=dict(record or {}), steps=int(steps),
                         noise=noise, drop=drop, current=current, **kwargs)
        self.vth = Var(shape=shape, init=np.broadcast_to(np.asarray(vth), shape).copy())
        # per-neuron decays (a mismatched chip); Lava's LIF has one du/dv per population
        self.du = Var(shape=shape, init=np.broadcast_to(np.asarray(du), shape).copy())
        self.dv = Var(shape=shape, init=np.broadcast_to(np.asarray(dv), shape).copy())


class NdLIFRefractory(NdLIF):
    """Lava's ``LIFRefractory`` (float only in Lava 0.10) with per-neuron ``vth``."""

    def __init__(self, *, shape: tuple[int, ...], refractory_period: int = 1,
                 **kwargs: ty.Any) -> None:
        if refractory_period < 1:
            raise ValueError("Refractory period must be > 0.")
        super().__init__(shape=shape, **kwargs)
        self.proc_params["refractory_period"] = int(refractory_period)
        self.refractory_period_end = Var(shape=shape, init=0)


class _Recorder:
    """Mixin: write spikes/v/u of each step into memory-mapped files; temporal noise."""

    _rec: ty.Optional[list] = None
    _fired: ty.Optional[np.ndarray] = None

    def _noise_row(self, key: str) -> ty.Optional[np.ndarray]:
        """Row ``time_step - 1`` of the precomputed ``noise`` or ``drop`` array, if any."""
        arr = self.proc_params.get(key, None)
        t = self.time_step - 1
        if arr is None or t >= arr.shape[0]:
            return None
        return arr[t]

    def _with_current_noise(self, activation_in: np.ndarray) -> np.ndarray:
        """This step's input plus its current-noise increment (docs/noise.md)."""
        inc = self._noise_row("current")
        return activation_in if inc is None else activation_in + inc

    def _add_membrane_noise(self) -> None:
        """v += this step's increment (fixed: clipped to Lava's voltage limits)."""
        inc = self._noise_row("noise")
        if inc is None:
            return
        if self.v.dtype.kind in "iu":
            lim = np.int64(self.max_uv_val) - 1
            self.v[:] = np.clip(np.int64(1) * self.v + inc, -lim, lim)
        else:
            self.v[:] = self.v + inc

    def _drop_spikes(self, spike_vector: np.ndarray) -> None:
        """Keep the emitted spikes for the record, then unset the dropped ones in place
        (``spike_vector`` is the array Lava sends next)."""
        drop = self._noise_row("drop")
        if drop is None:
            self._fired = None
            return
        self._fired = np.array(spike_vector, copy=True)
        spike_vector[drop] = 0

    def _open_records(self) -> None:
        record = self.proc_params.get("record", {})
        steps = int(self.proc_params.get("steps", 0))
        fixed = self.v.dtype.kind in "iu"
        n = self.v.size
        self._rec = []
        for var, path in record.items():
            if var == "spikes":
                mm = np.memmap(path, dtype=np.uint8, mode="r+", shape=(steps, (n + 7) // 8))
            else:
                mm = np.memmap(path, dtype=RECORD_DTYPES[(var, fixed)], mode="r+",
                               shape=(steps, n))
            self._rec.append((var, mm))
        self._rec_steps = steps

    def _record(self) -> None:
        if self._rec is None:
            self._open_records()
        t = self.time_step - 1
        if t >= self._rec_steps:
            return
        for var, mm in self._rec:
            if var == "spikes":
                fired = self.s_out_buff if self._fired is None else self._fired
                mm[t] = np.packbits(np.asarray(fired, dtype=bool))
            else:
                mm[t] = getattr(self, var)


@implements(proc=NdLIF, protocol=LoihiProtocol)
@requires(CPU)
class PyNdLifModelBitAcc(_Recorder, PyLifModelBitAcc):
    """Lava's bit-accurate LIF (tags fixed_pt, bit_accurate_loihi), vth per neuron."""

    implements_process = None  # re-bound by @implements (Lava forbids re-binding a set one)
    vth: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=17)
    du: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=12)
    dv: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=12)

    def subthr_dynamics(self, activation_in: np.ndarray) -> None:
        super().subthr_dynamics(self._with_current_noise(activation_in))
        self._add_membrane_noise()

    def reset_voltage(self, spike_vector: np.ndarray) -> None:
        super().reset_voltage(spike_vector)
        self._drop_spikes(spike_vector)

    def run_spk(self) -> None:
        super().run_spk()
        self._record()


@implements(proc=NdLIF, protocol=LoihiProtocol)
@requires(CPU)
class PyNdLifModelFloat(_Recorder, PyLifModelFloat):
    """Lava's floating-point LIF (tag floating_pt), vth per neuron."""

    implements_process = None
    vth: np.ndarray = LavaPyType(np.ndarray, float)
    du: np.ndarray = LavaPyType(np.ndarray, float)
    dv: np.ndarray = LavaPyType(np.ndarray, float)

    def subthr_dynamics(self, activation_in: np.ndarray) -> None:
        super().subthr_dynamics(self._with_current_noise(activation_in))
        self._add_membrane_noise()

    def reset_voltage(self, spike_vector: np.ndarray) -> None:
        super().reset_voltage(spike_vector)
        self._drop_spikes(spike_vector)

    def run_spk(self) -> None:
        super().run_spk()
        self._record()


@implements(proc=NdLIFRefractory, protocol=LoihiProtocol)
@requires(CPU)
class PyNdLifRefractoryModelFloat(_Recorder, PyLifRefractoryModelFloat):
    """Lava's ``PyLifRefractoryModelFloat`` (tag floating_pt), vth per neuron."""

    implements_process = None
    vth: np.ndarray = LavaPyType(np.ndarray, float)
    du: np.ndarray = LavaPyType(np.ndarray, float)
    dv: np.ndarray = LavaPyType(np.ndarray, float)

    def subthr_dynamics(self, activation_in: np.ndarray) -> None:
        """Lava's refractory sub-threshold update with ``dv`` indexed per neuron."""
        self.u[:] = self.u * (1 - self.du)
        self.u[:] += self._with_current_noise(activation_in)
        free = self.refractory_period_end < self.time_step
        self.v[free] = self.v[free] * (1 - self.dv[free]) + (
            self.u[free] + self.bias_mant[free])
        self._add_membrane_noise()

    def process_spikes(self, spike_vector: np.ndarray) -> None:
        self.s_out_buff = spike_vector      # Lava's run_spk keeps the spikes local
        super().process_spikes(spike_vector)
        self._drop_spikes(spike_vector)

    def run_spk(self) -> None:
        super().run_spk()
        self._record()


# ------------------------------------------------------------------------- tie
_TIES: dict[int, tuple[type, type]] = {}


def make_tie(shapes: ty.Sequence[tuple[int, ...]]) -> AbstractProcess:
    """A sink process with ``len(shapes)`` InPorts ``in_<i>`` that drops its input."""
    k = len(shapes)
    if k not in _TIES:
        def proc_init(self: AbstractProcess, *, shapes: ty.Sequence[tuple[int, ...]]) -> None:
            AbstractProcess.__init__(self, name=None)
            for i, shape in enumerate(shapes):
                setattr(self, f"in_{i}", InPort(shape=tuple(shape)))
            attrs = self._find_attr_by_type(InPort)
            self._init_proc_member_obj(attrs)
            self.in_ports.add_members(attrs)

        proc_cls = type(f"Tie{k}", (AbstractProcess,), {"__init__": proc_init,
                                                         "__module__": __name__})

        def run_spk(self: PyLoihiProcessModel) -> None:
            for port in self._tie_ports:
                port.recv()

        def model_init(self: PyLoihiProcessModel, proc_params: ty.Any) -> None:
            PyLoihiProcessModel.__init__(self, proc_params)

        body: dict[str, ty.Any] = {"__module__": __name__, "run_spk": run_spk,
                                   "__init__": model_init,
                                   "_tie_ports": property(
                                       lambda self: [getattr(self, f"in_{i}") for i in range(k)])}
        for i in range(k):
            body[f"in_{i}"] = LavaPyType(PyInPort.VEC_DENSE, float)
        model_cls = type(f"PyTie{k}Model", (PyLoihiProcessModel,), body)
        model_cls = requires(CPU)(implements(proc=proc_cls, protocol=LoihiProtocol)(model_cls))
        globals()[proc_cls.__name__] = proc_cls
        globals()[model_cls.__name__] = model_cls
        _TIES[k] = (proc_cls, model_cls)
    return _TIES[k][0](shapes=[tuple(s) for s in shapes])
