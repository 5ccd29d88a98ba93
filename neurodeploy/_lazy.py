"""Names of a package imported on first use (PEP 562), so importing the package stays cheap:
``neurodeploy check`` must not load numba, scipy or the compiler."""
from __future__ import annotations

import importlib
from typing import Any, Callable


def lazy_exports(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports ``exports[name]`` (a submodule
    relative to ``package``) on first access of ``name`` and returns its attribute."""
    def __getattr__(name: str) -> Any:
        if name in exports:
            return getattr(importlib.import_module(f".{exports[name]}", package), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    return __getattr__
