"""Neuron kinds, each defined once (:mod:`.lif`, :mod:`.graded`) and registered here.

Adding a kind: write its module (a :class:`~.kind.NeuronKind` named ``KIND`` with its
numba ``cpu_step``, NumPy reference step and translations) and add the module to
``_MODULES``; the cpu loop's dispatcher is generated from this registry
(:mod:`.cpu_dispatch`).
"""
from __future__ import annotations

from . import graded, lif
from .kind import FixedConstants, NeuronKind

_MODULES = (lif, graded)

KINDS: dict[str, NeuronKind] = {m.KIND.name: m.KIND for m in _MODULES}
CODES: dict[int, NeuronKind] = {k.code: k for k in KINDS.values()}
assert len(CODES) == len(KINDS), "two neuron kinds share a cpu code"

__all__ = ["KINDS", "CODES", "FixedConstants", "NeuronKind", "get"]


def get(name: str) -> NeuronKind:
    """The kind called ``name`` (KeyError naming the known kinds otherwise)."""
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"unknown neuron kind '{name}'; known: {', '.join(KINDS)}") from None
