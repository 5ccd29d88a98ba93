"""``neurodeploy import-nir`` and ``export-nir``: NIR graphs in and out (docs/nir.md)."""
from __future__ import annotations

import argparse


def _import(args: argparse.Namespace) -> int:
    from ..nir import import_file
    out, notes = import_file(args.model, args.output, args.dt, args.integrator,
                             args.current_input)
    for note in notes:
        print(f"note: {note}")
    print(f"wrote {out} (weights beside it as {out.stem}.<projection>.npy)")
    return 0


def _export(args: argparse.Namespace) -> int:
    from ..nir import export_file
    out, notes = export_file(args.source, args.output, args.time_unit, args.r_one, args.record)
    for note in notes:
        print(f"note: {note}")
    print(f"wrote {out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the import-nir and export-nir parsers."""
    p = sub.add_parser("import-nir", help="import a NIR graph (.nir) as a network YAML",
                       description="Map a NIR graph to the IR: neuron nodes become lif "
                                   "populations, weight paths become projections (weights "
                                   "written beside the YAML as <stem>.<projection>.npy, plus "
                                   "<stem>.source.nir). Nodes without an exact mapping are "
                                   "refused. Equations: docs/nir.md.")
    p.add_argument("model", help="NIR file (HDF5, .nir)")
    p.add_argument("--output", "-o", required=True, help="network YAML to write")
    p.add_argument("--dt", type=float, default=None,
                   help="step length in the NIR file's time unit (default: the dt recorded by "
                        "neurodeploy export-nir, else 1.0)")
    p.add_argument("--integrator", choices=("euler", "exact"), default="euler",
                   help="how LIF/LI nodes are discretised: forward Euler, dv = dt/tau "
                        "(snnTorch, Norse; default), or exact, dv = 1 - exp(-dt/tau) (Sinabs)")
    p.add_argument("--current-input", choices=("euler", "jump"), default="euler",
                   help="how input enters a CubaLIF's current: dt/tau_syn * w_in * x (NIR, "
                        "snnTorch; default) or w_in * x whole (Norse's LIFCell)")
    p.set_defaults(func=_import)

    p = sub.add_parser("export-nir", help="export a network YAML or a build as NIR",
                       description="Write a network YAML, or a build directory (dequantized "
                                   "when fixed point), as an equivalent NIR graph. What NIR "
                                   "cannot hold is listed and kept in the graph metadata.")
    p.add_argument("source", help="network YAML or build directory")
    p.add_argument("--output", "-o", required=True, help="NIR file to write (.nir)")
    p.add_argument("--time-unit", choices=("ir", "s"), default="ir",
                   help="unit of tau, delays and dt in the file: the IR's (ms, default) or "
                        "seconds, which snnTorch and Norse read")
    p.add_argument("--r-one", action="store_true",
                   help="write LIF/LI/IF/I nodes with r = 1 (the gain goes into the weights); "
                        "Norse's importer assumes r = 1")
    p.add_argument("--record", metavar="POPULATION", default=None,
                   help="write one Output node, for this population (nirtorch importers need "
                        "exactly one); other monitors are not exported")
    p.set_defaults(func=_export)
