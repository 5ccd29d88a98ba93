"""``compare-profiles``: one network compiled for several profiles, nominal vs mismatched."""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from neurodeploy.neurons.kind import MEMBRANE_KINDS
from neurodeploy.variability.config import PARAMS

from .core import run_validation
from .report import write_atomic
from .runner import Settings

# every effect switched off: the nominal chip
NOMINAL = {p.path: 0.0 for p in PARAMS if p.kind == "float" and p.low == 0
           and "learning" not in p.path and "stuck_max_share" not in p.path
           and "drift_nu_cv" not in p.path}


def compare_profiles(network: str, profiles: list[str], *, chips: int, spec: str | None,
                     out: str | None, input_file: str | None, steps: int | None,
                     seed: int | None, progress: bool = True, frozen: bool = False,
                     data: str = "digits", samples: int | None = None) -> dict:
    """Compile ``network`` per profile; validate nominal (1 chip) and mismatched (``chips``)."""
    from neurodeploy.compiling import compile_network
    from neurodeploy.errors import NeurodeployError
    from neurodeploy.ir import load_network
    from neurodeploy.profiles import load_profile
    from .spec import check_against, parse_spec
    if not profiles:
        raise NeurodeployError("--profiles is empty; name at least one profile",
                               path=("--profiles",))
    if chips < 1:
        raise NeurodeployError(f"must be >= 1; got {chips}", path=("--chips",))
    net = load_network(network)
    loaded = [(name, load_profile(name)) for name in profiles]
    if spec:
        parsed = parse_spec(spec)
        check_against(parsed, [n for n, p in net.populations.items() if p.kind in MEMBRANE_KINDS],
                      has_task=net.task is not None)
    if out:
        from .core import check_output_folder
        check_output_folder(out)
    folder = Path(out) if out else Path(tempfile.mkdtemp(prefix="neurodeploy-profiles-"))
    folder.mkdir(parents=True, exist_ok=True)
    results = {}
    try:
        for (name, profile), label in zip(loaded, _labels(profiles)):
            build = folder / _folder(label) / "build"
            try:
                compile_network(net, profile, build, force=True)
            except NeurodeployError as exc:     # "does it still work there?": it does not fit
                results[label] = {"profile": profile.name, "numerics": profile.numerics,
                                  "error": exc.message}
                continue
            base = dict(build=str(build.resolve()), seed=net.seed if seed is None else seed,
                        spec=spec, steps=steps, frozen=frozen, data=data, samples=samples,
                        input=str(Path(input_file).resolve()) if input_file else None)
            nominal = run_validation(Settings(chips=1, sets=dict(NOMINAL), **base),
                                     folder / _folder(label) / "nominal", force=True,
                                     progress=False)
            mc = run_validation(Settings(chips=chips, **base), folder / _folder(label) / "mismatch",
                                force=True, progress=progress)
            results[label] = {"profile": profile.name, "numerics": profile.numerics,
                              "nominal": nominal["chips"][0]["figures"],
                              "nominal_pass": nominal["chips"][0]["pass"],
                              "mismatch": mc["points"][0]["figures"],
                              "yield": mc["yield"], "yield_ci": mc["yield_ci"],
                              "all_nominal": bool(mc["points"][0].get("all_nominal"))}
        table = _table(results, spec)
        write_atomic(folder / "compare.json",
                     json.dumps({"network": network, "spec": spec, "chips": chips,
                                 "profiles": results}, indent=1, sort_keys=True).encode())
    finally:
        if out is None:
            shutil.rmtree(folder, ignore_errors=True)
    return {"table": table, "profiles": results, "folder": str(folder)}


def _labels(profiles: list[str]) -> list[str]:
    """One distinct row label per profile: the name, or a file's stem, widened to its path
    (without .yaml) when two files share a stem; a profile listed twice is refused."""
    from neurodeploy.errors import NeurodeployError
    keys = [str(Path(p).resolve()) if Path(p).suffix in (".yaml", ".yml") else p
            for p in profiles]
    twice = sorted({p for p, k in zip(profiles, keys) if keys.count(k) > 1})
    if twice:
        raise NeurodeployError(f"profile {twice[0]} is listed twice; list each profile once",
                               path=("--profiles",))
    stems = [Path(p).stem for p in profiles]
    return [s if stems.count(s) == 1 else str(Path(p).with_suffix(""))
            for p, s in zip(profiles, stems)]


def _folder(label: str) -> str:
    """A row label as one folder name."""
    return label.replace("/", "_").replace("\\", "_").lstrip(".") or "profile"


def _table(results: dict, spec: str | None) -> list[str]:
    keys = sorted({k for r in results.values() for k in r.get("nominal", {})
                   if k.endswith(".rate") or k in ("accuracy", "distance")})
    head = f"{'profile':14s} {'numerics':8s} " + " ".join(f"{k:>24s}" for k in keys)
    if spec:
        head += f" {'yield (95 % CI)':>24s}"
    lines = [head]
    for label, r in results.items():
        if "error" in r:
            lines.append(f"{label:14s} {r['numerics']:8s} does not compile: {r['error']}")
            continue
        cells = []
        for k in keys:
            nom = r["nominal"].get(k)
            mm = r["mismatch"].get(k)
            cell = f"{nom:.3g} -> {mm['mean']:.3g}+-{mm['std']:.2g}" if nom is not None and mm else "-"
            cells.append(f"{cell:>24s}")
        line = f"{label:14s} {r['numerics']:8s} " + " ".join(cells)
        if spec:
            lo, hi = r["yield_ci"]
            line += f" {r['yield']:.2f} [{lo:.2f}, {hi:.2f}]".rjust(25)
        lines.append(line)
    lines.append("cells: nominal chip -> mean+-std over mismatched chips")
    for label, r in results.items():
        if r.get("all_nominal"):
            lines.append(f"{label}: every chip was nominal (the profile sets no mismatch), so "
                         "its row shows one chip, not a spread")
    return lines
