"""The network IR: typed models, YAML loading with field-path errors, JSON Schema export.

Names are imported on first use (PEP 562), so a command that needs only the models (e.g.
``profiles``) does not import the loader and NumPy.
"""
from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {"describe": "load", "load_network": "load", "parse_network": "load",
            "weight_arrays": "load", "IR_CLASSES": "models", "IR_VERSION": "models",
            "Network": "models", "network_schema": "schema"}

__all__ = ["Network", "IR_VERSION", "IR_CLASSES", "load_network", "parse_network",
           "describe", "weight_arrays", "network_schema"]


__getattr__ = lazy_exports(__name__, _EXPORTS)
