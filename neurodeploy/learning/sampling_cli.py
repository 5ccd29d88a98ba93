"""``neurodeploy train`` of a sampling task: the command's part (flags that do not apply are
refused, the result printed)."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import NeurodeployError
from ..ir import load_network

#: train flags of classification tasks, with their defaults (a sampling task's iterations,
#: rates and seeds are in its YAML)
NOT_FOR_SAMPLING = {"classes": None, "train_samples": None, "test_samples": None,
                    "learning_rate": None, "lr_decay": None, "epochs": 20, "data": "digits",
                    "seed": 0, "learn_in": "chip"}


def train_sampling(args: argparse.Namespace, out: Path) -> bool:
    """Train ``args.network`` when its task is of kind sampling (True), else do nothing."""
    net = load_network(args.network)
    if getattr(net.task, "kind", None) != "sampling":
        return False
    for name, default in NOT_FOR_SAMPLING.items():
        if getattr(args, name, default) != default:
            flag = "--" + name.replace("_", "-")
            raise NeurodeployError(f"{flag} does not apply to a sampling task (no data set; its "
                                   "iterations, rates and seeds are in the network YAML)",
                                   path=(flag,))
    from .sampling_session import run_sampling
    res = run_sampling(net, out, force=args.force, backend=args.backend)
    c = res.curves
    print(f"trained {net.task.iterations} iterations on {args.backend}: D_KL "
          f"{c.dkl[0]:.4f} -> {c.dkl[-1]:.4f}, asymmetry {c.asymmetry[0]:.4f} -> "
          f"{c.asymmetry[-1]:.4f}, {res.step_seconds * 1e9:.0f} ns CPU time per network step")
    print(f"wrote {out} (curves: {out}/training/curves.png; the trained network: "
          f"{out}/training/network.yaml; a sampling task compiles no build for --profile)")
    return True
