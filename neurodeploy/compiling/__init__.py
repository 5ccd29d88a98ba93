"""Compile a network to a hardware profile: quantize, map to cores, write a build directory.

Names are imported on first use (PEP 562), so reading a build (``compiling.artifact``, what
every ``simulate`` does) does not import the compiler, the IR models and pydantic.
"""
from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {"compile_network": "compiler", "CompileResult": "compiler",
            "Build": "artifact", "write_build": "artifact"}

__all__ = ["compile_network", "CompileResult", "Build", "write_build"]


__getattr__ = lazy_exports(__name__, _EXPORTS)

