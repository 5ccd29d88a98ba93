"""``report.json`` and ``report.html`` of a validation run (written atomically)."""
from __future__ import annotations

import html
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .finetune import html_section as finetune_html
from .png import png_uri
from .spec import parse_spec
from .stats import CI_LEVEL, CI_METHOD, yield_summary

WORST = 5


def build_report(settings: Any, records: list[dict], target: float | None,
                 mismatch: dict) -> dict:
    """Yield per sweep point (worst point at top level), chips sorted by (point, chip)."""
    spec = parse_spec(settings.spec) if settings.spec else None
    chips = sorted(({k: r[k] for k in ("point", "value", "chip", "seed", "figures", "pass",
                                        "margin", "chip_summary")} for r in records
                    if r["chip"] < settings.chips),
                   key=lambda r: (r["point"], r["chip"]))
    points = []
    for p, overrides in enumerate(settings.points()):
        mine = [c for c in chips if c["point"] == p]
        entry: dict[str, Any] = {"point": p, "overrides": overrides,
                                 "value": settings.sweep_values[p] if settings.sweep_path else None}
        entry.update(yield_summary([bool(c["pass"]) for c in mine]) if spec else
                     {"yield": None, "yield_ci": None, "chips": len(mine)})
        entry["figures"] = _figure_stats(mine)
        if spec:
            worst = sorted(mine, key=lambda c: (c["margin"], c["chip"]))[:WORST]
            entry["worst"] = [{"chip": c["chip"], "margin": c["margin"],
                               "failed": [str(cl) for cl in spec.clauses
                                          if not cl.holds(c["figures"])],
                               "unusual": _unusual(c, mine)} for c in worst]
        points.append(entry)
    if spec:
        top = min(points, key=lambda e: (e["yield"] if e["yield"] is not None else 2.0, e["point"]))
    else:
        top = points[0]
    meets = None
    if spec and target is not None:
        meets = all(e["yield"] is not None and e["yield"] >= target for e in points)
    return {"build": settings.build, "spec": settings.spec, "seed": settings.seed,
            "backend": settings.backend, "chips_per_point": settings.chips,
            "sweep": ({"path": settings.sweep_path, "values": list(settings.sweep_values)}
                      if settings.sweep_path else None),
            "yield": top["yield"], "yield_ci": top["yield_ci"], "ci_method": CI_METHOD,
            "ci_level": CI_LEVEL, "yield_target": target, "meets_target": meets,
            "worst_point": top["point"] if settings.sweep_path else None,
            "mismatch": mismatch, "points": points, "chips": chips}


def _figure_stats(chips: list[dict]) -> dict[str, dict[str, float]]:
    keys = sorted({k for c in chips for k in c["figures"]})
    out = {}
    for k in keys:
        x = np.array([c["figures"][k] for c in chips if k in c["figures"]], dtype=np.float64)
        if x.size:
            out[k] = {"mean": float(x.mean()), "std": float(x.std()), "min": float(x.min()),
                      "max": float(x.max())}
    return out


def _unusual(chip: dict, population: list[dict]) -> list[str]:
    """Chip-summary entries more than 2 standard deviations from the other chips' mean."""
    notes = []
    for key, val in chip["chip_summary"].items():
        xs = np.array([c["chip_summary"][key] for c in population], dtype=np.float64)
        sd = xs.std()
        if sd > 0 and abs(val - xs.mean()) > 2 * sd:
            notes.append(f"{key}={val:.4g} (others {xs.mean():.3g} +- {sd:.2g})")
    return notes


# --------------------------------------------------------------------------- writing
def write_atomic(path: Path, data: bytes) -> None:
    """Temp file in the same folder, fsync, rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_reports(folder: Path, report: dict) -> None:
    """``report.json`` and ``report.html`` in ``folder``."""
    write_atomic(folder / "report.json",
                 json.dumps(report, indent=1, sort_keys=True).encode() + b"\n")
    write_atomic(folder / "report.html", render_html(report).encode())


def _main_metric(report: dict) -> str | None:
    if report["spec"]:
        return parse_spec(report["spec"]).clauses[0].metric
    figs = report["points"][0]["figures"]
    return "distance" if "distance" in figs else next(iter(figs), None)


def render_html(report: dict) -> str:
    """A self-contained page: summary, histogram, yield-vs-sweep, worst chips."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    metric = _main_metric(report)
    images = []
    if metric:
        fig, ax = plt.subplots(figsize=(6, 3.2))
        every = [c["figures"][metric] for c in report["chips"] if metric in c["figures"]]
        lo, hi = (min(every), max(every)) if every else (0.0, 1.0)
        bins = np.linspace(lo, hi if hi > lo else lo + 1e-9, 31)
        for e in report["points"]:
            xs = [c["figures"].get(metric) for c in report["chips"] if c["point"] == e["point"]]
            xs = [x for x in xs if x is not None]
            label = f"{report['sweep']['path'].split('.', 1)[1]}={e['value']}" if report["sweep"] else None
            ax.hist(xs, bins=bins, alpha=0.6, label=label)
        if report["spec"]:
            for cl in parse_spec(report["spec"]).clauses:
                if cl.metric == metric:
                    ax.axvline(cl.value, color="k", ls="--", lw=1, label="spec")
        if metric in (report.get("nominal") or {}):
            ax.axvline(report["nominal"][metric], color="g", ls=":", lw=1.5, label="nominal chip")
        ax.legend(fontsize=7)
        ax.set_xlabel(metric)
        ax.set_ylabel("chips")
        ax.set_title(f"{metric} over chips")
        images.append(("Distribution", png_uri(fig)))
    if report["sweep"] and report["spec"]:
        fig, ax = plt.subplots(figsize=(6, 3.2))
        values = [e["value"] for e in report["points"]]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        xs = [float(v) for v in values] if numeric else list(range(len(values)))
        if not numeric:
            ax.set_xticks(xs, [str(v) for v in values])
        ys = [e["yield"] for e in report["points"]]
        lo = [e["yield_ci"][0] for e in report["points"]]
        hi = [e["yield_ci"][1] for e in report["points"]]
        ax.fill_between(xs, lo, hi, alpha=0.3, label=f"{int(report['ci_level'] * 100)} % CI "
                        f"({report['ci_method']})")
        ax.plot(xs, ys, "o-", label="yield")
        if report["yield_target"] is not None:
            ax.axhline(report["yield_target"], color="k", ls="--", lw=1, label="target")
        ax.set_xlabel(report["sweep"]["path"])
        ax.set_ylabel("yield")
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=7)
        images.append(("Yield versus " + report["sweep"]["path"], png_uri(fig)))
    esc = html.escape
    rows = []
    for e in report["points"]:
        y = "n/a" if e["yield"] is None else f"{e['yield']:.3f}"
        ci = "" if not e["yield_ci"] else f"[{e['yield_ci'][0]:.3f}, {e['yield_ci'][1]:.3f}]"
        rows.append(f"<tr><td>{esc(json.dumps(e['overrides']))}</td><td>{e['chips']}</td>"
                    f"<td>{y}</td><td>{ci}</td></tr>")
    worst = []
    for e in report["points"]:
        for w in e.get("worst", []):
            worst.append(f"<tr><td>{e['point']}</td><td>{w['chip']}</td><td>{w['margin']:.4g}</td>"
                         f"<td>{esc(', '.join(w['failed']) or '-')}</td>"
                         f"<td>{esc('; '.join(w['unusual']) or '-')}</td></tr>")
    imgs = "".join(f"<h2>{esc(t)}</h2><img src='{src}'>" for t, src in images)
    target = report["yield_target"]
    verdict = ("" if report["meets_target"] is None else
               f"<p><b>{'MEETS' if report['meets_target'] else 'FAILS'}</b> the yield target "
               f"{target}</p>")
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>validate {esc(report['build'])}</title>
<style>body{{font-family:sans-serif;max-width:900px;margin:2em auto}}
td,th{{border:1px solid #ccc;padding:3px 8px}}table{{border-collapse:collapse}}</style></head>
<body><h1>Validation of {esc(report['build'])}</h1>
<p>spec: <code>{esc(str(report['spec']))}</code> &middot; backend {esc(report['backend'])}
&middot; seed {report['seed']} &middot; {report['chips_per_point']} chips per point &middot;
yield CI: {int(report['ci_level'] * 100)} % {esc(report['ci_method'])}</p>{verdict}
<p>nominal (mismatch-free) chip: {esc(', '.join(f"{k} {v:.4g}" for k, v in sorted((report.get('nominal') or {}).items()) if '.' not in k))}</p>
<table><tr><th>settings</th><th>chips</th><th>yield</th><th>95 % CI</th></tr>{''.join(rows)}</table>
{imgs}
<h2>Worst chips</h2><table><tr><th>point</th><th>chip</th><th>margin</th><th>failed clauses</th>
<th>unusual</th></tr>{''.join(worst)}</table>{finetune_html(report)}</body></html>
"""
