"""``report.json`` and ``report.html`` of an attack run: accuracy versus epsilon per attack."""
from __future__ import annotations

import html
import json
from pathlib import Path

from neurodeploy.validation.png import png_uri
from neurodeploy.validation.report import write_atomic


def summary_lines(report: dict) -> list[str]:
    """One line per (attack, epsilon) for the terminal."""
    lines = [f"clean accuracy {report['clean_accuracy']:.4f} on {report['n']} samples "
             f"({report['numerics']} build, {report['encoding']} encoding)"]
    if report.get("transfer_twin_accuracy") is not None:
        lines.append(f"transfer twin (BPTT-trained substitute): test accuracy "
                     f"{report['transfer_twin_accuracy']:.4f}")
    for e in report["entries"]:
        lo, hi = e["accuracy_ci"]
        chips = ""
        if "chips" in e:
            c = e["chips"]
            chips = (f"; {len(c['per_chip'])} chips: mean {c['mean']:.4f} "
                     f"(min {c['min']:.4f}, max {c['max']:.4f})")
        lines.append(f"{e['attack']:9s} eps={e['eps']:<5g} accuracy {e['accuracy']:.4f} "
                     f"[{lo:.4f}, {hi:.4f}]{chips}")
    return lines


def _plot(report: dict) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for attack in dict.fromkeys(e["attack"] for e in report["entries"]):
        rows = [e for e in report["entries"] if e["attack"] == attack]
        xs = [e["eps"] for e in rows]
        line, = ax.plot(xs, [e["accuracy"] for e in rows], "o-", label=attack)
        ax.fill_between(xs, [e["accuracy_ci"][0] for e in rows],
                        [e["accuracy_ci"][1] for e in rows], color=line.get_color(), alpha=0.2)
        if all("chips" in e for e in rows):
            ax.plot(xs, [e["chips"]["mean"] for e in rows], "s--", color=line.get_color(),
                    alpha=0.7, label=f"{attack}, mean over chips")
    ax.set_xlabel("epsilon (pixel units, L-infinity)")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7)
    ax.set_title("accuracy under attack (bands: 95 % CI over samples)")
    return png_uri(fig)


def _row(e: dict) -> str:
    """One table row of an entry."""
    chips = "-"
    if "chips" in e:
        chips = f"{e['chips']['mean']:.4f} (min {e['chips']['min']:.4f})"
    lo, hi = e["accuracy_ci"]
    return (f"<tr><td>{html.escape(e['attack'])}</td><td>{e['eps']:g}</td>"
            f"<td>{e['accuracy']:.4f}</td><td>[{lo:.4f}, {hi:.4f}]</td><td>{chips}</td></tr>")


def render_html(report: dict) -> str:
    """A self-contained page: the plot and the table."""
    esc = html.escape
    rows = "".join(_row(e) for e in report["entries"])
    notes = "".join(f"<li>{esc(line)}</li>" for line in summary_lines(report)[:2])
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>attacks on {esc(report['build'])}</title>
<style>body{{font-family:sans-serif;max-width:900px;margin:2em auto}}
td,th{{border:1px solid #ccc;padding:3px 8px}}table{{border-collapse:collapse}}</style></head>
<body><h1>Adversarial validation of {esc(report['build'])}</h1><ul>{notes}</ul>
<img src='{_plot(report)}'>
<table><tr><th>attack</th><th>eps</th><th>accuracy</th><th>95 % CI ({esc(report['ci_method'])})</th>
<th>mean over chips</th></tr>{rows}</table></body></html>
"""


def write_reports(folder: Path, report: dict) -> None:
    """Both files, each written atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / "report.json",
                 json.dumps(report, indent=1, sort_keys=True).encode() + b"\n")
    write_atomic(folder / "report.html", render_html(report).encode())
