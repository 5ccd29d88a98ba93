"""BPTT with surrogate gradients on the host, on a network YAML's forward part and a data set:
the reference beside the on-chip rules in examples/README.md (docs/lra.md).

    python examples/bptt_reference.py examples/temporal_order_lra.yaml --data temporal_order --epochs 10
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from neurodeploy.compiling import compile_network
from neurodeploy.compilers import load_plan
from neurodeploy.ir import load_network
from neurodeploy.learning.bptt_reference import BpttConfig, train_bptt
from neurodeploy.learning.train import TrainConfig, learning_block, prepare_data
from neurodeploy.profiles import load_profile
from neurodeploy.task.sequences import encode_inputs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("network")
    ap.add_argument("--data", default="temporal_order")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--voltage-gain", type=float, default=1.0,
                    help="weight of the outputs' mean read-out membrane potential in the logits")
    ap.add_argument("--clip", type=float, default=1.0, help="gradient norm clip (0: none)")
    args = ap.parse_args()
    net = load_network(args.network)
    name, block = learning_block(net)
    data = prepare_data(net, TrainConfig(data=args.data, seed=args.seed))
    with tempfile.TemporaryDirectory() as tmp:
        plan = load_plan(compile_network(net, load_profile("cpu"), Path(tmp) / "b").out)
    task = plan.task
    hist = train_bptt(plan, list(block.projections), encode_inputs(data.x_train, task, args.seed + 7),
                      data.y_train, encode_inputs(data.x_test, task, args.seed + 1), data.y_test,
                      BpttConfig(epochs=args.epochs, lr=args.lr, seed=args.seed,
                                 voltage_gain=args.voltage_gain, clip=args.clip))
    for k, (tr, te, s) in enumerate(zip(hist["train_accuracy"], hist["test_accuracy"], hist["seconds"])):
        print(f"epoch {k + 1}: train {tr:.3f}, test {te:.3f}, {s:.0f} s", flush=True)
    print(json.dumps({"network": args.network, "data": args.data, "rule": "bptt (host)",
                      "test_accuracy": hist["test_accuracy"][-1], "seconds": hist["seconds"][-1]}))


if __name__ == "__main__":
    main()
