"""NIR interchange for Python objects: a network or build out to a ``.nir`` file, and back."""
from __future__ import annotations

import tempfile
from pathlib import Path

from .build import Build
from .network import Network


def to_nir(source: Network | Build | str | Path, path: str | Path) -> Path:
    """Write ``source`` (a network, a build — dequantized — or a YAML/build path) as a NIR
    graph to ``path``; what NIR cannot hold is refused by name (docs/nir.md)."""
    from ..nir import export_file
    if isinstance(source, Build):
        return export_file(source.path, path)[0]
    if isinstance(source, Network):
        with tempfile.TemporaryDirectory(prefix="neurodeploy-nir-") as tmp:
            yaml_path = source.save(Path(tmp) / f"{source.name}.yaml")
            return export_file(yaml_path, path)[0]
    return export_file(source, path)[0]


def from_nir(path: str | Path, dt: float | None = None) -> Network:
    """Import a ``.nir`` graph (snnTorch, Norse, Sinabs, Spyx, Rockpool) as a network whose
    weights are held in memory; ``dt`` in ms (default: the graph's, else 1.0)."""
    from ..nir import import_file
    stem = Path(path).stem.replace("-", "_") or "imported"
    with tempfile.TemporaryDirectory(prefix="neurodeploy-nir-") as tmp:
        yaml_path, _ = import_file(path, Path(tmp) / f"{stem}.yaml", dt)
        loaded = Network.load(yaml_path)
        return Network.from_dict(loaded.to_dict())
