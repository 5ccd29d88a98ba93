"""Mismatch settings of a build: profile defaults, then the IR's ``variability`` block, then
the command line (``variability.weights.cv=0.1``), each value remembering where it came from.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from neurodeploy.errors import NeurodeployError, did_you_mean


class VariabilityError(NeurodeployError):
    """A mismatch setting is unknown or out of range."""


@dataclass(frozen=True)
class Param:
    """One setting: its command-line path, its key in the profile, its kind and range."""

    path: str
    profile_key: str
    kind: str               # "float", "int", "dist", "bool"
    low: float = 0.0
    high: float | None = None
    high_open: bool = False
    doc: str = ""


PARAMS: tuple[Param, ...] = (
    Param("variability.v_th.cv", "v_th_cv", "float", 0, 1, doc="threshold x (1 + cv z)"),
    Param("variability.tau_mem.cv", "tau_mem_cv", "float", 0, 1,
          doc="membrane time constant x (1 + cv z): changes dv"),
    Param("variability.tau_syn.cv", "tau_syn_cv", "float", 0, 1,
          doc="synaptic time constant x (1 + cv z): changes du"),
    Param("variability.bias.sigma", "bias_sigma", "float", 0, None,
          doc="bias + sigma z (units of v_th)"),
    Param("variability.gain.cv", "gain_cv", "float", 0, 1,
          doc="per-neuron input gain max(1 + cv z, 0): scales every synaptic input of a neuron"),
    Param("variability.weights.cv", "weights_cv", "float", 0, 1,
          doc="per-synapse gain with this coefficient of variation"),
    Param("variability.weights.dist", "weights_dist", "dist",
          doc="gain distribution: gaussian (1 + cv z, clipped at 0) or lognormal (mean 1)"),
    Param("variability.dead_fraction", "dead_fraction", "float", 0, 1, True,
          doc="neurons that never spike"),
    Param("variability.stuck_on_fraction", "stuck_on_fraction", "float", 0, 1, True,
          doc="neurons that spike every step they can"),
    Param("variability.stuck_fraction", "stuck_fraction", "float", 0, 1, True,
          doc="synapses stuck at zero or at the largest weight"),
    Param("variability.stuck_max_share", "stuck_max_share", "float", 0, 1,
          doc="share of stuck synapses that are stuck at the largest weight"),
    Param("variability.memristive.write_noise", "write_noise", "float", 0, 1,
          doc="programming noise, std as a fraction of the projection's full scale"),
    Param("variability.memristive.drift_nu", "drift_nu", "float", 0, 1,
          doc="drift exponent: w x (t / 1 s)^-nu"),
    Param("variability.memristive.drift_nu_cv", "drift_nu_cv", "float", 0, 10,
          doc="device-to-device spread of nu (relative)"),
    Param("variability.memristive.drift_time_s", "drift_time_s", "float", 1, None,
          doc="seconds between programming and reading"),
    Param("variability.learning.cv", "learning_rate_cv", "float", 0, 1,
          doc="per-synapse learning-rate gain A = 1 + cv z (forward, feedback independent)"),
    Param("variability.learning.update_noise", "update_noise", "float", 0, None,
          doc="noise on every weight update, std in weight LSBs"),
    Param("variability.learning.stochastic_rounding", "stochastic_rounding", "bool",
          doc="round updates stochastically to the weight precision"),
    Param("variability.learning.weight_bits", "learning_weight_bits", "int", 2, 24,
          doc="weight precision of a float build's learning: LSB = max|w| / (2^(bits-1) - 1)"),
)
BY_PATH = {p.path: p for p in PARAMS}
BY_KEY = {p.profile_key: p for p in PARAMS}
DEFAULTS: dict[str, Any] = {
    "v_th_cv": 0.0, "tau_mem_cv": 0.0, "tau_syn_cv": 0.0, "bias_sigma": 0.0, "gain_cv": 0.0,
    "weights_cv": 0.0, "weights_dist": "gaussian", "dead_fraction": 0.0,
    "stuck_on_fraction": 0.0, "stuck_fraction": 0.0, "stuck_max_share": 0.5,
    "write_noise": 0.0, "drift_nu": 0.0, "drift_nu_cv": 0.0, "drift_time_s": 1.0,
    "learning_rate_cv": 0.0, "update_noise": 0.0, "stochastic_rounding": None,
    "learning_weight_bits": 8,
}
# IR variability block -> profile keys
_IR_KEYS = {("v_th", "cv"): "v_th_cv", ("tau_mem", "cv"): "tau_mem_cv",
            ("tau_syn", "cv"): "tau_syn_cv", ("bias", "sigma"): "bias_sigma",
            ("gain", "cv"): "gain_cv",
            ("weights", "cv"): "weights_cv", ("dead_fraction",): "dead_fraction",
            ("stuck_fraction",): "stuck_fraction"}


@dataclass(frozen=True)
class MismatchConfig:
    """Resolved mismatch settings (profile keys) and the source of each value."""

    values: dict[str, Any] = field(default_factory=lambda: dict(DEFAULTS))
    sources: dict[str, str] = field(default_factory=dict)

    def __getattr__(self, key: str) -> Any:
        values = self.__dict__.get("values", {})
        if key in values:
            return values[key]
        raise AttributeError(key)

    @property
    def any(self) -> bool:
        """True when at least one fixed-pattern effect is switched on."""
        v = self.values
        return any(v[k] > 0 for k in ("v_th_cv", "tau_mem_cv", "tau_syn_cv", "bias_sigma", "gain_cv",
                                      "weights_cv", "dead_fraction", "stuck_on_fraction",
                                      "stuck_fraction", "write_noise", "drift_nu"))

    @classmethod
    def from_manifest(cls, manifest: dict) -> "MismatchConfig":
        """Profile defaults recorded in the build, overridden by the IR's block."""
        block = manifest.get("variability") or {}
        profile = (manifest.get("profile") or {}).get("name", "profile")
        values, sources = dict(DEFAULTS), {k: "default" for k in DEFAULTS}
        for key, val in (block.get("profile_defaults") or {}).items():
            if key in values:
                values[key] = val
                sources[key] = f"profile {profile}"
        effective = block.get("effective") or {}
        for ir_path, key in _IR_KEYS.items():
            node: Any = block.get("from_ir") or {}
            for part in ir_path:
                node = node.get(part) if isinstance(node, dict) else None
            value = effective.get(key, node)      # the compiler's IR-over-profile precedence
            if value is None:
                continue
            from_profile = node is None and value == values[key]
            values[key] = value
            if not from_profile:
                sources[key] = "IR variability." + ".".join(ir_path)
        if values["stochastic_rounding"] is None:
            values["stochastic_rounding"] = manifest.get("numerics") == "fixed"
            sources["stochastic_rounding"] = "numerics"
        return cls(values=values, sources=sources)

    def with_overrides(self, overrides: dict[str, Any], source: str = "command line"
                       ) -> "MismatchConfig":
        """A copy with ``{path: value}`` applied (paths as in :data:`PARAMS`), validated."""
        values, sources = dict(self.values), dict(self.sources)
        for path, raw in overrides.items():
            param = lookup(path)
            values[param.profile_key] = coerce(param, raw)
            sources[param.profile_key] = source
        return replace(self, values=values, sources=sources)

    def describe(self) -> dict[str, dict[str, Any]]:
        """``{path: {"value", "source"}}`` of every setting (for reports)."""
        return {p.path: {"value": self.values[p.profile_key],
                         "source": self.sources.get(p.profile_key, "default")} for p in PARAMS}


def lookup(path: str) -> Param:
    """The parameter at ``path``; unknown paths are errors naming the known ones."""
    if path not in BY_PATH:
        raise VariabilityError(f"unknown parameter path '{path}'{did_you_mean(path, BY_PATH)}; "
                               f"known: {', '.join(BY_PATH)}")
    return BY_PATH[path]


def coerce(param: Param, raw: Any) -> Any:
    """Parse and range-check one value of ``param`` (strings from the command line too)."""
    where = param.path
    if param.kind == "dist":
        if raw not in ("gaussian", "lognormal"):
            raise VariabilityError(f"{where} must be gaussian or lognormal; got {raw!r}")
        return raw
    if param.kind == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise VariabilityError(f"{where} must be true or false; got {raw!r}")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise VariabilityError(f"{where} must be a number; got {raw!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise VariabilityError(f"{where} must be finite; got {raw!r}")
    if param.kind == "int" and value != int(value):
        raise VariabilityError(f"{where} must be a whole number; got {raw!r}")
    if value < param.low:
        what = "a coefficient of variation" if where.endswith(".cv") else "this value"
        raise VariabilityError(f"{where} = {value:g} is negative or too small; {what} must "
                               f"be >= {param.low:g}")
    if param.high is not None and (value > param.high or (param.high_open and value >= param.high)):
        op = "<" if param.high_open else "<="
        raise VariabilityError(f"{where} = {value:g} is out of range; it must be {op} "
                               f"{param.high:g}")
    return int(value) if param.kind == "int" else value
