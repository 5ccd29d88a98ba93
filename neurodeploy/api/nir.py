"""NIR interchange for Python objects: a network or build out to a ``.nir`` file, and back."""
from __future__ import annotations

import tempfile
from pathlib import Path

from .buildlike import BuildLike
from .network import Network


def to_nir(source: Network | BuildLike | str | Path, path: str | Path, time_unit: str = "ir",
           r_one: bool = False, record: str | None = None) -> Path:
    """Write ``source`` (a network, a build — dequantized — or a YAML/build path) as a NIR
    graph to ``path``; what NIR cannot hold is refused by name (docs/nir.md). ``time_unit``:
    ``"ir"`` (ms) or ``"s"`` (seconds, for snnTorch and Norse); ``r_one``: LIF-family nodes
    with r = 1 (Norse); ``record``: one Output node for this population (nirtorch)."""
    from ..nir import export_file
    options = {"time_unit": time_unit, "r_one": r_one, "record": record}
    if isinstance(source, Network):
        with tempfile.TemporaryDirectory(prefix="neurodeploy-nir-") as tmp:
            yaml_path = source.save(Path(tmp) / f"{source.name}.yaml")
            return export_file(yaml_path, path, **options)[0]
    if isinstance(source, BuildLike):
        return export_file(source.path, path, **options)[0]
    return export_file(source, path, **options)[0]


def from_nir(path: str | Path, dt: float | None = None, integrator: str = "euler",
             current_input: str = "euler") -> Network:
    """Import a ``.nir`` graph (snnTorch, Norse, Sinabs, Spyx, Rockpool) as a network whose
    weights are held in memory; ``dt`` in ms (default: the graph's, else 1.0);
    ``integrator``: ``"euler"`` (dv = dt/tau; snnTorch, Norse) or ``"exact"`` (Sinabs);
    ``current_input``: ``"euler"`` or ``"jump"`` (Norse's LIFCell)."""
    from ..nir import import_file
    stem = Path(path).stem.replace("-", "_") or "imported"
    with tempfile.TemporaryDirectory(prefix="neurodeploy-nir-") as tmp:
        yaml_path, _ = import_file(path, Path(tmp) / f"{stem}.yaml", dt, integrator,
                                   current_input)
        loaded = Network.load(yaml_path)
        return Network.from_dict(loaded.to_dict())
