"""Attack every rule's digits build and print the table of examples/README.md (accuracy under attack).

    .venv/bin/python examples/attack_rules.py [--builds build/rules] [--only fa,kp]

Expects the builds of the `neurodeploy train ... -o build/rules/NAME` commands in
examples/README.md (fa, dfa2, kp, wm, sal) and makes the BP reference itself: the same
64-200-10 network trained by back-propagation through time with surrogate gradients
(torch, seed 1, 10 epochs), deployed to loihi2 as build/rules/bp. Each build is attacked
as `neurodeploy validate BUILD --attack all --eps 0.01,0.03,0.1` would (defaults of
docs/attacks.md); reports go to BUILD/attack, the table to build/rules/attacks.json.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

from neurodeploy.compiling import compile_network
from neurodeploy.compilers import load_plan
from neurodeploy.ir import parse_network
from neurodeploy.profiles import load_profile
from neurodeploy.validation.attacks.report import summary_lines, write_reports
from neurodeploy.validation.attacks.run import AttackSettings, run_attacks

HERE = Path(__file__).resolve().parent
ROWS = [("bp", "BP reference (BPTT, surrogate gradients)"), ("fa", "feedback alignment"),
        ("dfa2", "DFA, two hidden layers"), ("kp", "Kolen-Pollack"), ("wm", "weight mirror"),
        ("sal", "SAL")]


def bp_build(out: Path, epochs: int = 10, seed: int = 1) -> None:
    """digits_fa.yaml's forward network trained by BPTT and compiled to loihi2."""
    import torch
    from neurodeploy.task import load_dataset
    from neurodeploy.validation.attacks.transfer import train_twin
    from neurodeploy.validation.attacks.twin import twin_of
    text = (HERE / "digits_fa.yaml").read_text()
    text = re.sub(r"\nplasticity:\n(  .*\n)+", "\n", text).replace("name: digits-fa", "name: digits-bp")
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        compile_network(parse_network(text, base_dir=t), load_profile("cpu"), t / "float")
        plan = load_plan(t / "float").frozen()
        data = load_dataset("digits")
        torch.set_num_threads(1)
        twin = train_twin(twin_of(plan, torch.float32), data.x_train, data.y_train, epochs, seed)
        for name, edge in zip(plan.projections, twin.edges):
            # a float build with v_th = 1: the twin's weights are the IR's
            np.save(t / f"{name}.npy", edge.weights[0].numpy().astype(np.float64))
            text = re.sub(rf"(  {name}: .*weights: )\{{[^}}]*\}}", rf"\1{{file: {name}.npy}}", text)
        compile_network(parse_network(text, base_dir=t), load_profile("loihi2"), out, force=True)


def substitute_for(build: Path, cache: Path):
    """The transfer attack's BPTT-trained twin for ``build``'s architecture, trained once
    per architecture and shared by every rule's build (the same attacker for all)."""
    import torch
    from neurodeploy.task import load_dataset
    from neurodeploy.validation.attacks.transfer import train_twin
    from neurodeploy.validation.attacks.twin import twin_of
    like = twin_of(load_plan(build).frozen(), torch.float32)
    key = "-".join(str(int(e.weights[0].shape[1])) for e in like.edges) + f"-{like.steps}"
    path = cache / f"substitute_{key}.pt"
    if path.is_file():
        weights = torch.load(path)
        for e, w in zip(like.edges, weights):
            e.weights = w
        return like
    torch.set_num_threads(1)
    data = load_dataset("digits")
    sub = train_twin(like, data.x_train, data.y_train, 10, 0)
    torch.save([e.weights for e in sub.edges], path)
    return sub


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--builds", default="build/rules")
    parser.add_argument("--only", help="comma-separated build names (default all)")
    parser.add_argument("--pgd-steps", type=int, default=40)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    root = Path(args.builds)
    only = args.only.split(",") if args.only else [n for n, _ in ROWS]
    if "bp" in only and not (root / "bp" / "manifest.json").is_file():
        bp_build(root / "bp")
    table = {}
    for name, label in ROWS:
        if name not in only:
            continue
        s = AttackSettings(attacks=["fgsm", "pgd", "transfer", "blackbox"], eps=[0.0, 0.01, 0.03, 0.1],
                           steps=args.pgd_steps, queries=args.queries)
        sub = substitute_for(root / name, root)
        report = run_attacks(str(root / name), s, lambda m: print(f"  {name}: {m}", flush=True), sub)
        write_reports(root / name / "attack", report)
        print("\n".join(summary_lines(report)), flush=True)
        table[name] = {"label": label, "pgd_steps": args.pgd_steps, "queries": args.queries, "clean": report["clean_accuracy"],
                       "transfer_twin": report["transfer_twin_accuracy"],
                       "entries": [{k: e[k] for k in ("attack", "eps", "accuracy", "accuracy_ci")}
                                   for e in report["entries"]]}
        path = root / "attacks.json"
        old = json.loads(path.read_text()) if path.is_file() else {}
        path.write_text(json.dumps({**old, **table}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
