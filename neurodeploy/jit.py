"""numba set-up shared by every jitted module: the on-disk cache location and int32 wrap."""
from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path

import numba
import numba.core.event
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


def _jitted_sources() -> list[Path]:
    """Every source file whose code ends up in a cached jitted function of the package."""
    import importlib.util
    here = Path(__file__).resolve().parent
    files = [here / "jit.py", here / "variability" / "counter_rng.py",
             here / "learning" / "fixed_point.py"]   # third_factor_channels is jitted
    files += sorted((here / "neurons").glob("*.py"))
    spec = importlib.util.find_spec("neurodeploy.compilers")
    for loc in (spec.submodule_search_locations or []) if spec else []:
        files += sorted((Path(loc) / "cpu").glob("*.py"))
    return files


def _source_tag() -> str:
    """Hash of the jitted sources. numba keys a cached function by its own file only, so an
    edit of a function it inlines from another module (a neuron step, the random function)
    would leave a stale cache entry; one cache folder per source version avoids that."""
    h = hashlib.blake2b(digest_size=6)
    for f in _jitted_sources():
        try:
            h.update(f.read_bytes())
        except OSError:
            continue
    return h.hexdigest()


def _configure_cache() -> bool:
    """Point numba's on-disk cache at a folder of this source version.

    The base is ``NUMBA_CACHE_DIR`` when the user set it, else ``$NEURODEPLOY_CACHE_DIR/numba``,
    ``~/.cache/neurodeploy/numba`` or a temp dir (the first writable); the cache goes into
    ``<base>/<source hash>`` (:func:`_source_tag`). Returns False when nothing is writable
    (the functions are then compiled without a disk cache)."""
    candidates = []
    if os.environ.get("NUMBA_CACHE_DIR"):
        candidates.append(Path(os.environ["NUMBA_CACHE_DIR"]))
    if os.environ.get("NEURODEPLOY_CACHE_DIR"):
        candidates.append(Path(os.environ["NEURODEPLOY_CACHE_DIR"]) / "numba")
    candidates.append(Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
                      / "neurodeploy" / "numba")
    candidates.append(Path(tempfile.gettempdir()) / f"neurodeploy-numba-{os.getuid()}")
    tag = _source_tag()
    for cand in candidates:
        if _writable(cand / tag):
            numba.config.CACHE_DIR = str(cand / tag)
            return True
    return False


CACHE = _configure_cache()


class _FirstCompileNotice(numba.core.event.Listener):
    """Says on stderr, once per process, that kernels of ours are being compiled: the first
    run of a new install or version spends tens of seconds there, silent otherwise."""

    said = False

    def on_start(self, event: numba.core.event.Event) -> None:
        func = getattr(event.data.get("dispatcher"), "py_func", None)
        if self.said or not getattr(func, "__module__", "").startswith("neurodeploy"):
            return
        type(self).said = True
        where = (f"cached in {numba.config.CACHE_DIR} for later runs" if CACHE
                 else "no writable cache folder, so every run compiles them")
        print("neurodeploy: compiling the cpu simulator's numba kernels (first run of this "
              f"version: tens of seconds; {where})", file=sys.stderr, flush=True)

    def on_end(self, event: numba.core.event.Event) -> None:
        return None


numba.core.event.register("numba:compile", _FirstCompileNotice())


@njit(cache=CACHE, inline="always")
def wrap32(x):
    """Two's-complement wrap of an int64 to the int32 range (kept in int64)."""
    return ((x + 0x80000000) & 0xFFFFFFFF) - 0x80000000
