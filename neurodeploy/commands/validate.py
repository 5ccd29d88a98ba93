"""``validate`` (Monte Carlo yield of a build under device mismatch) and ``compare-profiles``.

Exit codes: 0 the measured yield meets ``--yield`` at every sweep point (or no target was
given), 4 it does not, 1 bad input, 2 a bug of ours.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_OK, EXIT_BELOW = 0, 4


def _summary(report: dict) -> list[str]:
    lines = []
    for e in report["points"]:
        head = (f"{report['sweep']['path']}={e['value']}: " if report["sweep"] else "")
        if e["yield"] is None:
            figs = ", ".join(f"{k} {v['mean']:.4g}+-{v['std']:.2g}"
                             for k, v in sorted(e["figures"].items()) if "." not in k)
            lines.append(f"{head}{e['chips']} chips; {figs}")
        else:
            lo, hi = e["yield_ci"]
            lines.append(f"{head}yield {e['yield']:.3f} ({e['passed']}/{e['chips']} chips), "
                         f"95 % CI [{lo:.3f}, {hi:.3f}] ({report['ci_method']})")
        if e.get("all_nominal"):
            lines.append(f"{head}every chip was nominal: no mismatch is set (profile, IR or "
                         "--set), so all chips are the same chip; add mismatch, e.g. --set "
                         "variability.weights.cv=0.05, to measure a yield")
        if "accuracy_before" in e["figures"]:
            lines.append(f"{head}fine-tuning: mean accuracy {e['figures']['accuracy_before']['mean']:.4f} "
                         f"before, {e['figures']['accuracy']['mean']:.4f} after")
    return lines


def _cmd_validate(args: argparse.Namespace) -> int:
    from neurodeploy.api.validation import validate
    if args.attack is not None:
        return _cmd_attack(args)
    out = Path(args.output) if args.output else Path(args.build) / "validation"
    report = validate(args.build, chips=args.chips, spec=args.spec, target_yield=args.target,
                      overrides=args.set or [], sweep=args.sweep, backend=args.backend,
                      seed=args.seed, steps=args.steps, inputs=args.input, data=args.data,
                      samples=args.samples, frozen=args.frozen, finetune=args.finetune,
                      finetune_epochs=args.finetune_epochs,
                      finetune_samples=args.finetune_samples,
                      finetune_lr_scale=args.finetune_lr_scale,
                      finetune_freeze_feedback=args.finetune_freeze_feedback, out=out, resume=args.resume,
                      force=args.force, dask=args.dask, workers=args.workers,
                      scheduler=args.scheduler, chunk=args.chunk, progress=not args.quiet).raw
    print("\n".join(_summary(report)))
    print(f"wrote {out / 'report.json'} and {out / 'report.html'}")
    if report["meets_target"] is False:
        print(f"yield below the target {args.target}", file=sys.stderr)
        return EXIT_BELOW
    return EXIT_OK


def _cmd_attack(args: argparse.Namespace) -> int:
    """``validate BUILD --attack ...``: OUT/report.json and report.html (OUT: ``--output``
    or BUILD/attack)."""
    from neurodeploy.api.attack import attack
    from neurodeploy.errors import NeurodeployError
    if args.finetune or args.sweep or args.input or args.spec or args.target is not None:
        raise NeurodeployError("does not combine with --finetune, --sweep, --input, --spec "
                               "or --yield; run those as a separate validate",
                               path=("--attack",))
    if args.backend != "cpu":
        raise NeurodeployError("attacked inputs run through the build's cpu numerics "
                               "(bit-exact with Lava); use --backend cpu", path=("--backend",))
    out = Path(args.output) if args.output else Path(args.build) / "attack"
    report = attack(args.build, attacks=args.attack, eps=args.eps, data=args.data,
                    samples=args.samples, slopes=args.slopes, pgd_steps=args.pgd_steps,
                    restarts=args.restarts, queries=args.queries, twin_epochs=args.twin_epochs,
                    chips=args.chips if args.attack_chips else 0, seed=args.seed,
                    overrides=args.set or [], out=out, progress=not args.quiet)
    print(str(report))
    print(f"wrote {out / 'report.json'} and {out / 'report.html'}")
    return EXIT_OK


def _cmd_compare_profiles(args: argparse.Namespace) -> int:
    from neurodeploy.api.compare_profiles import compare_profiles
    result = compare_profiles(args.network, [p.strip() for p in args.profiles.split(",") if p.strip()],
                              chips=args.chips, spec=args.spec, out=args.output,
                              inputs=args.input, steps=args.steps, seed=args.seed,
                              progress=not args.quiet, frozen=args.frozen, data=args.data,
                              samples=args.samples)
    for line in result.table:
        print(line)
    if result.folder is not None:
        print(f"wrote {result.folder / 'compare.json'}")
    return EXIT_OK


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--chips", type=int, default=100, help="Monte Carlo chips (default 100)")
    p.add_argument("--spec", help="pass/fail spec, e.g. 'accuracy>=0.9', 'out.rate>=5 and "
                                  "distance<=0.3' (see docs/validate.md)")
    p.add_argument("--seed", type=int, help="chip seed (default: the build's seed); chip k "
                                            "of seed s is the same chip on every backend")
    p.add_argument("--steps", type=int, help="time steps per run (default: run.steps)")
    p.add_argument("--input", help=".npz with <population>.spikes for spike_source populations")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.add_argument("--data", default="digits",
                   help="data set of a network with a task: digits (default), mnist5k or an .npz with "
                        "x_train, y_train, x_test, y_test (as for train/evaluate)")
    p.add_argument("--samples", type=int, help="use only the first N test samples")
    p.add_argument("--frozen", action="store_true",
                   help="run a network with plasticity or temporal noise with fixed weights "
                        "and no temporal noise (as simulate --frozen)")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``validate`` and ``compare-profiles``."""
    p = sub.add_parser(
        "validate", help="Monte Carlo yield of a build under device mismatch",
        description="Simulate many mismatched chips of a build (fixed-pattern variability "
                    "from the profile, the IR's variability block and --set/--sweep), measure "
                    "each against --spec and report the yield with a 95 % Clopper-Pearson "
                    "interval. Results are appended to DIR/results.jsonl as chips finish "
                    "(--resume continues a killed run); DIR/report.json and report.html "
                    "summarise. Exit 0 when the yield meets --yield at every sweep point, "
                    "4 when not, 1 on bad input.")
    p.add_argument("build", help="build directory")
    _common(p)
    p.add_argument("--yield", dest="target", type=float,
                   help="required yield in 0..1 (exit 4 when the measured yield is lower)")
    p.add_argument("--sweep", help="PATH=v1,v2,... e.g. variability.weights.cv=0,0.05,0.1")
    p.add_argument("--set", action="append", metavar="PATH=VALUE",
                   help="override one mismatch setting (repeatable), e.g. "
                        "variability.weights.dist=lognormal")
    p.add_argument("--output", "-o", help="output folder (default BUILD/validation)")
    p.add_argument("--resume", action="store_true",
                   help="continue the results in the output folder; finished chips are kept")
    p.add_argument("--force", action="store_true", help="discard earlier results in the folder")
    p.add_argument("--backend", "-b", default="cpu", choices=["cpu", "lava", "brian2"],
                   help="cpu (batched, default), lava or brian2 (one chip per run)")
    p.add_argument("--dask", action="store_true",
                   help="run the chips on a local Dask cluster (--workers processes)")
    p.add_argument("--workers", type=int, help="local Dask cluster size (default 2)")
    p.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. "
                                       "tcp://127.0.0.1:8786 (workers need neurodeploy and "
                                       "the build/input paths)")
    p.add_argument("--chunk", type=int, help="chips per task (default 25 cpu, 4 lava, 1 brian2)")
    p.add_argument("--finetune", action="store_true",
                   help="chip-in-the-loop: each chip runs the build's own learning rule on the "
                        "training split, then is tested; reports accuracy before and after "
                        "(needs a float build that kept its plasticity block; cpu backend)")
    p.add_argument("--finetune-epochs", type=int, default=1,
                   help="passes over the training split per chip (default 1)")
    p.add_argument("--finetune-samples", type=int,
                   help="fine-tune on N training samples (a seeded subset; default all)")
    p.add_argument("--finetune-lr-scale", type=float,
                   help="factor on the rule's learning rate (default: where train's schedule "
                        "stopped, lr_decay ** epochs trained)")
    p.add_argument("--finetune-freeze-feedback", action="store_true",
                   help="the control run: feedback matrices B stay as built (no B updates, no "
                        "alignment phases) while W fine-tunes; compare the angle figures")
    from neurodeploy.validation.attacks.cli import add_options
    add_options(p)
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser(
        "compare-profiles", help="one network on several profiles: nominal vs mismatched",
        description="Compile a network for each profile and run it nominal (no mismatch) and "
                    "as --chips chips with that profile's mismatch; print figures (and the "
                    "yield of --spec) side by side.")
    p.add_argument("network", help="network YAML")
    p.add_argument("--profiles", default="cpu,loihi2,mixed_signal",
                   help="comma-separated profiles (default cpu,loihi2,mixed_signal)")
    _common(p)
    p.add_argument("--output", "-o", help="folder for builds and results (default: a "
                                          "temporary folder that is removed)")
    p.set_defaults(func=_cmd_compare_profiles, chips=50)

