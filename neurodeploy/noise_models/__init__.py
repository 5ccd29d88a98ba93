"""Temporal noise models, each defined once (:mod:`.membrane`, :mod:`.current`,
:mod:`.spike_drop`) and registered here.

Adding a model: write its module (a :class:`~.model.NoiseModel` named ``MODEL``) and add
the module's name to ``_MODULES``, or call :func:`register` with the object. The profile
noise sources, the IR noise checks, the manifest block the compiler writes, the draws every
backend applies and the backends' refusals are generated from this registry.
"""
from __future__ import annotations

import importlib

from .model import CHANNELS, NoiseModel

_MODULES = ("membrane", "current", "spike_drop")

MODELS: dict[str, NoiseModel] = {}


def register(model: NoiseModel) -> NoiseModel:
    """Add ``model`` to the registry (ValueError if its name or stream is taken)."""
    if model.name in MODELS:
        raise ValueError(f"noise model '{model.name}' is already registered")
    if any(m.stream == model.stream for m in MODELS.values()):
        raise ValueError(f"noise model '{model.name}' reuses stream {model.stream}")
    MODELS[model.name] = model
    return model


def unregister(name: str) -> None:
    """Remove the model ``name`` (a test's own model, say)."""
    MODELS.pop(name, None)


def get(name: str) -> NoiseModel:
    """The model called ``name`` (KeyError naming the known models otherwise)."""
    try:
        return MODELS[name]
    except KeyError:
        raise KeyError(f"unknown noise model '{name}'; known: {', '.join(MODELS)}") from None


#: the built-in models' names (profile ``noise.sources`` may list these)
BUILTIN = _MODULES

for _name in _MODULES:
    register(importlib.import_module(f"{__name__}.{_name}").MODEL)

__all__ = ["BUILTIN", "CHANNELS", "MODELS", "NoiseModel", "get", "register", "unregister"]
