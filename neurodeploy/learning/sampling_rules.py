"""A sampling task's plasticity blocks as arrays for the sampling simulator, and the
per-iteration update they make (wake from the target's statistics, sleep from the spikes)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..compiling.connectivity import projection_rng
from ..ir.models import Network
from ..task.sampling import Target
from .sampling import window_code

#: a noise draw beyond this many standard deviations is redrawn (the authors' truncation)
TRUNCATE = 1.5


def amplitude_gain(seed: int, block: str, n: int, cv: float) -> np.ndarray:
    """Per synapse 1 + cv x, x a standard normal truncated at +-TRUNCATE, one draw per
    block from the network seed (every rule's amplitudes get their own mismatch)."""
    if cv == 0:
        return np.ones((n, n))
    rng = projection_rng(seed, block, "amplitude")
    x = rng.standard_normal((n, n))
    bad = np.abs(x) > TRUNCATE
    while bad.any():
        x[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(x) > TRUNCATE
    return 1.0 + cv * x


@dataclass
class Rules:
    """The sleep rules as the simulator's arrays, the wake rules, and the bias blocks."""

    names: list[str]
    codes: np.ndarray
    amp_p: np.ndarray
    amp_m: np.ndarray
    tau_p: np.ndarray
    tau_m: np.ndarray
    rates: np.ndarray
    wake: list[tuple[float, np.ndarray]]            # (learning_rate, a_plus gain) per wake rule
    bias_blocks: list                                # BiasLearning blocks
    bounds: list[tuple[float | None, float | None]]  # every stdp block's (w_min, w_max)

    @property
    def sal(self) -> bool:
        """Whether a sleep rule is SAL-like (causal pairs depress: a_plus < 0 < -a_minus)."""
        return any(bool(np.all(p < 0) and np.all(m < 0)) for p, m in zip(self.amp_p, self.amp_m))


def build_rules(net: Network, n: int) -> Rules:
    """The network's sampling-task plasticity blocks as arrays."""
    sleep, wake, biases, bounds = [], [], [], []
    for name, block in net.plasticity.items():
        if block.rule == "bias":
            biases.append(block)
            continue
        bounds.append((block.w_min, block.w_max))
        gain = amplitude_gain(net.seed, name, n, block.amplitude_cv)
        if block.phase == "wake":
            wake.append((block.learning_rate, block.a_plus * gain))
        else:
            sleep.append((name, block, gain))
    k = len(sleep)
    return Rules(
        names=[s[0] for s in sleep],
        codes=np.array([window_code(b.window, b.pairing) for _, b, _ in sleep], np.int64),
        amp_p=np.array([b.a_plus * g for _, b, g in sleep]).reshape(k, n, n),
        amp_m=np.array([b.a_minus * g for _, b, g in sleep]).reshape(k, n, n),
        tau_p=np.array([b.tau_plus for _, b, _ in sleep], np.float64),
        tau_m=np.array([b.tau_minus for _, b, _ in sleep], np.float64),
        rates=np.array([b.learning_rate for _, b, _ in sleep], np.float64),
        wake=wake, bias_blocks=biases, bounds=bounds)


def apply_update(rules: Rules, target: Target, w: np.ndarray, b: np.ndarray, acc: np.ndarray,
                 active: np.ndarray) -> None:
    """One iteration's update in place: every rule's change, normalised per unit of time
    active (pair sums and spike counts times tau_ref / steps; ``active`` is the sleep
    phase's spike counts already so normalised), then the bounds."""
    dw = np.einsum("k,kij->ij", rules.rates, acc)
    for rate, gain in rules.wake:
        dw += rate * gain * target.coactivation
    db = np.zeros_like(b)
    for block in rules.bias_blocks:
        stat = target.marginals if block.phase == "wake" else active
        db += block.learning_rate * block.amplitude * stat
    w += dw
    b += db
    for lo, hi in rules.bounds:
        np.clip(w, -np.inf if lo is None else lo, np.inf if hi is None else hi, out=w)
    for block in rules.bias_blocks:
        np.clip(b, -np.inf if block.b_min is None else block.b_min,
                np.inf if block.b_max is None else block.b_max, out=b)
