"""Check a network without writing anything: its summary, and whether it fits a profile."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .network import Network, as_network
from .profile import Profile, as_profile


@dataclass
class CheckReport:
    """What ``neurodeploy check`` prints: the network's summary and, with a profile, the
    compiler's warnings and the cores the build would use."""

    summary: str
    profile: str | None = None
    cores_used: int | None = None
    warnings: list[str] = field(default_factory=list)


def check(network: Network | str | Path, profile: Profile | str | Path | None = None) -> CheckReport:
    """Validate ``network`` (schema, references, weights and its learning pathway) and, given
    ``profile``, compile it in memory to check that it fits; raises the typed error otherwise."""
    net = as_network(network)
    # a sampling task's rules run on the sampling simulator, not the learning engine
    if net.ir.plasticity and getattr(net.ir.task, "kind", None) != "sampling":
        from ..learning.expand import expand
        expand(net.ir)                 # the learning pathway compile and train build
    report = CheckReport(summary=net.describe())
    if profile is not None:
        from ..compiling import compile_network
        prof = as_profile(profile)
        result = compile_network(net.ir, prof.hardware, out=None)
        report.profile = prof.name
        report.cores_used = int(result.report["resources"]["cores_used"])
        report.warnings = list(result.warnings)
    return report
