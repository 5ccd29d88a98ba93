"""The lava backend's read-out: a run's processes (:class:`Net`), the recorder files it
writes, and Lava Monitors.

By default every monitored LIF writes its own spikes (bit-packed) and v/u into a
memory-mapped file from inside its Lava process (see :mod:`.processes`); ``readout="monitor"``
uses Lava ``Monitor`` processes and ``get_data()`` instead (slow; kept for comparison).
Spikes of monitored source populations are the input trains themselves in recorder mode
(a RingBuffer emits exactly its data) and are probed on the RingBuffer in monitor mode.
"""
from __future__ import annotations

import typing as ty
from dataclasses import dataclass, field

import numpy as np

from neurodeploy.neurons import has_membrane

from ..plan import SimPlan

#: the Lava Var a Monitor probes for each monitored variable
LAVA_VAR = {"spikes": "s_out", "v": "v", "u": "u"}


@dataclass
class Net:
    """The Lava processes of one plan inside a (possibly shared) run."""

    plan: SimPlan
    inputs: dict[str, np.ndarray]
    procs: dict[str, ty.Any] = field(default_factory=dict)        # population -> process
    conns: list[ty.Any] = field(default_factory=list)
    records: dict[tuple[str, str], str] = field(default_factory=dict)   # (pop, var) -> file
    monitors: dict[tuple[str, str], ty.Any] = field(default_factory=dict)
    components: list[set[str]] = field(default_factory=list)


def _row_bytes(size: int, var: str, fixed: bool) -> int:
    """Bytes one step of ``var`` of ``size`` neurons takes in a recorder file."""
    from .processes import RECORD_DTYPES
    if var == "spikes":
        return (size + 7) // 8
    return size * np.dtype(RECORD_DTYPES[(var, fixed)]).itemsize


def prealloc(path: str, size: int, var: str, steps: int, fixed: bool) -> None:
    """Create the recorder file of ``var`` at its full size (the process maps it)."""
    with open(path, "wb") as fh:
        fh.truncate(_row_bytes(size, var, fixed) * steps)


def read_records(net: Net, steps: int) -> dict[str, np.ndarray]:
    """The monitored variables of ``net`` as ``{"pop.var": [steps, size]}``, from its files."""
    from .processes import RECORD_DTYPES
    plan, out = net.plan, {}
    for pop, var in plan.monitors:
        key = f"{pop}.{var}"
        size = plan.populations[pop].size
        if not has_membrane(plan.populations[pop].kind):
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


def read_monitors(net: Net, steps: int) -> dict[str, np.ndarray]:
    """The monitored variables of ``net`` from its Lava Monitors (runtime still up)."""
    plan, out = net.plan, {}
    for pop, var in plan.monitors:
        proc = net.procs[pop]
        arr = np.asarray(net.monitors[(pop, var)].get_data()[proc.name][LAVA_VAR[var]])
        arr = arr.reshape(steps, plan.populations[pop].size)
        if var == "spikes":
            out[f"{pop}.{var}"] = (arr != 0).astype(np.uint8)
        else:
            out[f"{pop}.{var}"] = arr.astype(np.int32 if plan.fixed else np.float64)
    return out
