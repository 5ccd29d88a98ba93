"""IR + profile -> build directory: check support, quantize, map to cores, write."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__, limits
from ..errors import CompileError, IRError
from ..ir.load import weight_arrays
from ..ir.models import LIFPopulation, Network, PoissonPopulation, StochasticPopulation
from ..neurons import lif_quantize
from ..neurons.kind import MEMBRANE_KINDS
from ..noise_models import MODELS
from ..profiles import HardwareProfile
from . import quantize as q
from .artifact import FORMAT, FORMAT_VERSION, ArrayStore, array_hash, write_build
from .connectivity import SynapseEstimate, Synapses, build_synapses, estimate_synapses
from .mapping import Placement, check_estimates, map_to_cores
from .report import render_report


DESTROYED_REL_ERROR = 0.5  # relative RMS quantization error that leaves no usable signal


@dataclass
class CompileResult:
    """What a compile produced (also what the CLI prints)."""

    out: Path | None
    manifest: dict
    report: dict
    report_txt: str
    warnings: list[str] = field(default_factory=list)


def ir_hash(net: Network) -> str:
    """sha256 of the validated IR plus the content of any weight files it reads."""
    h = hashlib.sha256(json.dumps(net.model_dump(mode="json"), sort_keys=True).encode())
    for name, arr in sorted(weight_arrays(net).items()):
        h.update(name.encode() + array_hash(arr).encode())
    return h.hexdigest()


def _float_profiles_with(kind: str) -> list[str]:
    """Built-in float profiles whose neurons include ``kind`` (for refusals)."""
    from ..profiles import builtin_profiles, load_profile
    out = []
    for name in builtin_profiles():
        prof = load_profile(name)
        if prof.numerics == "float" and kind in prof.neuron.kinds:
            out.append(name)
    return out


class _Compiler:
    def __init__(self, net: Network, profile: HardwareProfile) -> None:
        self.net = net
        self.profile = profile
        self.file = net._file
        self.fixed = profile.numerics == "fixed"
        self.store = ArrayStore()
        self.warnings: list[str] = []
        self.scales: dict[str, float] = {}

    def fail(self, path: tuple, message: str) -> None:
        raise CompileError(message, file=self.file, path=path, line=self.net.line_of(path))

    # ------------------------------------------------------------------ support checks
    def check_numerics(self) -> None:
        """Refuse fixed-point widths the simulators cannot run exactly."""
        if not self.fixed:
            return
        bad = q.unsupported_fixed_point(self.profile)
        if bad:
            path, reason = bad[0]
            more = f" (also {', '.join('.'.join(p) for p, _ in bad[1:])})" if bad[1:] else ""
            raise CompileError(
                f"profile {self.profile.name}: {reason}{more}; the simulators would not run "
                "this chip's arithmetic. Keep within these widths (extends: loihi2) or use "
                "numerics: float", file=self.profile._file, path=path,
                line=self.profile.line_of(path))

    def check_support(self) -> None:
        prof, net = self.profile, self.net
        self.check_numerics()
        for name, pop in net.populations.items():
            if isinstance(pop, StochasticPopulation) and self.fixed:
                path = ("populations", name, "kind")
                raise IRError(f"stochastic neurons are float only (escape noise needs exp and "
                              f"a uniform per step; {prof.name} is fixed point): compile for a "
                              f"float profile ({', '.join(_float_profiles_with('stochastic'))})",
                              file=self.file, path=path, line=net.line_of(path))
            if pop.kind not in prof.neuron.kinds:
                self.fail(("populations", name, "kind"), f"{prof.name} has no '{pop.kind}' "
                          f"neurons (neuron.kinds: {', '.join(prof.neuron.kinds)})")
            if isinstance(pop, (LIFPopulation, StochasticPopulation)) and pop.params.refractory \
                    and not prof.neuron.refractory:
                self.fail(("populations", name, "params", "refractory"),
                          f"{prof.name} neurons have no refractory period (neuron.refractory: "
                          "false); set refractory: 0")
        for name, proj in net.projections.items():
            delay = proj.delay if isinstance(proj.delay, int) else proj.delay.high
            if delay > prof.delays.max:
                self.fail(("projections", name, "delay"), f"delay {delay} exceeds {prof.name}'s "
                          f"maximum of {prof.delays.max} steps (delays.max); exceeded by "
                          f"{delay - prof.delays.max}")
        self.check_rules()
        for source in MODELS:
            if getattr(net.noise, source, None) is not None and source not in prof.noise.sources:
                self.warnings.append(f"noise.{source}: {prof.name} has no such noise source; it "
                                     "is simulated but cannot be generated on the device")

    def check_memory(self, estimates: list[SynapseEstimate]) -> None:
        """Refuse a compile whose synapse arrays would not fit the memory budget."""
        if not estimates:
            return
        cost = {e.name: e.total_high * (limits.COMPILE_BYTES_PER_SYNAPSE +
                                        limits.COMPILE_BYTES_PER_DELAY * e.per_synapse_delays)
                for e in estimates}
        largest = max(cost, key=cost.__getitem__)
        count = sum(e.total_high for e in estimates)
        path = ("projections", largest)
        limits.check_memory(sum(cost.values()), f"compiling {count:,} synapses (largest: "
                            f"projections.{largest})", "use smaller populations or sparser "
                            "projections", CompileError, file=self.file, path=path,
                            line=self.net.line_of(path))

    def check_rules(self) -> None:
        """Every plasticity rule must be one the profile's learning engine runs."""
        prof = self.profile
        for name, rule in self.net.plasticity.items():
            names = {rule.rule, "dfa" if rule.rule == "direct_feedback_alignment" else rule.rule}
            if not prof.learning.supported or not names & set(prof.learning.rules):
                can = ", ".join(prof.learning.rules) if prof.learning.supported else "no rule"
                why = f": {prof.learning.notes}" if prof.learning.notes else ""
                self.fail(("plasticity", name, "rule"), f"{prof.name}'s learning engine cannot "
                          f"run '{rule.rule}' (it supports {can}{why}); choose another rule or "
                          "profile")

    # ------------------------------------------------------------------ populations
    def populations(self, synapses: list[Synapses]) -> tuple[dict, dict]:
        out, figures = {}, {}
        for name, pop in self.net.populations.items():
            entry: dict[str, Any] = {"kind": pop.kind, "size": pop.size}
            if isinstance(pop, PoissonPopulation):
                rate = np.broadcast_to(np.asarray(pop.rate, dtype=np.float64), (pop.size,))
                entry["rate_hz"] = self.store.scalar_or_array(f"params/{name}.npz", "rate_hz", rate, np.float64)
                entry["p_spike"] = self.store.scalar_or_array(f"params/{name}.npz", "p_spike",
                                                              rate * self.net.dt / 1000.0, np.float64)
            elif pop.kind == "graded":
                self.scales[name] = 1.0
                entry["scale"] = 1.0
            elif isinstance(pop, (LIFPopulation, StochasticPopulation)):
                incoming = [s for s in synapses if s.post == name
                            and self.net.projections[s.name].port == "current"]
                entry["params"], figures[name] = self._lif(name, pop, incoming)
                if isinstance(pop, StochasticPopulation):   # float only (check_support)
                    entry["params"]["beta"] = pop.params.beta
                entry["scale"] = self.scales[name]
            out[name] = entry
        return out, figures

    def _lif(self, name: str, pop: LIFPopulation | StochasticPopulation,
             incoming: list[Synapses]) -> tuple[dict, dict]:
        path = f"params/{name}.npz"
        max_input = float(sum(s.abs_row_sum() for s in incoming).max()) if incoming else 0.0
        try:
            qz = lif_quantize.quantize(name, pop.params, pop.size, self.net.dt, max_input,
                                       ", ".join(s.name for s in incoming), self.profile,
                                       self.fixed)
        except lif_quantize.QuantizeError as e:
            self.fail(("populations", name) + e.path, str(e))
        self.scales[name] = qz.scale
        self.warnings.extend(qz.warnings)
        dtype = np.int32 if self.fixed else np.float64
        params = dict(qz.params)
        for key in ("vth", "bias_mant"):
            params[key] = self.store.scalar_or_array(path, key, params[key], dtype)
        return params, qz.figures

    # ------------------------------------------------------------------ projections
    def projection(self, syn: Synapses) -> tuple[dict, dict]:
        path = f"weights/{syn.name}.npz"
        entry: dict[str, Any] = {"pre": syn.pre, "post": syn.post, "format": syn.format,
                                 "port": self.net.projections[syn.name].port,
                                 "shape": list(syn.shape), "n_synapses": syn.n_synapses}
        if syn.format == "coo":
            entry["rows"] = self.store.put(path, "rows", syn.rows)
            entry["cols"] = self.store.put(path, "cols", syn.cols)
        if isinstance(syn.delays, int):
            entry["delay"] = syn.delays
        else:
            entry["delay"] = self.store.put(path, "delays", syn.delays.astype(np.int32))
        entry["max_delay"] = syn.max_delay
        stats: dict[str, Any] = {"n_synapses": syn.n_synapses}
        if self.fixed:
            scale = self.scales[syn.post]
            qw = q.quantize_weights(syn.weights * scale, self.profile.weights.bits,
                                    self.profile.weights.exp_range)
            entry.update(weight_exp=qw.weight_exp, num_weight_bits=qw.num_weight_bits,
                         sign_mode=qw.sign_mode, sign_mode_code=q.SIGN_MODES[qw.sign_mode])
            entry["weights"] = self.store.put(path, "weights", qw.values)
            dequant = qw.values * 2.0 ** qw.weight_exp / scale
            stats.update(weight_exp=qw.weight_exp, sign_mode=qw.sign_mode, clipped=qw.clipped,
                         step=qw.step / scale)
            if qw.clipped:
                self.warnings.append(f"projections.{syn.name}.weights: {qw.clipped} weights "
                                     f"clipped at weight_exp {qw.weight_exp} (largest exponent)")
        else:
            levels = self.profile.weights.levels
            dequant, g = q.quantize_levels(syn.weights, levels) if levels else (syn.weights, 0.0)
            stats.update(levels=levels, step=g, clipped=0)
            entry["weights"] = self.store.put(path, "weights", dequant.astype(np.float64))
        stats["rel_rms_error"] = q.relative_rms(syn.weights, dequant)
        stats["max_abs_error"] = float(np.max(np.abs(dequant - syn.weights))) if syn.n_synapses else 0.0
        self._check_destroyed(syn, dequant, stats)
        return entry, stats

    def _check_destroyed(self, syn: Synapses, dequant: np.ndarray, stats: dict) -> None:
        """Warn when quantization leaves nothing of a projection's weights."""
        if not syn.n_synapses or not np.any(syn.weights):
            return
        error = stats["rel_rms_error"]
        if np.any(dequant) and error < DESTROYED_REL_ERROR:
            return
        what = (f"all {syn.n_synapses:,} weights became 0" if not np.any(dequant) else
                f"relative RMS error {error:.2f}")
        stats["destroyed"] = True
        self.warnings.append(
            f"projections.{syn.name}.weights: quantization destroys this projection ({what}; "
            f"largest |w| {float(np.max(np.abs(syn.weights))):.3g}, quantization step "
            f"{stats['step']:.3g}); raise these weights relative to the others onto "
            f"'{syn.post}', lower its v_th, or use a profile with more weight bits")

    # ------------------------------------------------------------------ whole network
    def run(self) -> tuple[dict, dict, list[str]]:
        net, prof = self.net, self.profile
        self.check_support()
        files = weight_arrays(net)
        sizes = {n: p.size for n, p in net.populations.items()}
        compute = [n for n, p in net.populations.items() if p.kind in MEMBRANE_KINDS + ("graded",)]
        estimates = [estimate_synapses(net, name, files) for name in net.projections]
        check_estimates(sizes, compute, estimates, prof, self.file, net.line_of)
        self.check_memory(estimates)
        synapses = [build_synapses(net, name, files) for name in net.projections]
        populations, pop_figures = self.populations(synapses)
        projections, proj_stats = {}, {}
        for syn in synapses:
            projections[syn.name], proj_stats[syn.name] = self.projection(syn)
        placement = map_to_cores(sizes, compute, synapses, prof, self.file, net.line_of)
        for name, place in placement.populations.items():
            populations[name]["cores"] = {"first": place.first_core, "count": place.n_cores,
                                          "neurons_per_core": place.neurons_per_core}
        manifest = {
            "format": FORMAT, "format_version": FORMAT_VERSION,
            "neurodeploy_version": __version__,
            "name": net.name, "source": Path(self.file).name, "ir_hash": ir_hash(net),
            "profile": {"name": prof.name, "hash": prof.content_hash()},
            "numerics": prof.numerics, "dt": net.dt, "seed": net.seed, "steps": net.run.steps,
            "neuron_model": self._neuron_model(),
            "populations": populations, "projections": projections,
            "plasticity": self._plasticity(),
            "task": net.task.model_dump(mode="json") if net.task else None,
            "noise": self._noise(), "variability": self._variability(),
            "monitors": [m.model_dump() for m in net.monitors],
            "cores": {"used": placement.cores_used, "available": prof.total_cores},
        }
        report = self._report(placement, pop_figures, proj_stats)
        return manifest, report, self.warnings

    def _neuron_model(self) -> dict:
        n = self.profile.neuron
        if not self.fixed:
            return {"type": "lif_float"}
        return {"type": "lif_bitacc", "state_bits": n.state_bits, "decay_bits": n.decay_bits,
                "threshold_shift": n.threshold_shift, "activation_shift": n.activation_shift,
                "activation_bits": n.activation_bits, "du_offset": 1, "dv_offset": 0}

    def _plasticity(self) -> dict:
        from ..learning.manifest import plasticity_manifest
        return plasticity_manifest(self.expanded, self.profile, self.file)

    def _noise(self) -> dict:
        """The manifest noise block: each registered model's entry per target population
        (default targets: the membrane populations, or every population for a model that
        needs no membrane)."""
        lif = [n for n, p in self.net.populations.items() if p.kind in MEMBRANE_KINDS]
        shift = 2 ** self.profile.neuron.activation_shift if self.fixed else 1
        out: dict[str, Any] = {}
        for name, model in MODELS.items():
            ir = getattr(self.net.noise, name, None)
            if ir is None:
                continue
            targets = ir.populations or (lif if model.needs_membrane
                                         else list(self.net.populations))
            out[name] = {t: model.manifest(ir, self.scales.get(t, 1.0), shift) for t in targets}
        return out

    def _variability(self) -> dict:
        ir = self.net.variability
        defaults = self.profile.variability
        effective = {
            "v_th_cv": ir.v_th.cv if ir.v_th else defaults.v_th_cv,
            "tau_mem_cv": ir.tau_mem.cv if ir.tau_mem else defaults.tau_mem_cv,
            "tau_syn_cv": ir.tau_syn.cv if ir.tau_syn else defaults.tau_syn_cv,
            "weights_cv": ir.weights.cv if ir.weights else defaults.weights_cv,
            "gain_cv": ir.gain.cv if ir.gain else defaults.gain_cv,
            "bias_sigma": ir.bias.sigma if ir.bias else getattr(defaults, "bias_sigma", 0.0),
            "dead_fraction": (ir.dead_fraction if "dead_fraction" in ir.model_fields_set
                              else defaults.dead_fraction),
            "stuck_fraction": (ir.stuck_fraction if "stuck_fraction" in ir.model_fields_set
                               else defaults.stuck_fraction),
        }
        return {"effective": effective, "from_ir": ir.model_dump(exclude_defaults=True),
                "profile_defaults": defaults.model_dump()}

    def _report(self, placement: Placement, pop_figures: dict, proj_stats: dict) -> dict:
        prof = self.profile
        pops = {}
        for name, pop in self.net.populations.items():
            entry: dict[str, Any] = {"kind": pop.kind, "size": pop.size}
            if name in placement.populations:
                pl = placement.populations[name]
                entry.update(cores=pl.n_cores, first_core=pl.first_core,
                             neurons_per_core=pl.neurons_per_core, synapses=pl.synapses,
                             memory_bytes=pl.memory_bytes, max_fanin_per_core=pl.max_fanin,
                             limited_by=pl.limiting, scale=self.scales[name], **pop_figures.get(name, {}))
            pops[name] = entry
        return {
            "name": self.net.name, "profile": prof.name, "numerics": prof.numerics,
            "resources": {"cores_used": placement.cores_used, "cores_available": prof.total_cores,
                          "neurons": sum(p.size for p in self.net.populations.values()),
                          "synapses": sum(s["n_synapses"] for s in proj_stats.values()),
                          "memory_bytes": placement.memory_bytes,
                          "memory_available_bytes": (prof.cores.memory_per_core_bytes * prof.total_cores
                                                     if prof.cores.memory_per_core_bytes and prof.total_cores
                                                     else None)},
            "populations": pops, "projections": proj_stats, "warnings": self.warnings,
        }


def compile_network(net: Network, profile: HardwareProfile, out: str | Path | None,
                    force: bool = False) -> CompileResult:
    """Compile ``net`` for ``profile``; write the build to ``out`` unless it is None."""
    from ..learning.expand import expand, refuse_sampling
    refuse_sampling(net)
    _Compiler(net, profile).check_rules()
    expanded = expand(net)
    compiler = _Compiler(expanded.net, profile)
    compiler.expanded = expanded
    manifest, report, warnings = compiler.run()
    from ..learning.fixed_point import add_to_build
    add_to_build(manifest, report, str(getattr(net, "_file", "") or ""),   # fixed-point rules
                 lambda ref: compiler.store.files[ref["file"]][ref["key"]])
    from ..learning.device_models import describe, device_of
    if device_of(manifest):             # analog targets: the model their weights learn through
        report["learning_device"] = describe(device_of(manifest))
    text = render_report(report)
    written = None
    if out is not None:
        written = write_build(Path(out), manifest, compiler.store, report, text, force)
    return CompileResult(out=written, manifest=manifest, report=report, report_txt=text,
                         warnings=warnings)
