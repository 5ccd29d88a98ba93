"""What each backend runs, declared as data, and the one check every backend entry point
calls first.

A :class:`Capabilities` object names the backend's modes (``run``, ``batch``, ``learn``),
its numerics, and the noise channels it applies per mode. Neuron kinds are not listed by
the backend: a kind carries its translations (``NeuronKind.backends``), so a kind
registered from outside runs on every backend it has a translation for and is refused by
name on the others. :func:`refusal` is the single place a plan's kinds, noise models and
monitors are held against a backend; nothing is substituted (a LIF for an unknown kind) or
dropped (a noise source a backend does not apply).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from neurodeploy import neurons
from neurodeploy.neurons import SOURCE_KINDS, FixedConstants, kind_of
from neurodeploy.noise_models import MODELS

from .noise import noise_refusal

MODES = ("run", "batch", "learn")
#: what a backend is called in each mode, in refusals
ROLE = {"run": "simulator", "batch": "batch simulator", "learn": "learner"}


@dataclass(frozen=True)
class Capabilities:
    """What one backend implements."""

    backend: str
    modes: tuple[str, ...]
    numerics: tuple[str, ...]
    #: noise channels applied per mode (:data:`neurodeploy.noise_models.CHANNELS`)
    noise_channels: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: ``kind_check(kind) -> str | None``: why this backend cannot run a kind it has a
    #: translation of (the cpu: a float aux state, a kind registered after its loop compiled)
    kind_check: Callable[[Any], str | None] | None = None

    def kinds(self, mode: str) -> list[str]:
        """The registered kinds this backend has a translation of for ``mode``."""
        return [k.name for k in neurons.KINDS.values() if k.runs_on(self.backend, mode)]

    def noise_models(self, mode: str) -> list[str]:
        """The registered noise models whose channel this backend applies in ``mode``."""
        chans = self.noise_channels.get(mode, ())
        return [m.name for m in MODELS.values() if m.channel in chans]


def refusal(caps: Capabilities, plan: Any, mode: str) -> str | None:
    """Why backend ``caps`` cannot run ``plan`` in ``mode`` (one line naming the population
    or field and the reason), or None when it can."""
    if mode not in caps.modes:
        return f"the {caps.backend} backend has no {ROLE[mode]} (it has: " + ", ".join(
            ROLE[m] for m in caps.modes) + ")"
    if plan.numerics not in caps.numerics:
        return (f"numerics '{plan.numerics}' is not implemented (it runs "
                f"{' and '.join(caps.numerics)} builds)")
    fc = FixedConstants.from_neuron_model(plan.neuron_model)
    for name, pop in plan.populations.items():
        reason = _kind_refusal(caps, plan, mode, name, pop, fc)
        if reason:
            return reason
    for block in plan.noise:
        model = MODELS.get(block)
        if model is None:
            return (f"noise.{block} is not a registered noise model (known: "
                    f"{', '.join(MODELS)})")
        if model.channel not in caps.noise_channels.get(mode, ()):
            have = ", ".join(caps.noise_models(mode)) or "none"
            return (f"noise.{block} is temporal noise through channel '{model.channel}', which "
                    f"the {caps.backend} {ROLE[mode]} does not apply (it applies: {have}); "
                    "use a backend that does (--backend cpu), or remove it")
    reason = noise_refusal(plan)
    if reason:
        return reason
    for pop, var in plan.monitors:
        if pop not in plan.populations:
            return f"monitor of unknown population '{pop}'"
        kind = kind_of(plan.populations[pop].kind)
        have = kind.monitor_vars if kind else ("spikes",)
        if var not in have:
            return (f"monitor {pop}.{var}: {plan.populations[pop].kind} populations have no "
                    f"{var} (they record {', '.join(have)})")
    return None


def _kind_refusal(caps: Capabilities, plan: Any, mode: str, name: str, pop: Any,
                  fc: FixedConstants) -> str | None:
    """Why population ``name`` cannot run on this backend (its kind, numerics, parameters)."""
    if pop.kind in SOURCE_KINDS:
        return None
    kind = kind_of(pop.kind)
    if kind is None:
        return (f"population '{name}' has kind '{pop.kind}', which is not a registered "
                f"neuron kind (known: {', '.join(list(neurons.KINDS) + list(SOURCE_KINDS))})")
    if not kind.runs_on(caps.backend, mode):
        where = [f"{b} ({'/'.join(m)})" for b, m in kind.backends.items()] or ["none"]
        return (f"population '{name}' has kind '{pop.kind}', which has no {caps.backend} "
                f"translation to {mode} (it runs on: {', '.join(where)})")
    if caps.kind_check is not None:
        reason = caps.kind_check(kind)
        if reason:
            return f"population '{name}' has kind '{pop.kind}', {reason}"
    if plan.numerics not in kind.numerics:
        return (f"population '{name}' is {pop.kind}, which has no {plan.numerics} model; "
                f"compile it for a {' or '.join(kind.numerics)} profile")
    if kind.refusal is not None:
        reason = kind.refusal(pop, plan.fixed, fc)
        if reason:
            return f"population '{name}': {reason}"
    return None


def translated(backend: str, names: tuple[str, ...]) -> Callable[[Any], str | None]:
    """A ``kind_check`` refusing a kind that claims ``backend`` (``NeuronKind.backends``)
    but which that backend's builders do not translate (``names``)."""
    def check(kind: Any) -> str | None:
        if kind.name in names:
            return None
        return (f"which claims a {backend} translation that the {backend} backend does not "
                f"have (it builds {', '.join(names)})")
    return check


def declared(caps: Capabilities) -> dict[str, Any]:
    """The declaration as plain data (what a backend runs, for docs and the matrix test)."""
    return {"backend": caps.backend, "modes": list(caps.modes), "numerics": list(caps.numerics),
            "kinds": {m: caps.kinds(m) for m in caps.modes},
            "noise": {m: caps.noise_models(m) for m in caps.modes}}


__all__ = ["Capabilities", "MODES", "declared", "refusal", "translated"]
