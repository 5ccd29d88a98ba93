"""Simulation results as objects: NumPy arrays per monitor, voltages in both units, plots."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class Result:
    """One simulation: monitored arrays ``[steps, size]`` named ``<population>.<var>``.

    Spikes are 0/1 integers. Fixed-point ``v``/``u`` come from the chip as integers; their
    scale (chip units per unit of the network's voltage, the unit of ``v_th``) converts
    them: :meth:`voltage` gives either.
    """

    data: dict[str, np.ndarray]
    scales: dict[str, float]
    dt: float
    backend: str
    numerics: str
    meta: dict[str, Any] = field(default_factory=dict)
    network: str = ""

    @property
    def steps(self) -> int:
        """Number of time steps simulated."""
        return int(next(iter(self.data.values())).shape[0]) if self.data else 0

    @property
    def times_ms(self) -> np.ndarray:
        """Time of every step in ms (``step * dt``)."""
        return np.arange(self.steps) * self.dt

    @property
    def spikes(self) -> dict[str, np.ndarray]:
        """Population -> spikes ``[steps, size]`` (0/1) of every spike monitor."""
        return {k[:-len(".spikes")]: v for k, v in self.data.items() if k.endswith(".spikes")}

    def voltage(self, population: str, units: str = "network") -> np.ndarray:
        """Membrane voltage ``v`` of a monitored population, ``[steps, size]``.

        ``units="network"``: the unit of ``v_th`` in the network (volts if the network's
        voltages are written in volts; the threshold is ``v_th``); ``units="chip"``: the
        raw state the chip holds (integers on fixed-point builds; equal on float builds).
        """
        return self._state(population, "v", units)

    def current(self, population: str, units: str = "network") -> np.ndarray:
        """Synaptic current ``u`` of a monitored population (units as :meth:`voltage`)."""
        return self._state(population, "u", units)

    def _state(self, population: str, var: str, units: str) -> np.ndarray:
        from ..errors import BackendError, did_you_mean
        key = f"{population}.{var}"
        if key not in self.data:
            have = [k for k in self.data if not k.endswith(".spikes")]
            raise BackendError(f"'{key}' was not monitored{did_you_mean(key, have)}; add "
                               f"{{population: {population}, var: {var}}} to monitors"
                               + (f" (monitored: {', '.join(have)})" if have else ""))
        if units == "chip":
            return self.data[key]
        if units != "network":
            raise BackendError(f"units must be 'network' or 'chip', got {units!r}")
        return self.data[key] / self.scales.get(key, 1.0)

    def rates_hz(self) -> dict[str, np.ndarray]:
        """Population -> mean firing rate of each neuron in Hz."""
        seconds = self.steps * self.dt / 1000.0
        return {p: s.sum(axis=0) / seconds for p, s in self.spikes.items()}

    def plot_raster(self, populations: list[str] | None = None, ax: Any = None) -> Any:
        """Spike raster of ``populations`` (default all spike monitors), stacked on one
        matplotlib axis (time in ms); returns the axis."""
        import matplotlib.pyplot as plt
        spikes = self.spikes
        names = populations or list(spikes)
        if ax is None:
            _, ax = plt.subplots(figsize=(8, 3))
        offset = 0
        for name in names:
            steps, neurons = np.nonzero(spikes[name])
            ax.scatter(steps * self.dt, neurons + offset, s=2, marker="|", label=name)
            offset += spikes[name].shape[1]
        ax.set(xlabel="time (ms)", ylabel="neuron", title=f"{self.backend}, {self.numerics} build")
        if len(names) > 1:
            ax.legend(fontsize=7, loc="upper right", markerscale=4)
        return ax

    def save_plot(self, path: str | Path) -> Path:
        """Write a PNG with one panel per monitor (raster for spikes, traces in the network's
        units otherwise), as ``neurodeploy simulate --plot`` does; returns the path."""
        from ..plot import plot_result
        return plot_result(self.data, path, f"{self.network} on {self.backend}", self.scales)

    def save(self, path: str | Path) -> Path:
        """Write an ``.npz`` as ``neurodeploy simulate -o`` does (scales included)."""
        from ..compilers.result import SimResult
        return SimResult(self.data, self.meta, self.scales).save(path)

    def __repr__(self) -> str:
        parts = ", ".join(f"{k} {list(v.shape)}" for k, v in self.data.items())
        return f"<Result {self.backend}, {self.steps} steps: {parts}>"


@dataclass
class Comparison:
    """Several backends on the same build and input; the first is the reference."""

    results: dict[str, Result]
    pairs: list[Any]
    numerics: str
    steps: int

    @property
    def agree(self) -> bool:
        """Fixed point: identical spikes and states; float: within the tolerance."""
        return all(p.identical or (self.numerics == "float" and p.within_tolerance)
                   for p in self.pairs)

    def lines(self) -> list[str]:
        """What ``neurodeploy compare`` prints."""
        out = [line for p in self.pairs for line in p.lines()]
        verdict = "backends agree" if self.agree else "backends DISAGREE"
        return out + [f"{self.numerics} build, {self.steps} steps: {verdict}"]

    def __str__(self) -> str:
        return "\n".join(self.lines())
