"""Durable per-chip results: one JSON line per chip, appended and fsync'ed as chips finish.

``results.jsonl`` starts with a header line naming the run's settings key; every other line
is one finished chip. A process killed mid-write leaves at most one partial last line, which
:meth:`ResultStore.open` cuts off before appending again, so no chip is half-recorded and
``--resume`` recomputes exactly the chips without a complete line.

``--resume`` trusts these lines (the yield is counted from them), so every line is sealed as
the build manifest is (:mod:`neurodeploy.sealed`, key ``line_sha256``): a complete line that
is not JSON, not sealed or edited (``"pass": false`` turned to true) is refused in one line.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

from neurodeploy.errors import NeurodeployError
from neurodeploy.sealed import is_sealed, seal

RESULTS = "results.jsonl"
SEAL_KEY = "line_sha256"
FIX = "start over with --force (or use another -o)"


class StoreError(NeurodeployError):
    """The output folder holds results that cannot be continued."""


def _line(record: dict) -> bytes:
    """One sealed JSON line."""
    return json.dumps(seal(record, SEAL_KEY, allow_nan=True), sort_keys=True).encode() + b"\n"


def _complete_lines(path: Path) -> tuple[list[dict], int]:
    """Parsed, seal-checked complete lines and the byte length they occupy (a torn tail,
    the only thing a killed writer leaves, is dropped; any other damage is refused)."""
    data = path.read_bytes()
    records, good = [], 0
    pos = 0
    while pos < len(data):
        end = data.find(b"\n", pos)
        if end < 0:
            break                                   # partial last line: not written fully
        number = len(records) + 1
        try:
            record = json.loads(data[pos:end])
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise StoreError(f"line {number} is not a JSON record (damaged or edited); {FIX}",
                             file=path) from None
        if not is_sealed(record, SEAL_KEY, allow_nan=True):
            raise StoreError(f"line {number} does not match its integrity digest "
                             f"({SEAL_KEY}): the results were edited after they were "
                             f"written; {FIX}", file=path)
        if number > 1 and not (record.get("kind") == "chip" and isinstance(
                record.get("point"), int) and isinstance(record.get("chip"), int)):
            raise StoreError(f"line {number} is not a chip record; {FIX}", file=path)
        records.append(record)
        pos = end + 1
        good = pos
    return records, good


class ResultStore:
    """Append-only JSON-lines file of one validation run in ``folder``."""

    def __init__(self, folder: str | Path, key: str) -> None:
        self.folder = Path(folder)
        self.path = self.folder / RESULTS
        self.key = key
        self._fh: Any = None
        self._lockfh: Any = None

    def _lock(self) -> None:
        """One writer per folder: a second validate on it fails instead of interleaving."""
        import fcntl
        self._lockfh = open(self.folder / ".lock", "a+b")
        try:
            fcntl.flock(self._lockfh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lockfh.close()
            self._lockfh = None
            raise StoreError("another validate run is writing to this folder; wait for it or "
                             "use another -o", file=self.folder) from None

    def open(self, resume: bool, force: bool, header: dict) -> list[dict]:
        """Start (or continue, with ``resume``) the file; returns the finished chip records."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock()
        try:
            return self._open(resume, force, header)
        except BaseException:
            self.close()
            raise

    def _open(self, resume: bool, force: bool, header: dict) -> list[dict]:
        records: list[dict] = []
        if self.path.exists() and not force:
            lines, good = _complete_lines(self.path)
            if not resume:
                if len(lines) > 1:
                    raise StoreError(f"{self.path} already holds results of "
                                     f"{max(0, len(lines) - 1)} chips; pass --resume to "
                                     "continue them or --force to start over", file=self.path)
            else:
                if lines and (lines[0].get("kind") != "header" or lines[0].get("key") != self.key):
                    raise StoreError("these results were made with other settings (build, "
                                     "spec, sweep, seed, backend, steps or input differ); "
                                     "resume with the same arguments, or use another -o",
                                     file=self.path)
                records = [{k: v for k, v in r.items() if k != SEAL_KEY} for r in lines[1:]]
                with open(self.path, "r+b") as fh:     # drop a torn last line
                    fh.truncate(good)
                    fh.flush()
                    os.fsync(fh.fileno())
                if lines:
                    self._fh = open(self.path, "ab")
                    return records
        tmp = self.path.with_name(f".{RESULTS}.tmp")
        with open(tmp, "wb") as fh:
            fh.write(_line({"kind": "header", "key": self.key, **header}))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        self._fsync_dir()
        self._fh = open(self.path, "ab")
        return records

    def append(self, records: Iterable[dict]) -> None:
        """Write complete lines and fsync them before returning."""
        blob = b"".join(_line({"kind": "chip", **r}) for r in records)
        if blob:
            self._fh.write(blob)
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if getattr(self, "_lockfh", None) is not None:
            self._lockfh.close()            # releases the lock
            self._lockfh = None

    def _fsync_dir(self) -> None:
        try:
            fd = os.open(self.folder, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
