"""Compatibility shim making lava-nc 0.10.0 importable on Python >= 3.11.

Python 3.11 rejects unhashable dataclass instances as field defaults, and
``lava/magma/compiler/var_model.py`` uses ``ByteEncoder()`` instances (a plain
``@dataclass``, hence unhashable) as defaults in other dataclasses, so importing
``lava.magma.compiler.var_model`` raises ``ValueError: mutable default``.

:func:`install` registers a ``sys.meta_path`` finder for exactly that module.
Its loader reads the original source, rewrites the ``@dataclass`` decorator
directly preceding ``class ByteEncoder`` into ``@dataclass(unsafe_hash=True)``
and executes the result compiled against the real file name (so tracebacks and
``inspect`` still point at the installed file). Site-packages is never
modified, and lava itself is not imported here. If the pattern is absent
(e.g. a fixed lava release), the module is loaded unchanged.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import re
import sys
import types
from typing import Optional, Sequence

__all__ = ["install", "uninstall", "patch_source", "TARGET_MODULE"]

TARGET_MODULE = "lava.magma.compiler.var_model"

# ``@dataclass`` (bare, or with empty parentheses) on the line right before
# ``class ByteEncoder``; comments/blank lines in between are not expected.
_PATTERN = re.compile(
    r"^(?P<indent>[ \t]*)@(?P<deco>(?:dataclasses\.)?dataclass)(?:\(\s*\))?[ \t]*"
    r"(?P<eol>\r?\n)(?P<cls>[ \t]*class[ \t]+ByteEncoder\b)",
    re.MULTILINE,
)


def patch_source(source: str) -> str:
    """Return ``source`` with ByteEncoder's ``@dataclass`` made hashable.

    Unchanged if the pattern is not present (already fixed upstream)."""
    return _PATTERN.sub(
        lambda m: (f"{m['indent']}@{m['deco']}(unsafe_hash=True)"
                   f"{m['eol']}{m['cls']}"),
        source,
        count=1,
    )


class _PatchingLoader(importlib.abc.SourceLoader):
    """Source loader executing the patched ``var_model`` source."""

    def __init__(self, fullname: str, path: str) -> None:
        self.name = fullname
        self.path = path

    def get_filename(self, fullname: str) -> str:
        return self.path

    def get_data(self, path: str) -> bytes:
        with open(path, "rb") as fh:
            return fh.read()

    def get_code(self, fullname: str) -> types.CodeType:
        # Bypass bytecode caches: compile the (possibly patched) source with
        # the real file name so tracebacks map to the installed file.
        raw = self.get_data(self.path)
        source = importlib.util.decode_source(raw)
        return compile(patch_source(source), self.path, "exec",
                       dont_inherit=True)


class _LavaCompatFinder(importlib.abc.MetaPathFinder):
    """Meta-path finder intercepting only :data:`TARGET_MODULE`."""

    _neurodeploy_lava_compat = True  # marker for idempotent install()

    def find_spec(self, fullname: str, path: Optional[Sequence[str]],
                  target: Optional[types.ModuleType] = None):
        if fullname != TARGET_MODULE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            return spec  # not a plain source file: let normal import proceed
        return importlib.util.spec_from_file_location(
            fullname, spec.origin, loader=_PatchingLoader(fullname, spec.origin),
            submodule_search_locations=spec.submodule_search_locations)


def install() -> None:
    """Install the import hook (idempotent; does not import lava)."""
    if any(getattr(f, "_neurodeploy_lava_compat", False)
           for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _LavaCompatFinder())


def uninstall() -> None:
    """Remove the import hook (already imported modules are unaffected)."""
    sys.meta_path[:] = [f for f in sys.meta_path
                        if not getattr(f, "_neurodeploy_lava_compat", False)]
