"""The ``--attack`` options of ``neurodeploy validate`` and the run behind them."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from neurodeploy.errors import NeurodeployError


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


def _slopes(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise NeurodeployError(f"'{text}' is not a list of numbers, e.g. 1,5,25",
                               path=("--slopes",)) from None


def run_from_args(args: argparse.Namespace) -> int:
    """``validate BUILD --attack ...``: write OUT/report.json and report.html (OUT:
    ``--output`` or BUILD/attack)."""
    from neurodeploy.outputs import check_writable
    from neurodeploy.validation.sweep import parse_sets

    from .report import summary_lines, write_reports
    from .run import AttackSettings, parse_attacks, parse_eps, run_attacks
    if args.finetune or args.sweep or args.input or args.spec or args.target is not None:
        raise NeurodeployError("does not combine with --finetune, --sweep, --input, --spec "
                               "or --yield; run those as a separate validate",
                               path=("--attack",))
    if args.backend != "cpu":
        raise NeurodeployError("attacked inputs run through the build's cpu numerics "
                               "(bit-exact with Lava); use --backend cpu", path=("--backend",))
    settings = AttackSettings(
        attacks=parse_attacks(args.attack), eps=parse_eps(args.eps), data=args.data,
        samples=args.samples, slopes=_slopes(args.slopes), steps=args.pgd_steps,
        restarts=args.restarts, queries=args.queries, twin_epochs=args.twin_epochs,
        chips=args.chips if args.attack_chips else 0, chip_seed=args.seed,
        sets=parse_sets(args.set))
    out = Path(args.output) if args.output else Path(args.build) / "attack"
    check_writable(out, directory=True)
    say = None if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    report = run_attacks(str(args.build), settings, say)
    write_reports(out, report)
    print("\n".join(summary_lines(report)))
    print(f"wrote {out / 'report.json'} and {out / 'report.html'}")
    return 0
