"""The build directory: the contract between ``compile`` and every backend.

Layout::

    build/<name>/manifest.json      what to build (deterministic JSON, byte-identical per input)
    build/<name>/weights/<proj>.npz  weights [post, pre] (dense) or weights/rows/cols (coo), delays
    build/<name>/params/<pop>.npz    per-neuron parameters that are not scalars
    build/<name>/report.json|.txt    resources and quantization figures

It is written to a temporary sibling directory and renamed into place, so a failed
compile never leaves a half-written build.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ArtifactError, CompileError

FORMAT = "neurodeploy-build"
FORMAT_VERSION = 1


def array_hash(array: np.ndarray) -> str:
    """sha256 over dtype, shape and bytes: stable across runs, unlike .npz file bytes."""
    h = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


def dumps_manifest(manifest: dict) -> str:
    """Canonical JSON (sorted keys, fixed indentation) so equal builds are equal bytes."""
    return json.dumps(manifest, sort_keys=True, indent=2, allow_nan=False) + "\n"


@dataclass
class ArrayStore:
    """Arrays waiting to be written, grouped by .npz file."""

    files: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    def put(self, relpath: str, key: str, array: np.ndarray) -> dict[str, str]:
        """Add an array and return the manifest reference to it."""
        self.files.setdefault(relpath, {})[key] = np.ascontiguousarray(array)
        return {"file": relpath, "key": key, "sha256": array_hash(array)}

    def scalar_or_array(self, relpath: str, key: str, values: Any, dtype: Any) -> Any:
        """A JSON scalar when all values are equal, else a reference to a stored array."""
        arr = np.asarray(values, dtype=dtype)
        if arr.ndim == 0 or (arr.size and np.all(arr == arr.flat[0])):
            scalar = arr.flat[0] if arr.size else 0
            return scalar.item() if hasattr(scalar, "item") else scalar
        return self.put(relpath, key, arr)


def write_build(out: Path, manifest: dict, arrays: ArrayStore, report: dict, report_txt: str,
                force: bool = False) -> Path:
    """Write a build directory atomically; ``force`` replaces an existing one."""
    out = Path(out)
    if out.exists() and not force:
        raise CompileError(f"output directory {out} already exists; pass --force to replace it")
    if out.exists() and not (out / "manifest.json").exists():
        raise CompileError(f"{out} exists and is not a neurodeploy build; refusing to replace "
                           "it, choose another -o")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        for relpath, content in sorted(arrays.files.items()):
            (tmp / relpath).parent.mkdir(parents=True, exist_ok=True)
            np.savez(tmp / relpath, **content)
        (tmp / "manifest.json").write_text(dumps_manifest(manifest), encoding="utf-8")
        (tmp / "report.json").write_text(json.dumps(report, sort_keys=True, indent=2) + "\n",
                                         encoding="utf-8")
        (tmp / "report.txt").write_text(report_txt, encoding="utf-8")
        if out.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            os.replace(out, trash / "build")
            os.replace(tmp, out)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


class Build:
    """A compiled build directory opened for reading by a backend."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        manifest_file = self.path / "manifest.json"
        if not self.path.is_dir():
            raise ArtifactError("build directory not found; run `neurodeploy compile` first",
                                file=self.path)
        if not manifest_file.exists():
            raise ArtifactError("not a build directory (no manifest.json); run "
                                "`neurodeploy compile` first", file=self.path)
        try:
            self.manifest: dict = json.loads(manifest_file.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ArtifactError(f"manifest.json is not valid JSON ({exc}); recompile",
                                file=manifest_file) from None
        if self.manifest.get("format") != FORMAT:
            raise ArtifactError(f"format is {self.manifest.get('format')!r}, expected {FORMAT!r}",
                                file=manifest_file, path=("format",))
        if self.manifest.get("format_version") != FORMAT_VERSION:
            raise ArtifactError(f"format_version {self.manifest.get('format_version')} is not "
                                f"supported (this neurodeploy reads {FORMAT_VERSION}); recompile",
                                file=manifest_file, path=("format_version",))
        self._cache: dict[str, Any] = {}

    @property
    def numerics(self) -> str:
        return self.manifest["numerics"]

    def array(self, ref: dict) -> np.ndarray:
        """Load an array referenced from the manifest, checking its hash."""
        file = self.path / ref["file"]
        if ref["file"] not in self._cache:
            if not file.exists():
                raise ArtifactError(f"missing {ref['file']}; the build is incomplete, recompile",
                                    file=self.path)
            with np.load(file, allow_pickle=False) as data:
                self._cache[ref["file"]] = {k: data[k] for k in data.files}
        content = self._cache[ref["file"]]
        if ref["key"] not in content:
            raise ArtifactError(f"{ref['file']} has no array '{ref['key']}'; recompile",
                                file=self.path)
        arr = content[ref["key"]]
        if array_hash(arr) != ref["sha256"]:
            raise ArtifactError(f"{ref['file']}:{ref['key']} does not match the manifest's "
                                "hash; the build was modified, recompile", file=self.path)
        return arr

    def value(self, entry: Any) -> Any:
        """A manifest parameter: a scalar as is, or the array it references."""
        if isinstance(entry, dict) and "file" in entry:
            return self.array(entry)
        return entry
