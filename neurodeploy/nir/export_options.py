"""Conventions of an exported graph that other NIR readers depend on (docs/nir.md, "Export").

The graph means the same network under every choice; what changes is how it is written:

- ``time_unit``: ``"ir"`` writes times (tau, Delay, the recorded dt) in the IR's unit (ms);
  ``"s"`` in seconds, the unit snnTorch and Norse read.
- ``r_one``: write ``LIF``/``LI``/``IF``/``I`` nodes with ``r = 1`` and put the gain
  ``dt/tau`` (``dt`` for IF) into the weights; Norse's importer ignores ``r`` (it assumes 1).
  Without it ``r = tau/dt`` makes the gain 1, so NIR weights equal IR weights.
- ``record``: write one ``Output`` node, for this population (nirtorch's importers run a graph
  with one Output); other monitors are listed as not exported, and so are the populations
  that cannot reach it (they change none of its spikes, and NIR readers would give each
  such leaf node an Output of its own).

Nodes are always written in topological order (Inputs first, Outputs last), and the file
keeps that order, as nirtorch's importers need.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SECONDS_PER_IR_UNIT = 1e-3
"""The IR's time unit is the millisecond."""


@dataclass(frozen=True)
class ExportOptions:
    """How ``export-nir`` writes its graph (the default is the canonical form)."""

    time_unit: str = "ir"
    r_one: bool = False
    record: str | None = None

    @property
    def time_scale(self) -> float:
        """Factor from IR time units to the written unit."""
        return SECONDS_PER_IR_UNIT if self.time_unit == "s" else 1.0

    @property
    def canonical(self) -> bool:
        """True when nothing differs from the default form."""
        return self == ExportOptions()


def topological(nodes: dict[str, Any], edges: list[tuple[str, str]]) -> list[str]:
    """Node names with every edge forward except those closing a cycle; Outputs last."""
    succs: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        succs[a].append(b)
    kind = {n: type(v).__name__ for n, v in nodes.items()}
    done: list[str] = []
    seen: set[str] = set()
    starts = [n for n in nodes if kind[n] == "Input"] + list(nodes)
    for start in starts:
        if start in seen:
            continue
        seen.add(start)
        stack = [(start, iter(succs[start]))]
        while stack:
            name, children = stack[-1]
            nxt = next((c for c in children if c not in seen), None)
            if nxt is None:
                stack.pop()
                done.append(name)
            else:
                seen.add(nxt)
                stack.append((nxt, iter(succs[nxt])))
    order = done[::-1]
    return [n for n in order if kind[n] != "Output"] + [n for n in order if kind[n] == "Output"]


def upstream(projections: dict[str, Any], target: str) -> set[str]:
    """``target`` and every population with a path of projections into it."""
    keep, frontier = {target}, [target]
    while frontier:
        post = frontier.pop()
        for proj in projections.values():
            if proj.post == post and proj.pre not in keep:
                keep.add(proj.pre)
                frontier.append(proj.pre)
    return keep
