"""Simulation results: one array per monitor plus run metadata, saved as a plain .npz."""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neurodeploy.errors import BackendError

META_KEY = "__meta__"


@dataclass
class SimResult:
    """Monitored arrays named ``<population>.<var>``: ``[steps, size]`` for one instance,
    ``[batch, steps, size]`` for a batch. Spikes are 0/1 integers."""

    data: dict[str, np.ndarray]
    meta: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> np.ndarray:
        return self.data[key]

    def save(self, path: str | Path) -> Path:
        """Write atomically (temp file, then rename); metadata as a JSON string array."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".npz", dir=path.parent)
        os.close(fd)
        try:
            np.savez(tmp, **self.data, **{META_KEY: np.array(json.dumps(self.meta, sort_keys=True))})
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def load(cls, path: str | Path) -> "SimResult":
        """Read a result written by :meth:`save`."""
        p = Path(path)
        if not p.exists():
            raise BackendError("result file not found", file=p)
        with np.load(p, allow_pickle=False) as npz:
            data = {k: npz[k] for k in npz.files if k != META_KEY}
            meta = json.loads(str(npz[META_KEY])) if META_KEY in npz.files else {}
        return cls(data=data, meta=meta)
