"""Read a weight array from a ``.npy`` or ``.npz`` file, checking its header before its data.

NumPy allocates the whole array a header describes before it reads the data, so a 7 MB
``.npz`` whose member inflates to 7 GB, or a ``.npy`` whose header claims a larger shape
than the file holds, would cost the memory first and fail later. Here the header is read
alone (``np.lib.format.read_magic`` / ``read_array_header_*``): dtype, shape, the bytes it
implies and the bytes the file actually holds are checked, and only then is the array read.
"""
from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import IO

import numpy as np

from .. import limits
from ..errors import did_you_mean

MAX_HEADER_BYTES = 10_000


class WeightFileError(Exception):
    """A weight file is unusable; ``message`` may contain ``{file}`` for the file's name."""

    def __init__(self, message: str, about_key: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.about_key = about_key


def outside_folder(base_dir: Path, name: str) -> str | None:
    """Why weight file ``name`` may not be read (absolute, or resolving outside the
    network's folder after symlinks), or None: a network never reads, and copies into a
    build, a file from elsewhere."""
    import os
    if Path(name).is_absolute():
        return (f"'{name}' is an absolute path; a weight file must lie in the network's "
                "folder: copy it there and give a relative path")
    base = Path(os.path.realpath(base_dir))
    real = Path(os.path.realpath(base / name))
    if base != real and base not in real.parents:
        return (f"'{name}' resolves outside the network's folder ({base}); a weight file "
                "must lie in that folder or below it: copy it there")
    return None


def _no_bytes(exc: BaseException) -> str:
    """An exception's message without the file content NumPy quotes (``got b'...'``), so an
    error never echoes the bytes of a file it could not read."""
    text = str(exc)
    if "magic string is not correct" in text:
        return "it does not start with a .npy header (not a NumPy file)"
    return text if "b'" not in text and 'b"' not in text else type(exc).__name__


def _header(fh: IO[bytes]) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, header length in bytes) of the ``.npy`` stream at its start."""
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(fh, max_header_size=MAX_HEADER_BYTES)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(fh, max_header_size=MAX_HEADER_BYTES)
        else:
            raise WeightFileError(f"cannot read {{file}}: .npy format version {version} is not "
                                  "supported; save it with np.save")
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise WeightFileError(f"cannot read {{file}} as NumPy data without pickles: "
                              f"{_no_bytes(exc)}") from None
    return tuple(int(n) for n in shape), np.dtype(dtype), fh.tell()


def _check_header(shape: tuple[int, ...], dtype: np.dtype, data_bytes: int,
                  expected: tuple[int, ...]) -> None:
    """Refuse a header that cannot hold ``expected`` weights before any data is read."""
    if dtype.hasobject:
        raise WeightFileError("{file} holds Python objects (dtype object), which are only "
                              "readable with pickles; save numeric weights without pickles "
                              "(np.save(path, array.astype(float)))")
    if not np.issubdtype(dtype, np.number) or np.issubdtype(dtype, np.complexfloating):
        raise WeightFileError(f"weights must be real numbers, got dtype {dtype}")
    if shape != expected:
        hint = "; transpose it (layout is [post, pre])" if shape == expected[::-1] else ""
        layout = "[size]" if len(expected) == 1 else "[post, pre]"
        raise WeightFileError(f"shape {shape} does not match {layout} = {expected}{hint}")
    claimed = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if claimed > data_bytes:
        raise WeightFileError(f"the header of {{file}} claims shape {shape} of {dtype} "
                              f"({claimed:,} bytes) but the file holds only {data_bytes:,} "
                              "bytes of data; it is truncated or its header is wrong, save it again")
    as_float = int(np.prod(shape, dtype=object)) * 8
    limits.check_memory(claimed + as_float, f"{{file}} ({shape} of {dtype})",
                        "use smaller populations or a sparser projection", WeightFileError)


def _read_npy(file: Path, expected: tuple[int, ...]) -> np.ndarray:
    with open(file, "rb") as fh:
        shape, dtype, offset = _header(fh)
        _check_header(shape, dtype, file.stat().st_size - offset, expected)
    return np.load(file, allow_pickle=False)


def _read_npz(file: Path, key: str | None, expected: tuple[int, ...]) -> np.ndarray:
    with zipfile.ZipFile(file) as zf:
        members = {n[:-4]: n for n in zf.namelist() if n.endswith(".npy")}
        keys = list(members)
        if not keys:
            raise WeightFileError("{file} holds no arrays; save the weights into it")
        key = key or (keys[0] if len(keys) == 1 else None)
        if key is None:
            raise WeightFileError(f"{{file}} holds {', '.join(keys)}; set key: to choose one",
                                  about_key=True)
        if key not in members:
            raise WeightFileError(f"no array '{key}' in {{file}}{did_you_mean(key, keys)}; it "
                                  f"holds {', '.join(keys)}", about_key=True)
        info = zf.getinfo(members[key])
        with zf.open(info) as fh:
            shape, dtype, offset = _header(fh)
        _check_header(shape, dtype, info.file_size - offset, expected)
    with np.load(file, allow_pickle=False) as npz:
        return npz[key]


def read_weight_file(file: Path, key: str | None, expected: tuple[int, ...]) -> np.ndarray:
    """The array in ``file`` (``key`` picks an ``.npz`` member), checked against ``expected``.

    Raises :class:`WeightFileError` for anything unusable, before allocating the array.
    """
    try:
        if file.suffix == ".npz":
            return _read_npz(file, key, expected)
        if key is not None:
            raise WeightFileError("{file} is a .npy file with one array; key only applies to "
                                  ".npz files, remove it", about_key=True)
        return _read_npy(file, expected)
    except WeightFileError:
        raise
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as exc:
        raise WeightFileError(f"cannot read {{file}} as NumPy data without pickles: "
                              f"{type(exc).__name__}: {_no_bytes(exc)}") from None
