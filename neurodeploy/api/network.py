"""A network as Python values: the IR's fields (as in YAML), validated with the same errors.

Weights may be NumPy arrays (``[post, pre]``, or ``[size]`` for one_to_one) instead of
``{file: ...}``; they are checked like weight files (shape, finite values) and kept in memory.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import IRError

ARRAY_MARK = "<array>"     # the `file` of a weight given as an array (never read from disk)
PYTHON_SOURCE = ""         # errors of Python-built networks name no file, only the field path


def _plain(value: Any) -> Any:
    """NumPy arrays and scalars, tuples -> lists, floats and ints (what YAML would give)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _split_arrays(data: dict) -> tuple[dict, dict[str, np.ndarray]]:
    """Replace array weights by a ``{file: <array>}`` mark; return (data, arrays by projection)."""
    arrays: dict[str, np.ndarray] = {}
    projections = data.get("projections")
    if isinstance(projections, dict):
        fixed = {}
        for name, proj in projections.items():
            if isinstance(proj, dict) and isinstance(proj.get("weights"), np.ndarray):
                arrays[name] = proj["weights"]
                proj = {**proj, "weights": {"file": ARRAY_MARK}}
            fixed[name] = proj
        data = {**data, "projections": fixed}
    return _plain(data), arrays


def _checker(net: Any, loaded: Any, arrays: dict[str, np.ndarray]) -> Any:
    """The loader's cross-checker, reading array weights from ``arrays`` instead of files."""
    from ..ir.load import _CrossChecker

    class _ArrayChecker(_CrossChecker):
        def _weight_file(self, path: tuple, proj: Any, n_pre: int, n_post: int) -> np.ndarray:
            name = path[1]
            if proj.weights.file != ARRAY_MARK or name not in arrays:
                return super()._weight_file(path, proj, n_pre, n_post)
            arr = arrays[name]
            if proj.connectivity not in ("dense", "one_to_one"):
                self.fail(path, "a weight array defines its own connectivity; use "
                          "connectivity: dense (zeros are absent synapses)")
            expected = (n_post,) if proj.connectivity == "one_to_one" else (n_post, n_pre)
            if arr.shape != expected:
                self.fail(path, f"array has shape {list(arr.shape)} but this projection needs "
                          f"{list(expected)} ([post, pre]; [size] for one_to_one)")
            if arr.dtype.kind not in "biuf":
                self.fail(path, f"array of dtype {arr.dtype} is not numeric; pass floats")
            if not np.all(np.isfinite(arr)):
                bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
                self.fail(path, f"array contains {bad} NaN/inf values; replace them")
            return np.array(arr, dtype=np.float64)

    return _ArrayChecker(net, loaded)


def validate_data(data: dict, base_dir: str | Path = ".", source: str = PYTHON_SOURCE) -> Any:
    """Validate IR data (YAML's fields as Python values) into the typed IR network."""
    from pydantic import ValidationError

    from ..ir.pydantic_errors import pydantic_to_error
    from ..ir.models import Network as IRNetwork
    from ..yamlio import LoadedYAML
    if not isinstance(data, dict):
        raise IRError("expected the network's fields as a mapping (neurodeploy, name, "
                      "populations, ...)", file=source or None)
    plain, arrays = _split_arrays(data)
    loaded = LoadedYAML(data=plain, file=source)
    try:
        net = IRNetwork.model_validate(plain)
    except ValidationError as exc:
        raise pydantic_to_error(exc, loaded, IRNetwork, IRError) from None
    net._base_dir = str(base_dir)
    net._file = source
    net._lines = {}
    _checker(net, loaded, arrays).check()
    return net


class Network:
    """A validated spiking network (IR v1).

    Build one from the YAML's fields as Python values, e.g.
    ``Network(name="net", populations={"in": {"kind": "spike_source", "size": 4}, ...},
    projections={"p": {"pre": "in", "post": "out", "weights": np.ones((2, 4))}})``; times
    are in ms (``dt``, ``tau_syn``, ``tau_mem``), rates in Hz, voltages in the unit of
    ``v_th``. Errors are :class:`~neurodeploy.IRError` with the same message and field path
    as the YAML loader. ``neurodeploy`` (the IR version) defaults to 1.
    """

    def __init__(self, name: str, populations: dict, **fields: Any) -> None:
        """Validate ``name``, ``populations`` and the other IR fields (seed, dt in ms,
        projections, plasticity, task, noise, variability, monitors, run)."""
        base_dir = fields.pop("base_dir", ".")
        data = {"neurodeploy": fields.pop("neurodeploy", 1), "name": name,
                "populations": populations, **fields}
        self._ir = validate_data(data, base_dir)

    @classmethod
    def _wrap(cls, ir: Any) -> "Network":
        out = cls.__new__(cls)
        out._ir = ir
        return out

    @classmethod
    def from_dict(cls, data: dict, base_dir: str | Path = ".") -> "Network":
        """A network from a mapping with the YAML's fields (weight files relative to
        ``base_dir``; weights may be arrays)."""
        return cls._wrap(validate_data(data, base_dir))

    @classmethod
    def from_yaml(cls, text: str, base_dir: str | Path = ".") -> "Network":
        """A network from YAML text (weight files relative to ``base_dir``)."""
        from ..ir import parse_network
        return cls._wrap(parse_network(text, "<yaml>", base_dir=base_dir))

    @classmethod
    def load(cls, path: str | Path) -> "Network":
        """A network from a YAML file, exactly as ``neurodeploy check`` reads it."""
        from ..ir import load_network
        return cls._wrap(load_network(path))

    @staticmethod
    def schema() -> dict:
        """The JSON Schema of the network YAML (what ``neurodeploy schema`` prints)."""
        from ..ir import network_schema
        return network_schema()

    @property
    def ir(self) -> Any:
        """The typed IR (a pydantic model, read-only by convention)."""
        return self._ir

    @property
    def name(self) -> str:
        """The network's name."""
        return self._ir.name

    @property
    def dt(self) -> float:
        """Time step in ms."""
        return float(self._ir.dt)

    @property
    def populations(self) -> dict[str, int]:
        """Population name -> size (neurons)."""
        return {n: p.size for n, p in self._ir.populations.items()}

    def to_dict(self) -> dict:
        """Every field as plain Python values; weights read from files become arrays, so
        ``Network.from_dict(net.to_dict())`` needs no file."""
        from ..ir.load import weight_arrays
        doc = self._ir.model_dump(mode="json", exclude_none=True)
        for name, arr in weight_arrays(self._ir).items():
            doc["projections"][name]["weights"] = np.array(arr)
        return doc

    def replace(self, **fields: Any) -> "Network":
        """A new network with top-level fields replaced (e.g. ``run={"steps": 50}``),
        validated again."""
        return Network.from_dict({**self.to_dict(), **fields}, self._ir._base_dir)

    def describe(self) -> str:
        """A short summary (what ``neurodeploy check`` prints)."""
        from ..ir import describe
        return describe(self._ir)

    def save(self, path: str | Path, force: bool = False) -> Path:
        """Write the network as YAML, array weights as ``<stem>.<projection>.npy`` beside
        it; refuses to replace existing files unless ``force``."""
        import yaml
        path = Path(path)
        if path.suffix not in (".yaml", ".yml"):
            raise IRError("give a .yaml or .yml file to write", file=path)
        doc = self.to_dict()
        arrays = {}
        for name, proj in doc["projections"].items():
            if isinstance(proj.get("weights"), np.ndarray):
                arrays[f"{path.stem}.{name}.npy"] = proj["weights"]
                proj["weights"] = {"file": f"{path.stem}.{name}.npy"}
        targets = [path] + [path.parent / f for f in arrays]
        existing = [str(t) for t in targets if t.exists()]
        if existing and not force:
            raise IRError(f"would replace {', '.join(existing)}; pass force=True or another path",
                          file=path)
        path.parent.mkdir(parents=True, exist_ok=True)
        for file, arr in arrays.items():
            _atomic(path.parent / file, lambda f, a=arr: np.save(f, a, allow_pickle=False))
        text = yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=100)
        _atomic(path, lambda f: f.write(text.encode()))
        return path

    def __repr__(self) -> str:
        pops = ", ".join(f"{n}[{s}]" for n, s in self.populations.items())
        return f"<Network '{self.name}': {pops}; {len(self._ir.projections)} projections>"


def _atomic(path: Path, write: Any) -> None:
    """Write through a temporary file in the same folder, then rename into place."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def as_network(net: "Network | str | Path") -> Network:
    """A :class:`Network` from a Network or a YAML file path."""
    if isinstance(net, Network):
        return net
    if isinstance(net, (str, Path)):
        return Network.load(net)
    raise IRError(f"expected a neurodeploy.Network or a YAML path, got {type(net).__name__}")


def ir_or_path(net: "Network | str | Path") -> Any:
    """The IR of a :class:`Network`, or a YAML path left unread (the callee reads it as the
    command line does, so errors come in the same order)."""
    return net if isinstance(net, (str, Path)) else as_network(net).ir
