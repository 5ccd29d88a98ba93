"""The ``--attack`` options of ``neurodeploy validate`` (the run: ``neurodeploy.api.attack``)."""
from __future__ import annotations

import argparse


def add_options(p: argparse.ArgumentParser) -> None:
    """Add the attack options to the ``validate`` parser."""
    g = p.add_argument_group("adversarial validation (docs/attacks.md)")
    g.add_argument("--attack", help="instead of the chip yield, accuracy under attack: fgsm, "
                                    "pgd, transfer, blackbox (comma-separated) or all")
    g.add_argument("--eps", default="0.01,0.03,0.1",
                   help="L-infinity budgets in pixel units before spike encoding (features "
                        "scaled to [0, 1]); 0 is always added (default 0.01,0.03,0.1)")
    g.add_argument("--slopes", default="1,5,25",
                   help="surrogate-gradient slopes the white-box attacks try (default 1,5,25)")
    g.add_argument("--pgd-steps", type=int, default=40, help="PGD iterations (default 40)")
    g.add_argument("--restarts", type=int, default=2,
                   help="PGD starts: the clean point, then random ones (default 2)")
    g.add_argument("--queries", type=int, default=200,
                   help="black-box build read-outs per sample (default 200)")
    g.add_argument("--twin-epochs", type=int, default=10,
                   help="BPTT epochs of the transfer attack's substitute (default 10)")
    g.add_argument("--attack-chips", action="store_true",
                   help="also run the crafted examples on --chips mismatched chips")
