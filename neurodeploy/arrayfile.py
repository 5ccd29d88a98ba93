"""Reading user- or build-supplied ``.npz`` archives: one place that turns every way such a
file can be wrong (missing, a directory or device, a lone ``.npy``, not a zip, corrupt or
truncated members, object arrays that need pickle) into one NeurodeployError line.

Each member's ``.npy`` header is read before its data, so object dtypes are refused without
unpickling, a header claiming more data than its member holds is refused, and the bytes an
archive may inflate to are capped (``max_bytes``, by default :func:`limits.memory_budget`).
"""
from __future__ import annotations

import stat
import zipfile
import zlib
from pathlib import Path

import numpy as np

from . import limits
from .errors import NeurodeployError

NPY_MAGIC = b"\x93NUMPY"
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError, KeyError,
                NotImplementedError)


def _refuse(error: type[NeurodeployError], path: Path, message: str) -> NeurodeployError:
    return error(message, file=path)


def _check_file(path: Path, error: type[NeurodeployError], hint: str) -> None:
    """The path names an existing regular file that is a zip archive."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise _refuse(error, path, "file not found") from None
    except OSError as exc:
        raise _refuse(error, path, f"cannot open: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file (a device or pipe)"
        raise _refuse(error, path, f"is {kind}; expected an .npz archive written by np.savez")
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(NPY_MAGIC))
    except OSError as exc:
        raise _refuse(error, path, f"cannot read: {exc.strerror}") from None
    if head == NPY_MAGIC:
        raise _refuse(error, path, "is a single-array .npy file; an .npz archive is expected: "
                      "np.savez(path, **{'<name>': array})")
    if not head:
        raise _refuse(error, path, "is empty; expected an .npz archive written by np.savez")
    if not zipfile.is_zipfile(path):
        raise _refuse(error, path, f"is not an .npz archive (not a zip file, or truncated); "
                      f"{hint}")


def _member_header(zf: zipfile.ZipFile, member: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from a member's .npy header, without reading its data."""
    with zf.open(member) as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
    return tuple(int(s) for s in shape), np.dtype(dtype)


def npz_shapes(path: str | Path, *, error: type[NeurodeployError] = NeurodeployError,
               hint: str = "write it with np.savez") -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Shape and dtype of every array of an ``.npz`` from the headers alone (no data read),
    so a caller can check shapes before :func:`read_npz` allocates anything."""
    p = Path(path)
    _check_file(p, error, hint)
    out = {}
    try:
        with zipfile.ZipFile(p) as zf:
            for member in zf.namelist():
                if member.endswith(".npy"):
                    out[member[:-4]] = _member_header(zf, member)
    except _READ_ERRORS as exc:
        raise _refuse(error, p, f"cannot read the .npz ({type(exc).__name__}: {exc}); the "
                      f"file is corrupt or truncated, {hint}") from None
    return out


def read_npz(path: str | Path, *, error: type[NeurodeployError] = NeurodeployError,
             keys: list[str] | None = None, max_bytes: int | None = None,
             hint: str = "write it with np.savez") -> dict[str, np.ndarray]:
    """Arrays of an ``.npz`` (all, or only ``keys``), loaded without pickles.

    Raises ``error`` (a NeurodeployError subclass) naming the file for anything wrong with
    it, ending in ``hint`` when the file is damaged; a key in ``keys`` that the archive
    lacks is simply absent from the result.
    """
    p = Path(path)
    _check_file(p, error, hint)
    source = "given by the caller"
    if max_bytes is None:
        max_bytes, source = limits.memory_budget()
    out: dict[str, np.ndarray] = {}
    name = "?"
    try:
        with zipfile.ZipFile(p) as zf:
            members = {m[:-4]: m for m in zf.namelist() if m.endswith(".npy")}
            wanted = list(members) if keys is None else [k for k in keys if k in members]
            total = 0
            for name in wanted:
                shape, dtype = _member_header(zf, members[name])
                if dtype.hasobject:
                    raise _refuse(error, p, f"array '{name}' has dtype {dtype} (Python objects, "
                                  "which need pickle and are never loaded); save numeric arrays")
                nbytes = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
                if nbytes > zf.getinfo(members[name]).file_size:
                    raise _refuse(error, p, f"array '{name}' claims shape {shape} but its data "
                                  f"is shorter; the file is corrupt or truncated, {hint}")
                total += nbytes
                if total > max_bytes:
                    raise _refuse(error, p, f"arrays would take {limits.format_bytes(total)} "
                                  f"of memory but the limit is {limits.format_bytes(max_bytes)} "
                                  f"({source}); refusing to load")
        with np.load(p, allow_pickle=False) as data:
            for name in wanted:
                out[name] = data[name]
    except NeurodeployError:
        raise
    except _READ_ERRORS as exc:
        what = f"array '{name}' of " if name != "?" else ""
        raise _refuse(error, p, f"cannot read {what}the .npz ({type(exc).__name__}: {exc}); the "
                      f"file is corrupt or truncated, {hint}") from None
    return out


def write_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    """An uncompressed ``.npz`` (as ``np.savez``) written through handles closed here: a
    write error (a full disk) raises once as OSError, never again later as "Exception
    ignored in ZipFile.__del__" (NumPy 1.26's savez leaves its ZipFile open on errors)."""
    fh = open(path, "wb")
    zf = None
    try:
        zf = zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED)
        for key, value in arrays.items():
            with zf.open(f"{key}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)
        zf.close()
        fh.close()
    except BaseException:
        for handle in (zf, fh):
            try:
                if handle is not None:
                    handle.close()
            except (OSError, ValueError):
                pass
        raise
