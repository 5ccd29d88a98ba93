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

__all__ = ["KINDS", "CODES", "MEMBRANE_KINDS", "N_SLOTS", "SOURCE_KINDS", "FixedConstants",
           "NeuronKind", "get", "kind_of", "has_membrane", "register", "unregister"]

#: populations that emit given (spike_source) or seeded (poisson) spikes: inputs, not kinds
SOURCE_KINDS = ("spike_source", "poisson")


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


def register(kind: NeuronKind) -> NeuronKind:
    """Add ``kind`` (defined outside the package, say) to the registry; the cpu dispatcher
    is generated again on next import of :mod:`.cpu_dispatch`'s ``neuron_step``."""
    kinds = globals().get("KINDS") or __getattr__("KINDS")
    if kind.name in kinds or kind.name in SOURCE_KINDS:
        raise ValueError(f"neuron kind '{kind.name}' is already registered")
    if any(k.code == kind.code for k in kinds.values()):
        raise ValueError(f"neuron kind '{kind.name}' reuses cpu code {kind.code}")
    kinds[kind.name] = kind
    globals()["CODES"][kind.code] = kind
    return kind


def unregister(name: str) -> None:
    """Remove the kind ``name`` (a test's own kind)."""
    kinds = globals().get("KINDS") or __getattr__("KINDS")
    kind = kinds.pop(name, None)
    if kind is not None:
        globals()["CODES"].pop(kind.code, None)


def kind_of(name: str) -> NeuronKind | None:
    """The registered kind ``name``, or None (a source population, or unknown)."""
    kinds = globals().get("KINDS") or __getattr__("KINDS")
    return kinds.get(name)


def has_membrane(name: str) -> bool:
    """Whether populations of kind ``name`` have a membrane (u, v)."""
    kind = kind_of(name)
    return kind is not None and kind.has_membrane


def get(name: str) -> NeuronKind:
    """The kind called ``name`` (KeyError naming the known kinds otherwise)."""
    kinds = globals().get("KINDS") or __getattr__("KINDS")
    try:
        return kinds[name]
    except KeyError:
        raise KeyError(f"unknown neuron kind '{name}'; known: {', '.join(kinds)}") from None
