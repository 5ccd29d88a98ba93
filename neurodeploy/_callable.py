"""Packages that are also public API functions of the same name (``neurodeploy.compile``,
``neurodeploy.validate``): importing a subpackage sets it as an attribute of ``neurodeploy``,
which would hide a function called alike, so the package itself is made callable."""
from __future__ import annotations

import importlib
import sys
import types
from typing import Any


def make_callable(package: str, target: str) -> None:
    """Calling module ``package`` calls ``target`` (``"module:function"``, relative to
    ``neurodeploy``), imported on first call."""
    module_name, func_name = target.split(":")

    class _CallablePackage(types.ModuleType):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            func = getattr(importlib.import_module(module_name, "neurodeploy"), func_name)
            return func(*args, **kwargs)

    _CallablePackage.__call__.__doc__ = f"Call :func:`neurodeploy{module_name}.{func_name}`."
    sys.modules[package].__class__ = _CallablePackage
