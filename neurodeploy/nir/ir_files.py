"""Write an imported NIR graph as IR: the YAML, its weight files and a copy of the source.

Files go beside the YAML: ``<stem>.<projection>.npy`` (weights ``[post, pre]``, or ``[size]``
for one_to_one) and ``<stem>.source.nir`` (the graph imported, which ``export-nir`` uses to
give back NIR's own factors and names). Everything is written to temporaries, validated as
IR, then renamed into place: on error nothing is left half-written.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..errors import NeurodeployError
from .flat import FlatNet, FlatPop, FlatProj
from .graphio import NirError, read_graph, replace_files
from .importer import CLOCK_BIAS, CLOCK_V_TH, MAX_DENSE_ENTRIES, Imported, analyse, ir_name
from .export_options import SECONDS_PER_IR_UNIT
from .metadata import meta_dt as meta_dt_of


def _value(arr: np.ndarray) -> Any:
    """A YAML value: one float when all neurons agree, else a list."""
    arr = np.asarray(arr, dtype=np.float64).reshape(-1)
    if arr.size and np.all(arr == arr[0]):
        return float(arr[0])
    return [float(x) for x in arr]


def network_data(imp: Imported, name: str, weight_file: Any) -> tuple[dict, dict[str, np.ndarray]]:
    """The IR YAML data and the weight arrays it refers to (``weight_file(proj) -> path``)."""
    meta = imp.meta
    unit = 1.0 / SECONDS_PER_IR_UNIT if meta.get("time_unit") == "s" else 1.0
    pops: dict[str, Any] = {}
    rates = meta.get("poisson", {})
    refractory = meta.get("refractory", {})
    for nir_name, size in imp.inputs.items():
        ir = imp.names[nir_name]
        if ir in rates:
            pops[ir] = {"kind": "poisson", "size": size, "rate": rates[ir]}
        else:
            pops[ir] = {"kind": "spike_source", "size": size}
    for nir_name, nm in imp.neurons.items():
        ir = imp.names[nir_name]
        params = {"tau_syn": float(nm.tau_syn * unit), "tau_mem": float(nm.tau_mem * unit),
                  "v_th": _value(nm.v_th), "bias": _value(imp.bias[nir_name])}
        if int(refractory.get(ir, 0)):
            params["refractory"] = int(refractory[ir])
        pops[ir] = {"kind": "lif", "size": nm.size, "params": params}
    if imp.clock:
        pops[imp.clock] = {"kind": "lif", "size": 1, "params": {
            "tau_syn": float(imp.dt * unit), "tau_mem": float(imp.dt * unit), "v_th": CLOCK_V_TH,
            "bias": CLOCK_BIAS}}
    projections: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    for pname, proj in imp.projections.items():
        m = proj.matrix
        if m.shape[0] * m.shape[1] > MAX_DENSE_ENTRIES:
            raise NirError(f"projection {pname} needs a dense {m.shape[0]} x {m.shape[1]} weight "
                           "file; IR v1 has no sparse weight file format")
        one_to_one = m.shape[0] == m.shape[1] and m.nnz == m.diagonal().astype(bool).sum() \
            and np.all(m.tocoo().row == m.tocoo().col)
        entry: dict[str, Any] = {"pre": proj.pre, "post": proj.post}
        if one_to_one:
            entry["connectivity"] = "one_to_one"
            arrays[pname] = np.asarray(m.diagonal(), dtype=np.float64)
        else:
            entry["connectivity"] = "dense"
            arrays[pname] = np.asarray(m.toarray(), dtype=np.float64)
        entry["weights"] = {"file": weight_file(pname)}
        if proj.delay:
            entry["delay"] = int(proj.delay)
        projections[pname] = entry
    data: dict[str, Any] = {"neurodeploy": 1, "name": meta.get("name", name),
                            "seed": int(meta.get("seed", 0)), "dt": float(imp.dt * unit),
                            "populations": pops}
    if projections:
        data["projections"] = projections
    for key, value in meta.get("extras", {}).items():
        data[key] = value
    if imp.monitors:
        data["monitors"] = [{"population": p, "var": v} for p, v in imp.monitors]
    if "steps" in meta:
        data["run"] = {"steps": int(meta["steps"])}
    return data, arrays


def to_flat(imp: Imported, name: str = "imported") -> FlatNet:
    """The imported network with every synapse realised (for comparisons and export checks)."""
    data, arrays = network_data(imp, name, lambda p: p)
    pops: dict[str, FlatPop] = {}
    for pname, entry in data["populations"].items():
        size = entry["size"]
        full = lambda x: np.broadcast_to(np.asarray(x, dtype=np.float64), (size,)).copy()  # noqa: E731
        if entry["kind"] == "lif":
            p = entry["params"]
            pops[pname] = FlatPop("lif", size, p["tau_syn"], p["tau_mem"], full(p["v_th"]),
                                  full(p["bias"]), int(p.get("refractory", 0)))
        elif entry["kind"] == "poisson":
            pops[pname] = FlatPop("poisson", size, rate=full(entry["rate"]))
        else:
            pops[pname] = FlatPop("spike_source", size)
    projs = {}
    for pname, proj in imp.projections.items():
        w = proj.matrix.toarray()
        exists = np.ones(w.shape, dtype=bool)
        if data["projections"][pname]["connectivity"] == "one_to_one":
            exists = np.eye(w.shape[0], dtype=bool)
        projs[pname] = FlatProj(proj.pre, proj.post, w, np.full(w.shape, proj.delay, np.int64),
                                exists)
    return FlatNet(data["name"], data["dt"], data["seed"], data.get("run", {}).get("steps", 100),
                   pops, projs, list(imp.monitors))


def import_file(nir_path: str | Path, out_yaml: str | Path, dt: float | None = None,
                integrator: str = "euler", current_input: str = "euler"
                ) -> tuple[Path, list[str]]:
    """Import a .nir file into ``out_yaml`` plus weight files; returns (path, notes).

    ``integrator`` "exact" integrates LIF/LI nodes exactly over a step (Sinabs's LIF);
    ``current_input`` "jump" adds a CubaLIF's input to its current whole (Norse's LIFCell)."""
    from ..ir.load import parse_network

    nir_path, out = Path(nir_path), Path(out_yaml)
    if out.suffix not in (".yaml", ".yml"):
        raise NirError("the output must be a .yaml or .yml file", file=out)
    if dt is not None and not (np.isfinite(dt) and dt > 0):
        raise NirError(f"--dt must be a positive number, got {dt}")
    graph = read_graph(nir_path)
    meta_dt = meta_dt_of(graph)
    step = float(dt if dt is not None else (meta_dt or 1.0))
    if integrator not in ("euler", "exact"):
        raise NirError(f"--integrator must be 'euler' or 'exact', got {integrator!r}")
    if current_input not in ("euler", "jump"):
        raise NirError(f"--current-input must be 'euler' or 'jump', got {current_input!r}")
    imp = analyse(graph, step, str(nir_path), integrator == "exact", current_input == "jump")
    stem = out.stem
    notes: list[str] = []
    name = ir_name(stem, set())
    data, arrays = network_data(imp, name, lambda p: f"{stem}.{p}.npy")
    text = yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".nir-import.", dir=out.parent) as tmp:
        files: dict[Path, Any] = {}
        for pname, arr in arrays.items():
            np.save(Path(tmp) / f"{stem}.{pname}.npy", arr, allow_pickle=False)
            files[out.parent / f"{stem}.{pname}.npy"] = Path(tmp) / f"{stem}.{pname}.npy"
        try:
            parse_network(text, str(out), base_dir=tmp)
        except NeurodeployError as exc:
            extras = [k for k in imp.meta.get("extras", {})]
            if not extras:
                raise NirError(f"the imported network is not valid IR: {exc.message}",
                               file=out) from None
            for key in extras:
                data.pop(key, None)
            text = yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100)
            parse_network(text, str(out), base_dir=tmp)
            notes.append(f"not restored from the graph metadata ({exc.message}): "
                         f"{', '.join(extras)}")
        files[out.parent / f"{stem}.source.nir"] = nir_path.read_bytes()
        files[out] = text
        replace_files(files, last=out)
    return out, notes


__all__ = ["import_file", "network_data", "to_flat"]
