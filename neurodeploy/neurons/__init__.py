"""Neuron kinds, each defined once (:mod:`.lif`, :mod:`.graded`, :mod:`.stochastic`) and
registered here.

Adding a kind: write its module (a :class:`~.kind.NeuronKind` named ``KIND`` with its
numba ``cpu_step``, NumPy reference step and translations) and add the module's name to
``_MODULES``; the cpu loop's dispatcher is generated from this registry
(:mod:`.cpu_dispatch`). The kind modules import numba, so the registry is built on first
use: ``compile`` (which needs only the quantizer and :class:`~.kind.FixedConstants`) does
not pay for it.
"""
from __future__ import annotations

import importlib
from typing import Any

from .kind import MEMBRANE_KINDS, N_SLOTS, FixedConstants, NeuronKind

_MODULES = ("lif", "graded", "stochastic")

__all__ = ["KINDS", "CODES", "MEMBRANE_KINDS", "N_SLOTS", "FixedConstants", "NeuronKind", "get"]


def _registry() -> tuple[dict[str, NeuronKind], dict[int, NeuronKind]]:
    kinds = {}
    for name in _MODULES:
        kind = importlib.import_module(f"{__name__}.{name}").KIND
        kinds[kind.name] = kind
    codes = {k.code: k for k in kinds.values()}
    assert len(codes) == len(kinds), "two neuron kinds share a cpu code"
    return kinds, codes


def __getattr__(name: str) -> Any:
    """``KINDS`` and ``CODES``, built from ``_MODULES`` on first access."""
    if name in ("KINDS", "CODES"):
        kinds, codes = _registry()
        globals().update(KINDS=kinds, CODES=codes)
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get(name: str) -> NeuronKind:
    """The kind called ``name`` (KeyError naming the known kinds otherwise)."""
    kinds = globals().get("KINDS") or __getattr__("KINDS")
    try:
        return kinds[name]
    except KeyError:
        raise KeyError(f"unknown neuron kind '{name}'; known: {', '.join(kinds)}") from None
