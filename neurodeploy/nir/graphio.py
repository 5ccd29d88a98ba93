"""Read and write NIR files (HDF5) with one-line errors, and write files atomically."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import NeurodeployError


class NirError(NeurodeployError):
    """A NIR graph cannot be read, or cannot be mapped exactly to or from the IR."""


def _nir():
    try:
        import nir
    except ImportError:  # pragma: no cover - nir is a dependency
        raise NirError("the 'nir' package is not installed; pip install nir") from None
    return nir


def read_graph(path: str | Path) -> Any:
    """A NIRGraph from an HDF5 file, every node checked to be a known NIR type."""
    import h5py

    nir = _nir()
    path = Path(path)
    if not path.is_file():
        raise NirError("NIR file not found", file=path)
    try:
        with h5py.File(path, "r") as f:
            if "node" not in f:
                raise NirError("not a NIR file (no 'node' group at the top level)", file=path)
            data = nir.serialization.hdf2dict(f["node"])
    except NirError:
        raise
    except (OSError, KeyError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise NirError(f"cannot read the file as NIR (HDF5): {first}; is it truncated or not "
                       "a .nir file?", file=path) from None
    return graph_from_dict(data, path)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def graph_from_dict(data: dict, path: str | Path = "<graph>") -> Any:
    """Build a NIRGraph from its dict form, naming the node whose entry is malformed."""
    nir = _nir()
    known = set(nir.ir.__all__) - {"NIRNode"}
    if _text(data.get("type", "")) != "NIRGraph":
        raise NirError(f"the file holds a single {_text(data.get('type', '?'))} node, not a "
                       "NIRGraph", file=path)
    nodes_data = data.get("nodes")
    if not isinstance(nodes_data, dict):
        raise NirError("the graph has no 'nodes' group", file=path)
    nodes = {}
    for name, entry in nodes_data.items():
        kind = _text(entry.get("type", "?")) if isinstance(entry, dict) else "?"
        if kind not in known:
            raise NirError(f"node '{name}' has unknown type '{kind}'; NIR {nir.version} knows "
                           f"{', '.join(sorted(known))}", file=path)
        entry = {k: (_text(v) if k == "type" else v) for k, v in entry.items()}
        if kind == "NIRGraph":
            raise NirError(f"node '{name}' (NIRGraph) is a nested graph; flatten it into the "
                           "top-level graph first", file=path)
        try:
            nodes[name] = nir.dict2NIRNode(dict(entry))
        except Exception as exc:  # noqa: BLE001 - any malformed node entry
            raise NirError(f"node '{name}' ({kind}) is malformed: {type(exc).__name__}: "
                           f"{str(exc).splitlines()[0] if str(exc) else 'bad fields'}",
                           file=path) from None
    raw_edges = data.get("edges", [])
    edges = []
    for edge in np.asarray(raw_edges, dtype=object).reshape(-1, 2) if len(raw_edges) else []:
        a, b = _text(edge[0]), _text(edge[1])
        for end in (a, b):
            if end not in nodes:
                raise NirError(f"edge ('{a}', '{b}') refers to node '{end}', which is not in "
                               "the graph", file=path)
        edges.append((a, b))
    metadata = data.get("metadata", {})
    metadata = {k: _text(v) if isinstance(v, bytes) else v for k, v in metadata.items()} \
        if isinstance(metadata, dict) else {}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata, type_check=False)


def write_graph(graph: Any, path: str | Path) -> Path:
    """Write ``graph`` to ``path`` atomically (temporary file in the same folder, renamed)."""
    nir = _nir()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        nir.write(tmp, graph)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def replace_files(files: dict[Path, Any], last: Path | None = None) -> None:
    """Write several files so none is half-written: all go to temporaries, then are renamed.

    ``files`` maps a destination to a NumPy array (saved as .npy) or text. ``last`` is
    renamed after the others (the YAML that refers to the weight files).
    """
    temps: list[tuple[Path, Path]] = []
    try:
        for dest, content in files.items():
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
            with os.fdopen(fd, "wb") as handle:
                if isinstance(content, np.ndarray):
                    np.save(handle, content, allow_pickle=False)
                elif isinstance(content, bytes):
                    handle.write(content)
                else:
                    handle.write(str(content).encode("utf-8"))
            temps.append((Path(tmp), dest))
        temps.sort(key=lambda pair: pair[1] == last)
        for tmp, dest in temps:
            os.replace(tmp, dest)
    except BaseException:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)
        raise
