"""Compile a network to a hardware profile: quantize, map to cores, write a build directory.

Names are imported on first use (PEP 562), so reading a build (``compiling.artifact``, what
every ``simulate`` does) does not import the compiler, the IR models and pydantic.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {"compile_network": "compiler", "CompileResult": "compiler",
            "Build": "artifact", "write_build": "artifact"}

__all__ = ["compile_network", "CompileResult", "Build", "write_build"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

