"""Output paths, checked before any work starts: each one writable (not under a file, not on
a read-only file system, not an existing directory), none the same as another output, and
none overwriting an input (the ``--input`` file, anything inside the build directory).

A long run must not end in "cannot write" or overwrite its own result with a plot, so the
CLI calls :func:`check_outputs` first; :func:`write_error` turns an OSError that still
happens while writing (disk full, a race) into the same one-line user error.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from .errors import NeurodeployError


class OutputError(NeurodeployError):
    """An output path cannot be written or collides with another path."""


def _abs(path: str | Path) -> Path:
    """Absolute path with symlinks of the existing part resolved (so aliases compare equal)."""
    return Path(os.path.realpath(os.path.abspath(path)))


def _nearest_existing(path: Path) -> Path:
    anc = path
    while not os.path.lexists(anc):
        anc = anc.parent
    return anc


def check_writable(path: str | Path, *, directory: bool = False) -> None:
    """Raise OutputError unless ``path`` (a file, or a directory when ``directory``) could be
    created or replaced by this process."""
    p = Path(os.path.abspath(path))
    if os.path.lexists(p) and not directory and p.is_dir():
        raise OutputError("is a directory; give a file name", file=path)
    anc = _nearest_existing(p.parent)
    if not anc.is_dir():
        raise OutputError(f"cannot create it: {anc} is a file, not a directory", file=path)
    try:
        read_only = bool(os.statvfs(anc).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    if read_only:
        raise OutputError(f"cannot write it: {anc} is on a read-only file system", file=path)
    if not os.access(anc, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write it: no write permission in {anc}", file=path)


def check_outputs(outputs: Mapping[str, str | Path | None]
                  | Iterable[tuple[str, str | Path | None]],
                  inputs: Mapping[str, str | Path | None] | None = None,
                  protected_dirs: Mapping[str, str | Path | None] | None = None) -> None:
    """Every output (option name -> path, or such pairs) writable, distinct, and clear of
    the inputs.

    ``inputs`` are files read by the command; ``protected_dirs`` are directories (the build)
    that no output may be written into.
    """
    seen: dict[Path, str] = {}
    pairs = outputs.items() if isinstance(outputs, Mapping) else outputs
    for option, path in pairs:
        if path is None:
            continue
        check_writable(path)
        target = _abs(path)
        if target in seen:
            raise OutputError(f"{seen[target]} and {option} both write {path}; give them "
                              "different paths (the second would overwrite the first)")
        seen[target] = option
        for in_option, in_path in (inputs or {}).items():
            if in_path is not None and _abs(in_path) == target:
                raise OutputError(f"{option} would overwrite the {in_option} file; choose "
                                  "another output path", file=path)
        for in_option, folder in (protected_dirs or {}).items():
            if folder is not None and (_abs(folder) == target or _abs(folder) in target.parents):
                raise OutputError(f"{option} points inside the {in_option} directory "
                                  f"{folder}, which compile replaces; write results elsewhere",
                                  file=path)


def write_error(path: str | Path, exc: OSError) -> OutputError:
    """The user error for an OSError raised while writing ``path``."""
    reason = exc.strerror or str(exc)
    return OutputError(f"cannot write it: {reason}", file=path)
