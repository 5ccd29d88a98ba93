"""neurodeploy: compile spiking networks to hardware profiles, simulate, train, validate.

The public Python API (everything else is private by convention; reference: docs/api.md)::

    import neurodeploy as nd
    net = nd.Network.load("examples/digits_fa.yaml")          # or nd.Network(name=..., ...)
    build = nd.compile(net, nd.Profile.load("loihi2"))        # in memory until build.save(dir)
    result = build.simulate(backend="cpu", inputs={...}, steps=100)
    trained = nd.train(net, profile="loihi2", epochs=5)       # .build, .curves
    report = nd.validate(trained.build, chips=50, spec="accuracy>=0.8")

Units: time in ms (``dt``, time constants), rates in Hz, voltages in the unit of the
network's ``v_th`` (or chip units where asked). Errors are :class:`NeurodeployError`
subclasses carrying the CLI's one-line message, ``file`` and field ``path``.

Importing the package installs the Lava compatibility shim (see ``_lava_compat``) so that
``import lava...`` works on Python 3.11 afterwards; Lava itself is not imported here, and
the API's modules are imported on first use (PEP 562), so the CLI stays quick to start.
"""
from __future__ import annotations

from . import _lava_compat
from ._lazy import lazy_exports

_lava_compat.install()

__version__ = "0.1.0"

_EXPORTS = {
    "Network": "api.network", "Profile": "api.profile", "Build": "api.build",
    "compile": "api.build", "simulate": "api.run", "compare": "api.run",
    "Result": "api.results", "Comparison": "api.results",
    "train": "api.learn", "evaluate": "api.evaluation", "TrainResult": "api.learn",
    "Evaluation": "api.evaluation", "validate": "api.validation",
    "check": "api.check", "CheckReport": "api.check",
    "compare_profiles": "api.compare_profiles", "ProfileComparison": "api.compare_profiles",
    "attack": "api.attack", "AttackReport": "api.attack",
    "ValidationReport": "api.validation", "to_nir": "api.nir", "from_nir": "api.nir",
    "MissingExtraError": "extras",
    "NeurodeployError": "errors", "IRError": "errors", "ProfileError": "errors",
    "CompileError": "errors", "ArtifactError": "errors", "BackendError": "errors",
}

__all__ = ["__version__", *_EXPORTS]


__getattr__ = lazy_exports(__name__, _EXPORTS)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
