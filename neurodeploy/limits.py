"""Resource limits checked before anything big is read or allocated.

Every hostile or mistaken input that could exhaust the machine (a YAML alias bomb, a weight
file whose header claims gigabytes, a dense projection of a trillion synapses, a run of
10^12 steps) is measured from its description first and refused with the number and the
limit. Limits scale with the machine: the memory budget is half of the physical memory, or
of the address-space limit (``ulimit -v``) when one is set, and can be set explicitly with
``NEURODEPLOY_MAX_MEMORY`` (bytes, or with a K/M/G/T suffix).
"""
from __future__ import annotations

import os
import resource
from collections.abc import Iterable

from .errors import NeurodeployError

MAX_YAML_BYTES = 64 * 2**20
MAX_YAML_DEPTH = 64
MAX_ALIAS_EXPANSION = 1_000_000
# Peak memory of parsing YAML per byte of text, worst case (a flow list of one-digit
# values: 4 MB took 1.03 GB with libyaml and our line map; a mapping about half of that).
YAML_MEMORY_PER_BYTE = 300
MEMORY_ENV = "NEURODEPLOY_MAX_MEMORY"
# Measured peak bytes per synapse while compiling (float64 weights, int32 indices and
# temporaries; benchmarks/README.md): 33 dense, 45-48 sparse. Per-synapse delays add 8.
COMPILE_BYTES_PER_SYNAPSE = 48
COMPILE_BYTES_PER_DELAY = 8
_SUFFIX = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def format_bytes(n: float) -> str:
    """1536 -> '1.5 KiB' (binary units, three significant digits)."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(value) < 1024 or unit == "PiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.3g} {unit}"
        value /= 1024
    return f"{value:.3g} PiB"


def _parse_bytes(text: str) -> int:
    """'4G' -> 4 GiB; a plain number is bytes."""
    body = text.strip().upper().removesuffix("IB").removesuffix("B")
    suffix = body[-1] if body and body[-1] in _SUFFIX else ""
    number = body[: len(body) - len(suffix)] if suffix else body
    try:
        value = float(number) * _SUFFIX[suffix]
    except ValueError:
        raise NeurodeployError(f"{MEMORY_ENV}={text!r} is not a size; write bytes or e.g. 8G") from None
    if not value > 0 or value == float("inf"):
        raise NeurodeployError(f"{MEMORY_ENV}={text!r} must be a positive size, e.g. 8G")
    return int(value)


def memory_budget() -> tuple[int, str]:
    """(bytes one command may plan to allocate, where that number comes from)."""
    env = os.environ.get(MEMORY_ENV)
    if env:
        return _parse_bytes(env), f"set by {MEMORY_ENV}"
    try:
        physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        physical = 8 * 2**30
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY and 0 < soft < physical:
        return soft // 2, f"half the address-space limit (ulimit -v); set {MEMORY_ENV} to change it"
    return physical // 2, f"half the machine's memory; set {MEMORY_ENV} to change it"


def check_memory(estimate: int, what: str, fix: str, error_cls: type[NeurodeployError] = NeurodeployError,
                 **where) -> None:
    """Raise ``error_cls`` when ``estimate`` bytes exceed the memory budget."""
    budget, source = memory_budget()
    if estimate > budget:
        raise error_cls(f"{what} needs about {format_bytes(estimate)} of memory but the limit is "
                        f"{format_bytes(budget)} ({source}); {fix}", **where)


def run_output_bytes(steps: int, monitored: Iterable[tuple[int, str]], sources: Iterable[int]) -> int:
    """Bytes a run of ``steps`` holds: monitors ([steps, size], 8 bytes for v/u, 1 for
    spikes) plus the spike trains of the source populations (1 byte per neuron and step)."""
    per_step = sum(size * (1 if var == "spikes" else 8) for size, var in monitored)
    per_step += sum(sources)
    return int(steps) * int(per_step)


def check_run_size(plan, steps: int) -> None:
    """Refuse a run whose recorded output and inputs would not fit the memory budget.

    ``plan`` is a :class:`neurodeploy.compilers.plan.SimPlan`; called before any array of
    the run is allocated (``simulate``/``compare --steps``).
    """
    sizes = {name: pop.size for name, pop in plan.populations.items()}
    monitored = [(sizes[pop], var) for pop, var in plan.monitors if pop in sizes]
    sources = [sizes[name] for name in plan.sources()]
    estimate = run_output_bytes(steps, monitored, sources)
    check_memory(estimate, f"a run of {steps:,} steps ({len(monitored)} monitors, "
                 f"{sum(s for s, _ in monitored):,} monitored neurons)",
                 "run fewer steps (--steps) or monitor fewer populations")
