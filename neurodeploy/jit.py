"""numba set-up shared by every jitted module: the on-disk cache location and int32 wrap."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numba
from numba import njit


# --------------------------------------------------------------------------- JIT cache dir
def _writable(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=path, prefix=".probe", delete=True)
        probe.close()
        return True
    except OSError:
        return False


def _configure_cache() -> bool:
    """Make ``cache=True`` work even when the package directory is read-only.

    numba writes its cache next to this file (``__pycache__``) when it can. Otherwise (an
    installed, read-only site-packages) we point ``numba.config.CACHE_DIR`` at
    ``$NEURODEPLOY_CACHE_DIR/numba``, ``~/.cache/neurodeploy/numba`` or a temp dir, unless
    the user already chose one with ``NUMBA_CACHE_DIR``. Returns False when nothing is
    writable (the functions are then compiled without a disk cache)."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return _writable(Path(os.environ["NUMBA_CACHE_DIR"]))
    if _writable(Path(__file__).resolve().parent / "__pycache__"):
        return True
    candidates = []
    if os.environ.get("NEURODEPLOY_CACHE_DIR"):
        candidates.append(Path(os.environ["NEURODEPLOY_CACHE_DIR"]) / "numba")
    candidates.append(Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
                      / "neurodeploy" / "numba")
    candidates.append(Path(tempfile.gettempdir()) / f"neurodeploy-numba-{os.getuid()}")
    for cand in candidates:
        if _writable(cand):
            numba.config.CACHE_DIR = str(cand)
            return True
    return False


CACHE = _configure_cache()


@njit(cache=CACHE, inline="always")
def wrap32(x):
    """Two's-complement wrap of an int64 to the int32 range (kept in int64)."""
    return ((x + 0x80000000) & 0xFFFFFFFF) - 0x80000000
