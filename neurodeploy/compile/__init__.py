"""Compile a network to a hardware profile: quantize, map to cores, write a build directory.

Names are imported on first use (PEP 562), so reading a build (``compile.artifact``, what
every ``simulate`` does) does not import the compiler, the IR models and pydantic.
"""
from __future__ import annotations

import importlib
import sys
import types
from typing import Any

_EXPORTS = {"compile_network": "compiler", "CompileResult": "compiler",
            "Build": "artifact", "write_build": "artifact"}

__all__ = ["compile_network", "CompileResult", "Build", "write_build"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _CallablePackage(types.ModuleType):
    """This package is also the public ``neurodeploy.compile(network, profile)`` function
    (a package attribute of the same name would otherwise hide one or the other)."""

    def __call__(self, network: Any, profile: Any = "loihi2") -> Any:
        """Compile ``network`` for ``profile``: :func:`neurodeploy.api.build.compile`."""
        from ..api.build import compile as run
        return run(network, profile)


sys.modules[__name__].__class__ = _CallablePackage
