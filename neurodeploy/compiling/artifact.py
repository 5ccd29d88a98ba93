"""The build directory: the contract between ``compile`` and every backend.

Layout::

    build/<name>/manifest.json      what to build (deterministic JSON, byte-identical per input)
    build/<name>/weights/<proj>.npz  weights [post, pre] (dense) or weights/rows/cols (coo), delays
    build/<name>/params/<pop>.npz    per-neuron parameters that are not scalars
    build/<name>/report.json|.txt    resources and quantization figures

It is written to a temporary sibling directory and renamed into place, so a failed
compile never leaves a half-written build. Without ``force`` the rename cannot replace an
existing directory (``rename(2)`` onto a non-empty directory fails), so of two compiles to
the same path exactly one wins. ``force`` replaces only a directory that is recognisably a
neurodeploy build (:func:`build_refusal`), never the current directory or one of its parents.

``manifest.json`` carries ``manifest_sha256``, the sha256 of its own canonical JSON without
that key; arrays are covered by their own hashes in the manifest, so editing any number of
a build is detected when it is opened.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import sealed
from ..arrayfile import read_npz, write_npz
from ..errors import ArtifactError, CompileError
from ..outputs import check_writable, write_error
from ..signals import deferred
from .manifest_check import check_manifest

FORMAT = "neurodeploy-build"
FORMAT_VERSION = 1
INTEGRITY_KEY = "manifest_sha256"
FILES = ("manifest.json", "report.json", "report.txt")


def array_hash(array: np.ndarray) -> str:
    """sha256 over dtype, shape and bytes: stable across runs, unlike .npz file bytes."""
    h = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


def dumps_manifest(manifest: dict) -> str:
    """Canonical JSON (sorted keys, fixed indentation) so equal builds are equal bytes."""
    return sealed.canonical(manifest)


def manifest_digest(manifest: dict) -> str:
    """sha256 of the canonical manifest without its integrity key."""
    return sealed.digest(manifest, INTEGRITY_KEY)


def seal_manifest(manifest: dict) -> dict:
    """A copy of ``manifest`` carrying its own digest (what ``write_build`` stores)."""
    return {**manifest, INTEGRITY_KEY: manifest_digest(manifest)}


def _array_refs(node: Any) -> list[str]:
    """Every ``file`` named by an array reference anywhere in a manifest."""
    if isinstance(node, dict):
        if isinstance(node.get("file"), str) and "sha256" in node:
            return [node["file"]]
        return [f for v in node.values() for f in _array_refs(v)]
    if isinstance(node, list):
        return [f for v in node for f in _array_refs(v)]
    return []


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


TRAINING_DIR = "training"      # what `neurodeploy train` adds to a build: curves, trained YAML


def build_refusal(path: Path) -> str | None:
    """Why ``path`` is not a neurodeploy build that --force may replace (None if it is one).

    A build is a directory holding our manifest (right format name) plus nothing but the
    report files and the array files its manifest references; anything else means the user
    keeps other data there.
    """
    if path.is_symlink():
        return "is a symbolic link"
    manifest_file = path / "manifest.json"
    if not manifest_file.is_file() or manifest_file.is_symlink():
        return "has no manifest.json"
    try:
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"has a manifest.json that is not readable JSON ({exc})"
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        return f"has a manifest.json whose format is not {FORMAT!r}"
    allowed = set(FILES) | set(_array_refs(manifest))
    foreign = []
    for root, dirs, files in os.walk(path):
        rel_root = Path(root).relative_to(path)
        for name in dirs + files:
            rel = (rel_root / name).as_posix()
            if (path / rel).is_symlink():
                foreign.append(rel)
            elif name in files and rel not in allowed and not rel.startswith(TRAINING_DIR + "/"):
                foreign.append(rel)
    if foreign:
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        return f"contains files that are not part of a neurodeploy build ({foreign[0]}{more})"
    return None


def _cwd_inside(target: Path) -> bool:
    cwd = Path(os.path.realpath(os.getcwd()))
    real = Path(os.path.realpath(target))
    return cwd == real or real in cwd.parents


def check_output_dir(out: str | Path, force: bool = False) -> None:
    """Raise CompileError unless a build may be written to ``out`` (call before compiling)."""
    out = Path(out)
    target = Path(os.path.abspath(out))
    if os.path.lexists(target):
        if _cwd_inside(target):
            raise CompileError("is the current directory or one of its parents; refusing to "
                               "replace it, choose another -o", file=out)
        if target.is_dir() and not target.is_symlink() and not any(target.iterdir()):
            return                       # an empty directory: nothing to lose
        if not target.is_dir() and not target.is_symlink():
            raise CompileError("exists and is not a directory; refusing to replace it, choose "
                               "another -o", file=out)
        reason = build_refusal(target)
        if not force and not reason:            # advise --force only where it would work
            raise CompileError("output directory already exists; pass --force to replace "
                               "it", file=out)
        if reason:
            raise CompileError(f"exists and is not a neurodeploy build ({reason}); --force only "
                               "replaces builds, choose another -o", file=out)
    check_writable(out, directory=True)


def _place(tmp: Path, target: Path, out: Path, force: bool) -> None:
    """Rename the finished build into place; without ``force`` never over an existing one."""
    for _ in range(10):
        try:
            with deferred():
                os.rename(tmp, target)
            return
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
                raise
        if not force:
            raise CompileError("output directory was created by someone else while compiling "
                               "(another compile to the same -o?); nothing was replaced, pass "
                               "--force to replace it", file=out)
        check_output_dir(out, force=True)        # still a build of ours, still not the cwd
        trash = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old",
                                      dir=target.parent))
        try:
            with deferred():
                try:
                    os.rename(target, trash / "build")
                except FileNotFoundError:
                    continue                     # another compile moved it away: retry
                try:
                    os.rename(tmp, target)
                    return
                except OSError as exc:
                    if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                        os.rename(trash / "build", target)
                        raise
        finally:
            shutil.rmtree(trash, ignore_errors=True)
    raise CompileError("output directory keeps being replaced by other compiles; try again",
                       file=out)


def write_build(out: Path, manifest: dict, arrays: ArrayStore, report: dict, report_txt: str,
                force: bool = False) -> Path:
    """Write a build directory atomically; ``force`` replaces an existing build (only)."""
    out = Path(out)
    check_output_dir(out, force)
    target = Path(os.path.abspath(out))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    except OSError as exc:
        raise write_error(out, exc) from None
    try:
        for relpath, content in sorted(arrays.files.items()):
            (tmp / relpath).parent.mkdir(parents=True, exist_ok=True)
            write_npz(tmp / relpath, content)
        (tmp / "manifest.json").write_text(dumps_manifest(seal_manifest(manifest)),
                                           encoding="utf-8")
        (tmp / "report.json").write_text(json.dumps(report, sort_keys=True, indent=2) + "\n",
                                         encoding="utf-8")
        (tmp / "report.txt").write_text(report_txt, encoding="utf-8")
        _place(tmp, target, out, force)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise write_error(out, exc) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


class Build:
    """A compiled build directory opened for reading by a backend.

    Opening checks the format, the manifest's own digest and its structure; arrays are
    read on demand, confined to the build directory and checked against their hashes.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        manifest_file = self.path / "manifest.json"
        if not self.path.is_dir():
            raise ArtifactError("build directory not found; run `neurodeploy compile` first",
                                file=self.path)
        if not manifest_file.is_file():
            raise ArtifactError("not a build directory (no manifest.json); run "
                                "`neurodeploy compile` first", file=self.path)
        try:
            self.manifest: dict = json.loads(manifest_file.read_text(encoding="utf-8"))
        except (ValueError, OSError) as exc:
            raise ArtifactError(f"manifest.json is not readable JSON ({exc}); recompile",
                                file=manifest_file) from None
        if not isinstance(self.manifest, dict) or self.manifest.get("format") != FORMAT:
            fmt = self.manifest.get("format") if isinstance(self.manifest, dict) else None
            raise ArtifactError(f"format is {fmt!r}, expected {FORMAT!r}",
                                file=manifest_file, path=("format",))
        if self.manifest.get("format_version") != FORMAT_VERSION:
            raise ArtifactError(f"format_version {self.manifest.get('format_version')} is not "
                                f"supported (this neurodeploy reads {FORMAT_VERSION}); recompile",
                                file=manifest_file, path=("format_version",))
        stored = self.manifest.get(INTEGRITY_KEY)
        if not isinstance(stored, str):
            raise ArtifactError("manifest.json has no integrity digest (written by an older "
                                "neurodeploy, or edited); recompile", file=manifest_file,
                                path=(INTEGRITY_KEY,))
        if stored != manifest_digest(self.manifest):
            raise ArtifactError("manifest.json does not match its integrity digest: the build "
                                "was edited after compile; recompile instead of editing it",
                                file=manifest_file)
        check_manifest(self.manifest, manifest_file)
        self._root = Path(os.path.realpath(self.path))
        self._cache: dict[str, Any] = {}

    @property
    def numerics(self) -> str:
        return self.manifest["numerics"]

    def _file(self, rel: str) -> Path:
        """The real path of a referenced file, which must lie inside the build directory."""
        real = Path(os.path.realpath(self._root / rel))
        if self._root not in real.parents:
            raise ArtifactError(f"array file {rel} resolves outside the build directory "
                                f"({real}); refusing to read it, recompile", file=self.path)
        return real

    def array(self, ref: dict) -> np.ndarray:
        """Load an array referenced from the manifest, checking its hash."""
        if ref["file"] not in self._cache:
            file = self._file(ref["file"])
            if not os.path.lexists(file):
                raise ArtifactError(f"missing {ref['file']}; the build is incomplete, recompile",
                                    file=self.path)
            self._cache[ref["file"]] = read_npz(file, error=ArtifactError,
                                                hint="recompile the build")
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
