"""Compare simulation results of several backends on the same build and input.

Fixed-point runs must be identical; the first divergence (step, population, neuron, both
values) is reported. Float runs are compared by spike counts, van Rossum distance and the
largest state difference, against a tolerance.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .result import SimResult


@dataclass
class Divergence:
    """First place two results differ."""

    key: str
    step: int
    neuron: int
    values: tuple[float, float]


@dataclass
class PairReport:
    """How result ``b`` compares with the reference ``a``."""

    a: str
    b: str
    identical: bool
    first: Divergence | None = None
    spike_count_diff: dict[str, int] = field(default_factory=dict)
    spike_totals: dict[str, tuple[int, int]] = field(default_factory=dict)
    van_rossum: dict[str, float] = field(default_factory=dict)
    max_state_diff: dict[str, float] = field(default_factory=dict)
    within_tolerance: bool = True

    def lines(self) -> list[str]:
        """Readable summary."""
        if self.identical:
            return [f"{self.a} vs {self.b}: identical"]
        d = self.first
        out = [f"{self.a} vs {self.b}: first divergence at step {d.step}, {d.key} neuron "
               f"{d.neuron}: {self.a}={d.values[0]!r} {self.b}={d.values[1]!r}"]
        for key, diff in self.spike_count_diff.items():
            ta, tb = self.spike_totals[key]
            out.append(f"  {key}: spikes {ta} vs {tb} (sum |per-neuron diff| {diff}), "
                       f"van Rossum {self.van_rossum[key]:.4g} per neuron")
        for key, diff in self.max_state_diff.items():
            out.append(f"  {key}: max |difference| {diff:.3g}")
        out.append("  within tolerance" if self.within_tolerance else "  EXCEEDS tolerance")
        return out


def first_divergence(a: dict[str, np.ndarray], b: dict[str, np.ndarray],
                     keys: list[str]) -> Divergence | None:
    """Earliest step (then key order, then neuron) at which any monitored array differs."""
    best: Divergence | None = None
    for key in keys:
        x, y = a[key], b[key]
        if x.shape != y.shape:
            return Divergence(key, 0, 0, (float("nan"), float("nan")))
        diff = np.argwhere(x != y)
        if diff.size and (best is None or diff[0][0] < best.step):
            step, neuron = int(diff[0][0]), int(diff[0][1])
            best = Divergence(key, step, neuron, (x[step, neuron].item(), y[step, neuron].item()))
    return best


def van_rossum(a: np.ndarray, b: np.ndarray, tau_steps: float = 10.0) -> float:
    """Mean van Rossum distance per neuron between two [steps, size] spike rasters."""
    decay = np.exp(-1.0 / tau_steps)
    fa = np.zeros(a.shape[1])
    fb = np.zeros(a.shape[1])
    total = np.zeros(a.shape[1])
    for t in range(a.shape[0]):
        fa = fa * decay + a[t]
        fb = fb * decay + b[t]
        total += (fa - fb) ** 2
    return float(np.mean(np.sqrt(total / tau_steps))) if a.shape[1] else 0.0


def compare_pair(name_a: str, a: SimResult, name_b: str, b: SimResult, numerics: str,
                 tolerance: float = 0.5, state_atol: float = 1e-6) -> PairReport:
    """Compare ``b`` against reference ``a``.

    Float tolerance: the mean van Rossum distance of every spike monitor must be at most
    ``tolerance`` and state monitors may differ by at most ``state_atol`` (times the
    largest absolute state) up to the first spike divergence.
    """
    keys = sorted(set(a.data) & set(b.data))
    first = first_divergence(a.data, b.data, keys)
    report = PairReport(a=name_a, b=name_b, identical=first is None)
    if first is None:
        return report
    report.first = first
    ok = numerics == "float"
    for key in keys:
        x, y = a.data[key], b.data[key]
        if key.endswith(".spikes"):
            report.spike_totals[key] = (int(x.sum()), int(y.sum()))
            report.spike_count_diff[key] = int(np.abs(x.sum(0).astype(np.int64) - y.sum(0)).sum())
            report.van_rossum[key] = van_rossum(x.astype(float), y.astype(float))
            ok = ok and report.van_rossum[key] <= tolerance
        else:
            spikes_diverge = [first_divergence(a.data, b.data, [k]) for k in keys if k.endswith(".spikes")]
            until = min([d.step for d in spikes_diverge if d is not None], default=x.shape[0])
            diff = np.abs(x[:until].astype(float) - y[:until].astype(float))
            report.max_state_diff[key] = float(diff.max()) if diff.size else 0.0
            peak = float(np.abs(x[:until]).max()) if diff.size else 0.0
            ok = ok and report.max_state_diff[key] <= state_atol * max(peak, 1.0)
    report.within_tolerance = ok
    return report
