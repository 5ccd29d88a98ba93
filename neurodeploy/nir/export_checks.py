"""What ``export-nir`` checks before writing: the output path, and what NIR can hold.

The output must be a new ``.nir`` file that is none of the export's inputs and lies in no
build directory (writing there would destroy the build). A build with a learning pathway
(graded error relays, label sources, projections into graded populations or into a
learning port such as ``third_factor``) is exported as its inference network: the learning
pathway only reads the inference network, so dropping it changes no spike of the rest; a
graded population that drives a neuron's current is refused.
"""
from __future__ import annotations

from pathlib import Path

from .flat import FlatNet
from .graphio import NirError


def check_target(source: Path, out: Path, inputs: list[Path]) -> None:
    """Refuse an output that would overwrite an input or land inside a build directory."""
    if out.is_dir():
        raise NirError("is a directory; give the .nir file to write", file=out)
    if out.suffix != ".nir":
        raise NirError("the output must be a .nir file (NIR is HDF5; this name would hide "
                       "that); give e.g. model.nir", file=out)
    target = out.resolve()
    for path in [source, *inputs]:
        if path.exists() and target == path.resolve():
            raise NirError(f"is an input of this export ({path}); write the NIR file "
                           "elsewhere", file=out)
    if source.is_dir() and source.resolve() in target.parents:
        raise NirError(f"lies inside the build directory {source} being exported; write the "
                       "NIR file outside it", file=out)
    for folder in target.parents:
        if (folder / "manifest.json").is_file():
            raise NirError(f"lies inside the build directory {folder}; write the NIR file "
                           "outside it", file=out)


def inference_network(flat: FlatNet) -> list[str]:
    """Drop the learning pathway of ``flat`` in place; notes on what was dropped."""
    graded = {n for n, p in flat.pops.items() if p.kind == "graded"}
    learning = {n for n, p in flat.projs.items() if p.post in graded or p.port != "current"}
    if not learning:
        return []
    for name, proj in flat.projs.items():
        if proj.pre in graded and name not in learning:
            raise NirError(f"projections.{name}: the graded population {proj.pre} drives "
                           f"{proj.post}'s current, so the learning pathway is part of the "
                           "inference network and NIR has no graded node; export a network "
                           "without it", file=flat.source or None)
    dropped_projs = sorted(learning)
    used = {p.pre for n, p in flat.projs.items() if n not in dropped_projs} | \
        {p.post for n, p in flat.projs.items() if n not in dropped_projs}
    feeders = {p.pre for n, p in flat.projs.items() if n in dropped_projs}
    dropped_pops = sorted(graded | {n for n in feeders - used
                                    if flat.pops[n].kind in ("spike_source", "poisson")})
    for name in dropped_projs:
        del flat.projs[name]
    for name in dropped_pops:
        del flat.pops[name]
    flat.monitors = [(p, v) for p, v in flat.monitors if p in flat.pops]
    for key in ("plasticity",):
        flat.extras.pop(key, None)
    return [f"exported the inference network only: the learning pathway ("
            f"{', '.join(dropped_pops)}; projections {', '.join(dropped_projs)}) and the "
            "plasticity have no NIR form and were left out"]
