"""The fields of a hardware profile as typed, range-checked classes (:class:`HardwareProfile`
and its blocks); loading, ``extends`` and the built-in files are :mod:`neurodeploy.profiles`."""
from __future__ import annotations

import hashlib
import json
from typing import Annotated, Literal

from pydantic import (AfterValidator, ConfigDict, Field, PrivateAttr, field_validator,
                      model_validator)

from .errors import did_you_mean
from .ir.models import LEARNING_RULES
from .ir.models import Node as _IRNode

MAX_COUNT = 2**40  # cores, neurons, synapses, bytes: anything larger is a typo
Bits = Annotated[int, Field(ge=1, le=32, strict=True)]
Shift = Annotated[int, Field(ge=0, le=16, strict=True)]
Count = Annotated[int, Field(gt=0, le=MAX_COUNT, strict=True)]
Exponent = Annotated[int, Field(ge=-32, le=32, strict=True)]


class Node(_IRNode):
    """Base of the profile sections: unknown fields and NaN/inf are refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class NeuronSpec(Node):
    """Neuron numerics. With ``numerics: fixed`` these follow Lava's bit-accurate CUBA LIF."""

    kinds: list[Literal["lif", "stochastic", "spike_source", "poisson", "graded"]] = [
        "lif", "spike_source", "poisson"]
    state_bits: Bits | None = Field(None, description="u and v width (two's complement)")
    decay_bits: Bits | None = Field(None, description="du/dv width; decay = d / 2**decay_bits")
    threshold_bits: Bits | None = Field(None, description="unsigned vth mantissa width")
    threshold_shift: Shift = Field(0, description="vth is left-shifted by this")
    activation_bits: Bits | None = Field(None, description="width of the per-step input")
    activation_shift: Shift = Field(0, description="input is left-shifted by this")
    bias_mant_bits: Bits | None = Field(None, description="signed bias mantissa width")
    bias_exp_range: tuple[Exponent, Exponent] = Field(
        (0, 0), description="[low, high] of the bias exponent: bias = mant * 2**exp")
    refractory: bool = Field(True, description="neurons can have a refractory period")
    state_headroom_bits: int = Field(3, ge=0, le=16, strict=True,
                                     description="bits kept free above threshold in v")


class WeightSpec(Node):
    """Synaptic weight storage: integer mantissa with a shared exponent, or analog levels."""

    bits: Annotated[int, Field(ge=1, le=16, strict=True)] | None = Field(
        None, description="mantissa bits (fixed numerics)")
    exp_range: tuple[Exponent, Exponent] = Field(
        (0, 0), description="[low, high] of the per-projection weight exponent")
    levels: Annotated[int, Field(ge=2, le=2**16, strict=True)] | None = Field(
        None, description="distinct conductance levels per device (float numerics)")


class DelaySpec(Node):
    """Largest synaptic delay in steps beyond the inherent one-step transmission."""

    max: int = Field(0, ge=0, le=2**24, strict=True, description="steps")


class CoreSpec(Node):
    """Resources per core and per system; ``null`` means unlimited."""

    cores_per_chip: Count | None = Field(None, description="neuro cores per chip")
    max_chips: Count = Field(1, description="chips one network may span")
    neurons_per_core: Count | None = None
    synapses_per_core: Count | None = None
    fanin_per_core: Count | None = Field(None, description="distinct input axons per core")
    fanin_per_neuron: Count | None = Field(None, description="synapses one neuron can receive")
    memory_per_core_bytes: Count | None = Field(None, description="synapse + neuron memory")
    bytes_per_neuron: float = Field(0.0, ge=0, le=2**20, description="memory of one neuron's state")
    bits_per_synapse_dense: float = Field(0.0, ge=0, le=1024,
                                          description="memory of one synapse of a dense matrix")
    bits_per_synapse_sparse: float = Field(0.0, ge=0, le=1024,
                                           description="memory of one sparse synapse (weight + index)")


DEVICE_MODELS = ("constant_step", "linear_step", "soft_bounds", "pow_step", "exp_step")


class DeviceSpec(Node):
    """How an analog weight answers write pulses (aihwkit's pulsed update models); see
    docs/devices.md. ``w`` below is the weight over the bound, -1..1."""

    model: Literal["constant_step", "linear_step", "soft_bounds", "pow_step", "exp_step"] = \
        Field(description="step size per pulse: constant, 1 -/+ gamma w, 1 -/+ w, "
                          "(1 -/+ w)^gamma, or max(1 - a exp(+/-gamma w), 0)")
    levels: Annotated[int, Field(ge=2, le=2**16, strict=True)] | None = Field(
        None, description="conductance levels over [-bound, bound] (default weights.levels): "
                          "the nominal step is 2 bound / (levels - 1)")
    bound: float = Field(1.5, gt=0, le=100, description="largest |weight|, in units of the "
                         "projection's largest |weight| when learning starts")
    up_down: float = Field(0.0, gt=-1, lt=1, description="asymmetry: up steps x (1 + up_down), "
                           "down steps x (1 - up_down)")
    gamma_up: float = Field(0.0, ge=0, le=100, description="nonlinearity of up steps")
    gamma_down: float = Field(0.0, ge=0, le=100, description="nonlinearity of down steps")
    a_up: float = Field(0.0, ge=0, le=100, description="exp_step: amplitude of up steps' decline")
    a_down: float = Field(0.0, ge=0, le=100, description="exp_step: amplitude of down steps' decline")
    step_dtod: float = Field(0.0, ge=0, le=1, description="device-to-device spread (CV) of the "
                             "up and down step sizes, drawn per synapse and chip")
    write_noise: float = Field(0.0, ge=0, le=10, description="cycle-to-cycle noise: every pulse's "
                               "step x (1 + write_noise z)")
    max_pulses: Annotated[int, Field(ge=1, le=1024, strict=True)] = Field(
        31, description="pulses one update can send (longer updates are cut)")


class LearningSpec(Node):
    """What the on-chip learning engine can express."""

    supported: bool = Field(False, description="the chip can learn on chip")
    rules: list[str] = Field(default_factory=list, description="rules its engine can express")
    trace_bits: Bits | None = Field(None, description="width of the synaptic traces")
    epoch_steps: Annotated[int, Field(gt=0, le=2**20, strict=True)] | None = Field(
        None, description="steps between weight updates")
    third_factor: bool = Field(False, description="a per-neuron error/reward can reach synapses")
    device: DeviceSpec | None = Field(None, description="analog targets: the device update "
                                      "model weights learn through (float numerics only)")
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


def _registered_noise(name: str) -> str:
    """A noise source must name a registered noise model."""
    from .noise_models import MODELS
    if name not in MODELS:
        raise ValueError(f"unknown value '{name}'{did_you_mean(name, MODELS)}; "
                         f"registered noise models: {', '.join(MODELS)}")
    return name


class NoiseSpec(Node):
    """Temporal noise the target has or can generate: names of registered noise models
    (:mod:`neurodeploy.noise_models`: ``membrane``, ``current``, ``spike_drop``, ...)."""

    sources: list[Annotated[str, AfterValidator(_registered_noise)]] = Field(default_factory=list)


class VariabilitySpec(Node):
    """Default fixed-pattern mismatch figures of the target (relative spreads)."""

    v_th_cv: float = Field(0.0, ge=0, le=1)
    tau_mem_cv: float = Field(0.0, ge=0, le=1)
    tau_syn_cv: float = Field(0.0, ge=0, le=1)
    weights_cv: float = Field(0.0, ge=0, le=1)
    gain_cv: float = Field(0.0, ge=0, le=1, description="per-neuron input gain spread "
                           "(every synaptic input of a neuron scaled by one factor)")
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

    _file: str | None = PrivateAttr(default=None)
    _lines: dict = PrivateAttr(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _printable_name(cls, name: str) -> str:
        """The name is printed in reports and logs: one printable line, or it could forge
        lines there (an ``error:`` line in report.txt)."""
        if not name.strip() or len(name) > 64 or not name.isprintable():
            raise ValueError(f"name {name[:40]!r} must be 1-64 printable characters (no "
                             "newlines, tabs or control characters)")
        return name

    def line_of(self, path: tuple) -> int | None:
        """Line of a field in the profile file the user gave (None when inherited)."""
        return self._lines.get(tuple(path)) if self._lines else None

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
        dev = self.learning.device
        if dev is not None and self.numerics == "fixed":
            raise ValueError("learning.device models analog weights; a fixed-point profile "
                             "learns in its learning engine (remove learning.device)")
        if dev is not None and dev.levels is None and self.weights.levels is None:
            raise ValueError("learning.device needs levels (or weights.levels)")
        n = self.neuron
        if self.numerics == "fixed" and n.threshold_bits + n.threshold_shift >= n.state_bits:
            raise ValueError(f"neuron.threshold_bits + threshold_shift ({n.threshold_bits} + "
                             f"{n.threshold_shift}) must be below neuron.state_bits "
                             f"({n.state_bits}): the shifted threshold has to fit the state")
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
