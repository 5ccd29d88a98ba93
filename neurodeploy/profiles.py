"""Hardware profiles: a target's numerics, bit widths, limits, learning engine and mismatch.

Built-in profiles live in ``hw_profiles/*.yaml`` (installed as ``neurodeploy.hw_profiles``);
users may pass a path to their own file. ``extends: <name or path>`` inherits from another
profile, with mappings merged key by key.
"""
from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, PositiveInt, ValidationError, model_validator

from .errors import ProfileError, did_you_mean
from .ir.load import pydantic_to_error
from .ir.models import LEARNING_RULES, Node
from .yamlio import LoadedYAML, load_yaml

Bits = Annotated[int, Field(ge=1, le=64)]


class NeuronSpec(Node):
    """Neuron numerics. With ``numerics: fixed`` these follow Lava's bit-accurate CUBA LIF."""

    kinds: list[Literal["lif", "spike_source", "poisson"]] = ["lif", "spike_source", "poisson"]
    state_bits: Bits | None = Field(None, description="u and v width (two's complement)")
    decay_bits: Bits | None = Field(None, description="du/dv width; decay = d / 2**decay_bits")
    threshold_bits: Bits | None = Field(None, description="unsigned vth mantissa width")
    threshold_shift: int = Field(0, ge=0, description="vth is left-shifted by this")
    activation_bits: Bits | None = Field(None, description="width of the per-step input")
    activation_shift: int = Field(0, ge=0, description="input is left-shifted by this")
    bias_mant_bits: Bits | None = Field(None, description="signed bias mantissa width")
    bias_exp_range: tuple[int, int] = (0, 0)
    refractory: bool = True
    state_headroom_bits: int = Field(3, ge=0, le=16,
                                     description="bits kept free above threshold in v")


class WeightSpec(Node):
    """Synaptic weight storage: integer mantissa with a shared exponent, or analog levels."""

    bits: Bits | None = Field(None, description="mantissa bits (fixed numerics)")
    exp_range: tuple[int, int] = (0, 0)
    levels: PositiveInt | None = Field(None, description="distinct analog values (float numerics)")


class DelaySpec(Node):
    """Largest synaptic delay in steps beyond the inherent one-step transmission."""

    max: int = Field(0, ge=0)


class CoreSpec(Node):
    """Resources per core and per system; ``null`` means unlimited."""

    cores_per_chip: PositiveInt | None = None
    max_chips: PositiveInt = 1
    neurons_per_core: PositiveInt | None = None
    synapses_per_core: PositiveInt | None = None
    fanin_per_core: PositiveInt | None = Field(None, description="distinct input axons per core")
    fanin_per_neuron: PositiveInt | None = None
    memory_per_core_bytes: PositiveInt | None = None
    bytes_per_neuron: float = Field(0.0, ge=0)
    bits_per_synapse_dense: float = Field(0.0, ge=0)
    bits_per_synapse_sparse: float = Field(0.0, ge=0)


class LearningSpec(Node):
    """What the on-chip learning engine can express."""

    supported: bool = False
    rules: list[str] = Field(default_factory=list)
    trace_bits: Bits | None = None
    epoch_steps: PositiveInt | None = None
    third_factor: bool = False
    notes: str = ""

    @model_validator(mode="after")
    def _known_rules(self) -> "LearningSpec":
        if self.rules and not self.supported:
            raise ValueError("rules are listed but supported is false; set supported: true "
                             "or remove the rules")
        for rule in self.rules:
            if rule not in LEARNING_RULES:
                raise ValueError(f"unknown rule '{rule}'{did_you_mean(rule, LEARNING_RULES)}")
        return self


class NoiseSpec(Node):
    """Temporal noise the target has or can generate (``membrane``, ``spike_drop``)."""

    sources: list[Literal["membrane", "spike_drop"]] = Field(default_factory=list)


class VariabilitySpec(Node):
    """Default fixed-pattern mismatch figures of the target (relative spreads)."""

    v_th_cv: float = Field(0.0, ge=0, le=1)
    tau_mem_cv: float = Field(0.0, ge=0, le=1)
    tau_syn_cv: float = Field(0.0, ge=0, le=1)
    weights_cv: float = Field(0.0, ge=0, le=1)
    dead_fraction: float = Field(0.0, ge=0, lt=1)
    stuck_fraction: float = Field(0.0, ge=0, lt=1)
    # read by neurodeploy.variability (validate); see docs/validate.md
    bias_sigma: float = Field(0.0, ge=0, description="absolute bias spread, units of v_th")
    weights_dist: Literal["gaussian", "lognormal"] = "gaussian"
    stuck_on_fraction: float = Field(0.0, ge=0, lt=1, description="neurons firing every step")
    stuck_max_share: float = Field(0.5, ge=0, le=1,
                                   description="share of stuck synapses stuck at max (rest at 0)")
    write_noise: float = Field(0.0, ge=0, le=1,
                               description="programming noise, std relative to full scale")
    drift_nu: float = Field(0.0, ge=0, le=1, description="conductance drift exponent (t/t0)^-nu")
    drift_nu_cv: float = Field(0.0, ge=0, le=10)
    drift_time_s: float = Field(1.0, ge=1, description="seconds since programming (t0 = 1 s)")
    learning_rate_cv: float = Field(0.0, ge=0, le=1,
                                    description="per-synapse learning-rate gain spread")
    update_noise: float = Field(0.0, ge=0, description="weight-update noise, std in LSBs")


class HardwareProfile(Node):
    """A compile target."""

    name: str
    description: str = ""
    extends: str | None = None
    numerics: Literal["fixed", "float"]
    neuron: NeuronSpec = Field(default_factory=NeuronSpec)
    weights: WeightSpec = Field(default_factory=WeightSpec)
    delays: DelaySpec = Field(default_factory=DelaySpec)
    cores: CoreSpec = Field(default_factory=CoreSpec)
    learning: LearningSpec = Field(default_factory=LearningSpec)
    noise: NoiseSpec = Field(default_factory=NoiseSpec)
    variability: VariabilitySpec = Field(default_factory=VariabilitySpec)

    @model_validator(mode="after")
    def _fixed_needs_widths(self) -> "HardwareProfile":
        if self.numerics == "fixed":
            needed = {"neuron.state_bits": self.neuron.state_bits,
                      "neuron.decay_bits": self.neuron.decay_bits,
                      "neuron.threshold_bits": self.neuron.threshold_bits,
                      "neuron.activation_bits": self.neuron.activation_bits,
                      "neuron.bias_mant_bits": self.neuron.bias_mant_bits,
                      "weights.bits": self.weights.bits}
            missing = [k for k, v in needed.items() if v is None]
            if missing:
                raise ValueError(f"numerics: fixed needs {', '.join(missing)}; set them or "
                                 "use numerics: float")
        for field in ("bias_exp_range", "exp_range"):
            spec = self.neuron if field == "bias_exp_range" else self.weights
            lo, hi = getattr(spec, field)
            if lo > hi:
                raise ValueError(f"{field} [{lo}, {hi}] is empty; write [low, high]")
        return self

    def content_hash(self) -> str:
        """sha256 of the resolved profile, recorded in every manifest."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def total_cores(self) -> int | None:
        """Cores available to one network, or None when unlimited."""
        if self.cores.cores_per_chip is None:
            return None
        return self.cores.cores_per_chip * self.cores.max_chips


def builtin_profiles() -> list[str]:
    """Names of the profiles shipped in ``neurodeploy.hw_profiles``."""
    folder = resources.files("neurodeploy.hw_profiles")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def _locate(ref: str, relative_to: Path | None) -> tuple[str, Any]:
    """Resolve a profile reference (built-in name or path) to (display name, file)."""
    looks_like_path = ref.endswith((".yaml", ".yml")) or "/" in ref or "\\" in ref
    if looks_like_path:
        path = Path(ref)
        if not path.is_absolute() and relative_to is not None:
            path = relative_to / path
        if not path.exists():
            raise ProfileError("profile file not found; check the path or use a built-in "
                               f"profile ({', '.join(builtin_profiles())})", file=path)
        return str(path), path
    names = builtin_profiles()
    if ref not in names:
        raise ProfileError(f"unknown profile '{ref}'{did_you_mean(ref, names)}; built-in "
                           f"profiles: {', '.join(names)} (or pass a path to a .yaml file)")
    return ref, resources.files("neurodeploy.hw_profiles").joinpath(f"{ref}.yaml")


def _merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _raw_profile(ref: str, relative_to: Path | None, chain: tuple[str, ...]) -> tuple[dict, LoadedYAML]:
    name, file = _locate(ref, relative_to)
    if name in chain:
        raise ProfileError(f"extends: circular inheritance {' -> '.join(chain + (name,))}; "
                           "remove one 'extends'", file=chain[-1])
    with resources.as_file(file) as real:
        loaded = load_yaml(real, ProfileError, what="profile file")
        loaded.file = str(file) if isinstance(file, Path) else f"{ref} (built-in)"
        base_dir = Path(real).parent
    if not isinstance(loaded.data, dict):
        raise ProfileError("expected a mapping (name: ..., numerics: ...)", file=loaded.file)
    data = loaded.data
    parent = data.get("extends")
    if parent is not None:
        if not isinstance(parent, str):
            raise ProfileError("must be a profile name or path", file=loaded.file,
                               path=("extends",), line=loaded.line_of(("extends",)))
        try:
            parent_data, _ = _raw_profile(parent, base_dir, chain + (name,))
        except ProfileError as exc:
            if exc.file and exc.file != loaded.file and "circular" not in exc.message:
                raise ProfileError(f"cannot load parent profile: {exc}", file=loaded.file,
                                   path=("extends",), line=loaded.line_of(("extends",))) from None
            if not exc.file:
                raise ProfileError(exc.message, file=loaded.file, path=("extends",),
                                   line=loaded.line_of(("extends",))) from None
            raise
        parent_data.pop("name", None)
        parent_data.pop("description", None)
        data = _merge(parent_data, data)
    return data, loaded


def load_profile(ref: str | Path) -> HardwareProfile:
    """Load a built-in profile by name, or a user profile by path, resolving ``extends``."""
    data, loaded = _raw_profile(str(ref), None, ())
    merged = LoadedYAML(data=data, file=loaded.file, lines=loaded.lines)
    try:
        return HardwareProfile.model_validate(data)
    except ValidationError as exc:
        raise pydantic_to_error(exc, merged, HardwareProfile, ProfileError) from None


def describe_profile(profile: HardwareProfile) -> str:
    """Readable summary for ``neurodeploy profiles show``."""
    c = profile.cores
    lim = lambda v: "unlimited" if v is None else f"{v:,}"  # noqa: E731
    n = profile.neuron
    lines = [f"{profile.name}: {profile.description}".rstrip(": "),
             f"  numerics         {profile.numerics}"]
    if profile.numerics == "fixed":
        lines += [f"  neuron state     {n.state_bits}-bit u/v, {n.decay_bits}-bit decays, "
                  f"{n.threshold_bits}-bit threshold (<<{n.threshold_shift}), "
                  f"{n.activation_bits}-bit input (<<{n.activation_shift})",
                  f"  bias             {n.bias_mant_bits}-bit mantissa, exp {list(n.bias_exp_range)}",
                  f"  weights          {profile.weights.bits}-bit, exp {list(profile.weights.exp_range)}"]
    elif profile.weights.levels:
        lines.append(f"  weights          {profile.weights.levels} analog levels")
    lines += [f"  refractory       {'yes' if n.refractory else 'no'}",
              f"  max delay        {profile.delays.max} steps",
              f"  cores            {lim(c.cores_per_chip)} per chip x {c.max_chips} chip(s)",
              f"  per core         {lim(c.neurons_per_core)} neurons, {lim(c.synapses_per_core)} "
              f"synapses, fan-in {lim(c.fanin_per_core)}, memory {lim(c.memory_per_core_bytes)} B",
              f"  learning         {', '.join(profile.learning.rules) if profile.learning.supported else 'none'}",
              f"  noise sources    {', '.join(profile.noise.sources) or 'none'}",
              "  mismatch         " + ", ".join(
                  f"{k}={v}" for k, v in profile.variability.model_dump().items()
                  if v != VariabilitySpec.model_fields[k].default)]
    return "\n".join(lines)
