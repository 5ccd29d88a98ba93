"""The ``neurodeploy`` command line.

Exit codes: 0 ok, 1 user error (also a closed output pipe), 2 internal error, 3 backends
disagree (``compare``), 130 Ctrl-C, 143 SIGTERM, 129 SIGHUP (both cleaned up like Ctrl-C,
see :mod:`neurodeploy.signals`).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence

from .errors import NeurodeployError
from .signals import Terminated, handle_termination, raise_pending, received

EXIT_OK, EXIT_USER, EXIT_INTERNAL = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse that exits 1 (user error) on bad usage, as every other user error does."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USER, f"{self.prog}: error: {message}\n")


def _cmd_check(args: argparse.Namespace) -> int:
    from .ir import describe, load_network
    net = load_network(args.network)
    # a sampling task's rules run on the sampling simulator, not the learning engine
    if net.plasticity and getattr(net.task, "kind", None) != "sampling":
        from .learning.expand import expand
        expand(net)                 # the learning pathway compile and train build
    print(describe(net))
    if args.profile:
        from .compile import compile_network
        from .profiles import load_profile
        result = compile_network(net, load_profile(args.profile), out=None)
        _print_warnings(result.warnings)
        print(f"fits {args.profile}: {result.report['resources']['cores_used']} cores")
    print("ok")
    return EXIT_OK


def _cmd_compile(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .compile import compile_network
    from .ir import load_network
    from .profiles import load_profile
    from .compile.artifact import check_output_dir
    net = load_network(args.network)
    profile = load_profile(args.profile)
    out = Path(args.output) if args.output else Path("build") / net.name
    check_output_dir(out, force=args.force)
    result = compile_network(net, profile, out, force=args.force)
    if not args.quiet:
        print(result.report_txt, end="")
    else:
        _print_warnings(result.warnings)
    print(f"wrote {result.out}")
    return EXIT_OK


def _print_warnings(warnings: list[str]) -> None:
    """Warnings print even with --quiet (which only hides the report)."""
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)


def _cmd_profiles(args: argparse.Namespace) -> int:
    from .profiles import builtin_profiles, describe_profile, load_profile
    if args.action == "show":
        if not args.name:
            raise NeurodeployError("profiles show needs a profile name or path, e.g. "
                                   "`neurodeploy profiles show loihi2`")
        profile = load_profile(args.name)
        if args.json:
            print(json.dumps(profile.model_dump(mode="json"), indent=2, sort_keys=True))
        else:
            print(describe_profile(profile))
        return EXIT_OK
    for name in builtin_profiles():
        profile = load_profile(name)
        print(f"{name:14s} {profile.numerics:6s} {profile.description}")
    return EXIT_OK


def _cmd_schema(args: argparse.Namespace) -> int:
    if args.profile:
        from .profiles import profile_schema
        print(json.dumps(profile_schema(), indent=2, sort_keys=True))
        return EXIT_OK
    from .ir import network_schema
    print(json.dumps(network_schema(), indent=2, sort_keys=True))
    return EXIT_OK


EXIT_DISAGREE = 3


def _prepare_run(args: argparse.Namespace):
    """Plan, inputs and step count shared by simulate and compare."""
    from .compilers import load_plan, make_inputs
    from .compilers.plan import read_input_file
    plan = load_plan(args.build)
    if args.frozen:
        plan = plan.frozen()
    from .variability import apply_chip_option
    plan = apply_chip_option(plan, args.chip, args.nominal)
    steps = plan.steps if args.steps is None else args.steps
    from .limits import check_run_size
    check_run_size(plan, steps)
    given = read_input_file(args.input) if args.input else None
    return plan, make_inputs(plan, steps, given), steps


def _backend_options(name: str, args: argparse.Namespace) -> dict:
    if name == "brian2":
        return {"target": args.target}
    return {}


def _cmd_simulate(args: argparse.Namespace) -> int:
    from .compilers import get_backend
    from .compilers.result import state_scales
    from .outputs import check_outputs
    check_outputs({"--output": args.output, "--plot": args.plot}, inputs={"--input": args.input},
                  protected_dirs={"build": args.build})
    if args.plot:
        from .plot import check_plot_path
        check_plot_path(args.plot)
    plan, inputs, steps = _prepare_run(args)
    if args.plot and not plan.monitors:        # refused before anything is written
        raise NeurodeployError("nothing to plot: the build monitors no population; add "
                               "monitors to the network or drop --plot", file=args.build,
                               path=("--plot",))
    backend = get_backend(args.backend, **_backend_options(args.backend, args))
    backend.check(plan)
    result = backend.run(plan, inputs, steps)
    result.scales = state_scales(plan)
    out = result.save(args.output)
    for key, arr in result.data.items():
        extra = f", {int(arr.sum())} spikes" if key.endswith(".spikes") else ""
        print(f"{key}: shape {list(arr.shape)}{extra}")
    print(f"wrote {out}")
    if args.plot:
        from .plot import plot_result
        title = f"{plan.name} on {args.backend}"
        print(f"wrote {plot_result(result.data, args.plot, title, result.scales)}")
    return EXIT_OK


def _cmd_compare(args: argparse.Namespace) -> int:
    from .compilers import get_backend
    from .compilers.compare import compare_pair
    names = [n.strip() for n in args.backends.split(",") if n.strip()]
    if len(names) < 2:
        raise NeurodeployError("--backends needs at least two names, e.g. --backends cpu,lava")
    if args.save_dir:
        from pathlib import Path

        from .outputs import check_outputs
        check_outputs([("--save-dir", Path(args.save_dir) / f"{n}.npz") for n in names],
                      inputs={"--input": args.input}, protected_dirs={"build": args.build})
    plan, inputs, steps = _prepare_run(args)
    backends = [get_backend(n, **_backend_options(n, args)) for n in names]
    for backend in backends:
        backend.check(plan)
    results = {}
    for name, backend in zip(names, backends):
        results[name] = backend.run(plan, inputs, steps)
        if args.save_dir:
            from .compilers.result import state_scales
            results[name].scales = state_scales(plan)
            results[name].save(Path(args.save_dir) / f"{name}.npz")
    agree = True
    for name in names[1:]:
        report = compare_pair(names[0], results[names[0]], name, results[name], plan.numerics,
                              tolerance=args.tolerance)
        print("\n".join(report.lines()))
        agree = agree and (report.identical or (plan.numerics == "float" and report.within_tolerance))
    print(f"{plan.numerics} build, {steps} steps: " + ("backends agree" if agree else "backends DISAGREE"))
    return EXIT_OK if agree else EXIT_DISAGREE


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "check": _cmd_check, "compile": _cmd_compile, "profiles": _cmd_profiles,
    "schema": _cmd_schema, "simulate": _cmd_simulate, "compare": _cmd_compare,
}


def _add_run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("build", help="build directory written by `neurodeploy compile`")
    p.add_argument("--chip", type=int, metavar="K",
                   help="simulate Monte Carlo chip K of the build's seed: its fixed-pattern "
                        "mismatch (profile defaults and the variability block) applied; the "
                        "same chip on every backend")
    p.add_argument("--nominal", action="store_true",
                   help="simulate the mismatch-free chip of a build with variability")
    p.add_argument("--steps", type=_positive_int,
                   help="time steps, >= 1 (default: run.steps of the network)")
    p.add_argument("--input", help=".npz with <population>.spikes [steps, size] 0/1 arrays for "
                                   "spike_source populations (Poisson ones are drawn from the seed)")
    p.add_argument("--frozen", action="store_true",
                   help="simulate with fixed weights and without temporal noise when the build "
                        "has plasticity or noise blocks")
    p.add_argument("--target", choices=["numpy", "cython"], default="numpy",
                   help="Brian2 code generation target (default numpy; cython compiles once, slowly)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used by tests and docs)."""
    parser = _Parser(
        prog="neurodeploy",
        description="Compile spiking networks (YAML IR) to neuromorphic hardware profiles, "
                    "simulate the build on cpu, lava or brian2, and compare the backends.",
        epilog="Example: neurodeploy compile examples/digits_snn.yaml --profile loihi2 "
               "-o build/digits-snn")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    from . import __version__
    parser.add_argument("--version", action="version", version=f"neurodeploy {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("check", help="validate a network YAML and print a summary",
                       description="Validate a network YAML (schema, references, weight "
                                   "files) and print a summary. Exit 1 on the first error.")
    p.add_argument("network", help="network YAML file")
    p.add_argument("--profile", help="also check that it compiles for this profile")

    p = sub.add_parser("compile", help="compile a network for a hardware profile",
                       description="Quantize and map a network to a hardware profile and "
                                   "write a build directory (manifest.json, weights/, "
                                   "report.json, report.txt). Nothing is written on error.")
    p.add_argument("network", help="network YAML file")
    p.add_argument("--profile", "-p", default="loihi2",
                   help="built-in profile name or path to a profile YAML (default: loihi2)")
    p.add_argument("--output", "-o", help="build directory (default: build/<network name>)")
    p.add_argument("--force", action="store_true", help="replace an existing build directory")
    p.add_argument("--quiet", "-q", action="store_true", help="do not print the report")

    p = sub.add_parser("profiles", help="list built-in hardware profiles or show one",
                       description="List the built-in profiles, or show one (a name or a path "
                                   "to a profile YAML).")
    p.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    p.add_argument("name", nargs="?", help="profile name or path (for show)")
    p.add_argument("--json", action="store_true", help="print the resolved profile as JSON")

    p = sub.add_parser("simulate", help="run a build on one backend",
                       description="Run a build on a backend (cpu, lava, brian2) and save one "
                                   "array per monitor (<population>.<var>, [steps, size]) to an .npz.")
    _add_run_arguments(p)
    p.add_argument("--backend", "-b", default="cpu", help="cpu, lava or brian2 (default cpu)")
    p.add_argument("--output", "-o", default="out.npz", help="result file (default out.npz)")
    p.add_argument("--plot", help="also write a raster plot (PNG) of the monitors")

    p = sub.add_parser("compare", help="run a build on several backends and compare",
                       description="Run the same build and input on several backends. Fixed-point "
                                   "builds must be identical (else the first divergence is printed); "
                                   "float builds must agree within --tolerance. Exit 3 when they "
                                   "disagree.")
    _add_run_arguments(p)
    p.add_argument("--backends", default="cpu,lava", help="comma-separated (default cpu,lava); "
                                                          "the first is the reference")
    p.add_argument("--tolerance", type=float, default=0.5,
                   help="float builds: largest mean van Rossum distance per neuron (tau 10 steps)")
    p.add_argument("--save-dir", help="also save each backend's result as <dir>/<backend>.npz")

    p = sub.add_parser("schema", help="print the JSON Schema of the network IR (or of a profile)",
                       description="Print the JSON Schema of the network YAML, for editors: "
                                   "neurodeploy schema > ir.schema.json; with --profile, the "
                                   "schema of a hardware profile file (docs/profiles.md)")
    p.add_argument("--profile", action="store_true", help="print the profile schema instead")
    from .commands import register_all
    register_all(sub)
    for command in sub.choices.values():
        if "--debug" not in command._option_string_actions:
            command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                                 help="show tracebacks on errors")
    return parser


def _positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (0 must not silently mean 'the default')."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _quiet_broken_pipe() -> int:
    """stdout's reader went away (``neurodeploy schema | head``): stop without a traceback."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return EXIT_USER


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``neurodeploy`` script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_USER
    with handle_termination():
        try:
            handler = COMMANDS.get(args.command) or args.func
            code = handler(args)
            sys.stdout.flush()
            raise_pending()
            return code
        except BrokenPipeError:
            return _quiet_broken_pipe()
        except Terminated as exc:
            return _stopped(exc.signum)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        except Exception as exc:  # noqa: BLE001 - the CLI's last line of defence
            if received() is not None:       # a library turned our Terminated into its own
                return _stopped(received())  # error (e.g. an ImportError mid-import)
            if args.debug:
                traceback.print_exc()
            if isinstance(exc, NeurodeployError):
                print(f"error: {exc}", file=sys.stderr)
                return EXIT_USER
            print(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug and "
                  "report it)", file=sys.stderr)
            return EXIT_INTERNAL


def _stopped(signum: int) -> int:
    """Message and exit code after SIGTERM/SIGHUP: 128 + the signal number."""
    exc = Terminated(signum)
    print(f"stopped: received {exc.name}; the run was stopped and temporary files removed",
          file=sys.stderr)
    return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
