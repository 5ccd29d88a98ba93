"""When an imported Affine/Conv bias starts: with the first input spikes that can reach it.

Frameworks that export NIR (snnTorch, Sinabs) run a feed-forward stack within one step;
the IR delivers every projection one step later, so a neuron node at ``lag`` L (the fewest
steps in which anything from an Input can reach it: one per edge between neuron nodes plus
Delay steps) runs L steps behind the framework. Its step L is the framework's step 0, where
the bias already acts, so the bias must arrive at step L, not earlier: a bias that arrived
from step 1 at every depth would drive deeper layers before their first input.

The bias clock fires from step 0 and a projection adds one step, so the bias projection into
a neuron node gets delay ``max(L - 1, d)``, ``d`` the Delay steps after the bias's node.
"""
from __future__ import annotations

from typing import Any

NO_INPUT_LAG = 1
"""Lag of a neuron node no Input reaches: its biases start at step 1."""


def lags(acc: dict[tuple[str, str, int], Any], inputs: set[str], clock: str) -> dict[str, int]:
    """Fewest steps from any Input to each reachable node, over the (source, target, delay) maps."""
    lag = {name: 0 for name in inputs}
    changed = True
    while changed:
        changed = False
        for src, tgt, d in acc:
            if src == clock or src not in lag:
                continue
            arrival = lag[src] + 1 + int(d)
            if arrival < lag.get(tgt, arrival + 1):
                lag[tgt] = arrival
                changed = True
    return lag


def realign(acc: dict, via: dict, trail: dict, inputs: set[str], clock: str) -> None:
    """Move every bias map (source ``clock``) to the delay at which its target's input starts."""
    lag = lags(acc, inputs, clock)
    for key in [k for k in acc if k[0] == clock]:
        _, tgt, d = key
        start = max(lag.get(tgt, NO_INPUT_LAG) - 1, int(d))
        if start == d:
            continue
        new = (clock, tgt, start)
        matrix = acc.pop(key)
        acc[new] = acc[new] + matrix if new in acc else matrix
        via.setdefault(new, set()).update(via.pop(key))
        trail.setdefault(new, set()).update(trail.pop(key))
