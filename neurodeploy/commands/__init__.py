"""Sub-commands that live outside ``cli.py``: one module per command group.

Each module listed in ``MODULES`` exposes ``register(sub)``, which adds its parsers to the
``neurodeploy`` sub-parser set and binds each to its handler with
``p.set_defaults(func=handler)``; a handler takes the parsed arguments and returns the exit
code. Modules are imported lazily, so a command's heavy imports cost only that command.
"""
from __future__ import annotations

import argparse
import importlib

MODULES: tuple[str, ...] = ("validate", "nir", "learn")


def register_all(sub: argparse._SubParsersAction) -> None:
    """Add every listed module's parsers to ``sub``."""
    for name in MODULES:
        importlib.import_module(f"{__name__}.{name}").register(sub)
