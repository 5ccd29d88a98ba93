"""Train every feedback-alignment-family rule on digits and print one table (examples/README.md).

    .venv/bin/python examples/compare_rules.py [--epochs 20] [--out build/rules]

Each row is a `neurodeploy train` session (cpu backend, deployed to loihi2) of one example
network, plus the back-propagation reference (a rate network of the same architecture,
NumPy). Takes about 15 minutes on two cores (weight mirror's mirror phases about 6).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

from neurodeploy.learning.bp_reference import train_bp
from neurodeploy.learning.session import run_session
from neurodeploy.learning.train import TrainConfig
from neurodeploy.task import load_dataset

HERE = Path(__file__).resolve().parent

RUNS = [
    ("feedback_alignment", "digits_fa.yaml", {}),
    ("kolen_pollack", "digits_kp.yaml", {}),
    ("weight_mirror", "digits_wm.yaml", {}),
    ("sal", "digits_sal.yaml", {}),
    ("low_rank_fa r=1", "digits_fa.yaml", {"rule": "low_rank_fa", "rank": 1}),
    ("low_rank_fa r=2", "digits_fa.yaml", {"rule": "low_rank_fa", "rank": 2}),
    ("low_rank_fa r=10", "digits_fa.yaml", {"rule": "low_rank_fa", "rank": 10}),
    ("feedback_alignment, 2 hidden", "digits_fa2.yaml", {}),
    ("direct_feedback_alignment, 2 hidden", "digits_fa2.yaml", {"rule": "direct_feedback_alignment"}),
]


def variant(source: Path, changes: dict, directory: Path) -> Path:
    """The example with its rule (and rank) replaced, written beside a scratch copy."""
    text = source.read_text()
    if "rule" in changes:
        text = re.sub(r"rule: \w+", f"rule: {changes['rule']}", text, count=1)
    if "rank" in changes:
        text = text.replace("    lr_decay:", f"    rank: {changes['rank']}\n    lr_decay:", 1)
    path = directory / f"{source.stem}-{changes.get('rule', 'x')}-{changes.get('rank', 0)}.yaml"
    path.write_text(text)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--out", default="build/rules", help="where the builds go")
    parser.add_argument("--only", help="run only rows whose name contains this text")
    args = parser.parse_args()
    out = Path(args.out)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, example, changes in RUNS:
            if args.only and args.only not in name:
                continue
            net = variant(HERE / example, changes, Path(tmp))
            slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
            res = run_session(net, "loihi2", TrainConfig(epochs=args.epochs), out / slug,
                              force=True, progress=lambda s: None)
            angles = {k: v[-1] for k, v in res.curves.angles.items()}
            rows.append((name, res.float_accuracy, res.deployed_accuracy, angles))
            print(f"{name:38s} float {res.float_accuracy:.4f}  loihi2 {res.deployed_accuracy:.4f}  "
                  + "  ".join(f"angle {k} {a:.1f} deg" for k, a in angles.items()), flush=True)
    data = load_dataset("digits")
    bp = train_bp(data, 200, args.epochs, lr=0.01, lr_decay=0.9)
    print(f"{'BP reference (rate, NumPy, 64-200-10)':38s} float {bp.test_accuracy[-1]:.4f}")
    summary = {"rows": [{"rule": n, "float": f, "loihi2": d, "angles": a} for n, f, d, a in rows],
               "bp_reference": bp.test_accuracy[-1], "epochs": args.epochs}
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
