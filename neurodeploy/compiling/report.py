"""Render a compile report (report.json content) as readable text."""
from __future__ import annotations


def _pct(used: float, total: float | None) -> str:
    return f"{used:,} / {total:,} ({100.0 * used / total:.1f}%)" if total else f"{used:,} (no limit)"


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]


def render_report(report: dict) -> str:
    """Human-readable resources, per-population mapping and per-projection quantization."""
    res = report["resources"]
    lines = [f"neurodeploy build '{report['name']}' for profile {report['profile']} "
             f"({report['numerics']} numerics)", "",
             "resources",
             f"  cores     {_pct(res['cores_used'], res['cores_available'])}",
             f"  neurons   {res['neurons']:,}",
             f"  synapses  {res['synapses']:,}",
             f"  memory    {_pct(res['memory_bytes'], res['memory_available_bytes'])} bytes", ""]
    rows = [["population", "kind", "size", "cores", "per core", "limited by", "fan-in/core",
             "scale", "vth", "tau_syn eff", "tau_mem eff"]]
    for name, p in report["populations"].items():
        if "cores" in p:
            rows.append([name, p["kind"], f"{p['size']:,}", str(p["cores"]),
                         f"{p['neurons_per_core']:,}", p["limited_by"],
                         f"{p['max_fanin_per_core']:,}", f"{p['scale']:g}",
                         *(f"{p[k]:{f}}" if k in p else "-"
                           for k, f in (("vth", "g"), ("tau_syn_eff", ".3g"), ("tau_mem_eff", ".3g")))])
        else:
            rows.append([name, p["kind"], f"{p['size']:,}", "input", "-", "-", "-", "-", "-",
                         "-", "-"])
    lines += ["populations"] + _table(rows) + [""]
    if report["projections"]:
        rows = [["projection", "synapses", "weight_exp", "sign", "step", "rel. RMS err",
                 "max err", "clipped"]]
        for name, s in report["projections"].items():
            rows.append([name, f"{s['n_synapses']:,}", str(s.get("weight_exp", "-")),
                         s.get("sign_mode", "-"), f"{s['step']:.3g}", f"{s['rel_rms_error']:.2e}",
                         f"{s['max_abs_error']:.3g}", str(s["clipped"])])
        lines += ["quantization"] + _table(rows) + [""]
    if report.get("learning"):
        lines += ["learning (fixed point)"] + [f"  {name}: {text}"
                                              for name, text in report["learning"].items()] + [""]
    if report.get("learning_device"):
        lines += ["learning (analog weights)", f"  {report['learning_device']}", ""]
    lines.append("warnings" if report["warnings"] else "warnings: none")
    lines += [f"  - {w}" for w in report["warnings"]]
    return "\n".join(lines) + "\n"
