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
            _check_sizes(f["node"], path)
            data = nir.serialization.hdf2dict(f["node"])
    except NirError:
        raise
    except (OSError, KeyError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise NirError(f"cannot read the file as NIR (HDF5): {first}; is it truncated or not "
                       "a .nir file?", file=path) from None
    return graph_from_dict(data, path)


MAX_FILE_ENTRIES = 50_000_000
"""Most array entries a NIR file may declare (400 MB as float64), checked before reading."""


def _check_sizes(group: Any, path: Path) -> None:
    """Refuse a file whose datasets declare more entries than can be read safely.

    HDF5 stores a declared shape apart from the data (a compressed or never-written dataset
    of 20000 x 20000 takes a few KB on disk), so sizes are checked before anything is read.
    """
    import h5py

    total = 0
    found: list[tuple[str, tuple]] = []

    def visit(name: str, obj: Any) -> None:
        nonlocal total
        if isinstance(obj, h5py.Dataset):
            total += int(np.prod(obj.shape, dtype=np.float64)) if obj.shape else 1
            found.append((name, obj.shape))

    group.visititems(visit)
    if total > MAX_FILE_ENTRIES:
        name, shape = max(found, key=lambda item: np.prod(item[1], dtype=np.float64))
        raise NirError(f"declares {total:.3g} array entries (largest: node/{name} of shape "
                       f"{tuple(int(n) for n in shape)}); at most {MAX_FILE_ENTRIES:.0e} are "
                       "read, refused before reading", file=path)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def graph_from_dict(data: dict, path: str | Path = "<graph>", prefix: str = "") -> Any:
    """Build a NIRGraph from its dict form, naming the node whose entry is malformed.

    Nested graphs (snnTorch writes RLeaky/RSynaptic as one) are inlined: node ``n`` of
    subgraph ``s`` becomes ``s.n``; an edge into ``s`` (or ``s.<its Input>``) goes to the
    nodes its one Input feeds, an edge out of ``s`` leaves from the nodes feeding its Output.
    """
    nir = _nir()
    known = set(nir.ir.__all__) - {"NIRNode"}
    if _text(data.get("type", "")) != "NIRGraph":
        raise NirError(f"the file holds a single {_text(data.get('type', '?'))} node, not a "
                       "NIRGraph", file=path)
    nodes_data = data.get("nodes")
    if not isinstance(nodes_data, dict):
        raise NirError("the graph has no 'nodes' group", file=path)
    nodes = {}
    ends: dict[str, dict[str, list[str]]] = {}
    edges: list[tuple[str, str]] = []
    for name, entry in nodes_data.items():
        kind = _text(entry.get("type", "?")) if isinstance(entry, dict) else "?"
        if kind not in known:
            raise NirError(f"node '{prefix}{name}' has unknown type '{kind}'; NIR {nir.version} "
                           f"knows {', '.join(sorted(known))}", file=path)
        entry = {k: (_text(v) if k == "type" else v) for k, v in entry.items()}
        if kind == "NIRGraph":
            sub = graph_from_dict(entry, path, f"{prefix}{name}.")
            kinds = {n: type(v).__name__ for n, v in sub.nodes.items()}
            ends[name] = {"Input": [n for n, k in kinds.items() if k == "Input"],
                          "Output": [n for n, k in kinds.items() if k == "Output"]}
            for inner, node in sub.nodes.items():
                if kinds[inner] not in ("Input", "Output"):
                    nodes[f"{name}.{inner}"] = node
            for a, b in sub.edges:
                if kinds[a] == "Input" and kinds[b] == "Output":
                    raise NirError(f"subgraph '{prefix}{name}' connects its Input '{a}' straight "
                                   f"to its Output '{b}'; remove the pass-through", file=path)
                if kinds[a] == "Input":
                    ends[f"{name}.{a}"] = {"in": [f"{name}.{b}"] + ends.get(f"{name}.{a}", {}).get("in", [])}
                elif kinds[b] == "Output":
                    ends[f"{name}.{b}"] = {"out": [f"{name}.{a}"] + ends.get(f"{name}.{b}", {}).get("out", [])}
                else:
                    edges.append((f"{name}.{a}", f"{name}.{b}"))
            continue
        try:
            nodes[name] = nir.dict2NIRNode(dict(entry))
        except Exception as exc:  # noqa: BLE001 - any malformed node entry
            raise NirError(f"node '{prefix}{name}' ({kind}) is malformed: {type(exc).__name__}: "
                           f"{str(exc).splitlines()[0] if str(exc) else 'bad fields'}",
                           file=path) from None
    raw_edges = data.get("edges", [])
    for edge in np.asarray(raw_edges, dtype=object).reshape(-1, 2) if len(raw_edges) else []:
        a, b = _text(edge[0]), _text(edge[1])
        for end in (a, b):
            if end not in nodes and end not in ends:
                raise NirError(f"edge ('{prefix}{a}', '{prefix}{b}') refers to node "
                               f"'{prefix}{end}', which is not in the graph", file=path)
        edges += [(x, y) for x in _end(a, ends, "Output", prefix, path)
                  for y in _end(b, ends, "Input", prefix, path)]
    metadata = data.get("metadata", {})
    metadata = {k: _text(v) if isinstance(v, bytes) else v for k, v in metadata.items()} \
        if isinstance(metadata, dict) else {}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata, type_check=False)


def _end(name: str, ends: dict, role: str, prefix: str, path: str | Path) -> list[str]:
    """The nodes an edge end stands for once subgraphs are inlined."""
    if name not in ends:
        return [name]
    entry = ends[name]
    if role in entry:
        if len(entry[role]) != 1:
            raise NirError(f"an edge names subgraph '{prefix}{name}', which has "
                           f"{len(entry[role])} {role} nodes; name one of them "
                           f"({prefix}{name}.<node>)", file=path)
        name = f"{name}.{entry[role][0]}"
        entry = ends.get(name, {})
    key = "in" if role == "Input" else "out"
    if key not in entry:
        raise NirError(f"edge end '{prefix}{name}' is a subgraph {role} used the wrong way "
                       "round", file=path)
    return entry[key]


def write_graph(graph: Any, path: str | Path) -> Path:
    """Write ``graph`` to ``path`` atomically (temporary file in the same folder, renamed)."""
    nir = _nir()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    import h5py

    config = h5py.get_config()
    tracked = config.track_order
    config.track_order = True  # readers get the nodes in the order written
    try:
        nir.write(tmp, graph)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        config.track_order = tracked
    return path


def replace_files(files: dict[Path, Any], last: Path | None = None) -> None:
    """Write several files so none is half-written: all go to temporaries, then are renamed.

    ``files`` maps a destination to a NumPy array (saved as .npy), bytes, text, or the Path of
    a finished temporary file on the same file system (moved). ``last`` is renamed after the
    others (the YAML that refers to the weight files).
    """
    temps: list[tuple[Path, Path]] = []
    try:
        for dest, content in files.items():
            dest.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, Path):
                temps.append((content, dest))
                continue
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
