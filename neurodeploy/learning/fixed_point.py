"""An engine rule in a fixed-point learning engine's numbers (Lava's bit-approximate
``LearningDense``): 7-bit traces with impulses in 1/256 and products scaled by ``m * 2^e``
(4-bit signed mantissa, -7 <= e <= 8), acting on 8-bit weight registers.

A float weight ``w`` of a fixed build is the register value ``w_reg`` with ``w * scale =
w_reg * 2^weight_exp`` (``scale``: the post population's voltage scale), so a term ``c * dep
* z`` (z a trace with impulse ``a``) must give ``c * scale / 2^weight_exp`` register units
per unit of z. The integer trace carries impulse ``I`` (so ``Z ~ z * I / a``) and the
product ``m * 2^e * Z``: ``m 2^e I / a = c scale / 2^weight_exp``. ``I`` is chosen as large
as the trace's 7 bits allow without saturating at one spike per step (``I <= 127 (1 -
exp(-1/tau))``), which gives the finest trace; ``m, e`` the constant closest to the rest.
Each term's relative error is reported. Terms have one trace factor each (pair STDP), or
one trace factor times the third factor's y2 or y3 (feedback alignment); the manifest
refuses other rules for fixed profiles.

The third factor (the fed-back error, summed integer activation ``r`` at the learning
neuron's third-factor port, ``r = r_float * scale``) reaches the engine as two 7-bit
unsigned channels: ``y2 = min(max(r, 0) >> s, 127)``, ``y3 = min(max(-r, 0) >> s, 127)``
(:func:`third_factor_channels`, run by the cpu engine and by Lava's learning neuron). The
shift ``s`` of a post population is the smallest with ``R >> s <= 127`` for the largest
``|r|`` its third-factor projections can deliver in one step (:func:`third_factor_shifts`,
from the payload range of every population: spikes 0..1, graded relays the interval sum
of their inputs), so the channels never clip. One unit of y is ``2^s / scale`` of float
third factor. A product of two 7-bit factors is shifted right by 3 in Lava's engine
(``widths + 4 - 15``), which the constant absorbs.
"""
from __future__ import annotations

import math
import zlib

import numpy as np

from ..errors import BackendError, CompileError
from .engine_rule import EngineRule

TRACE_BITS = 7
TRACE_MAX = (1 << TRACE_BITS) - 1
FRACTION_BITS = 8
MANTISSAS = range(1, 8)
EXPONENTS = range(-7, 9)
TRACES = ("x1", "x2", "y1")
THIRD = ("y2", "y3")
ACC_BITS = 15
MANT_BITS = 4


def third_factor_channels(r, shift):
    """(y2, y3): the positive and negative part of the integer third factor ``r`` shifted
    right by ``shift`` and clipped to 7 bits (NumPy arrays or numba scalars alike)."""
    y2 = np.minimum(np.maximum(r, 0) >> shift, TRACE_MAX)
    y3 = np.minimum(np.maximum(-r, 0) >> shift, TRACE_MAX)
    return y2, y3


def third_factor_shift(bound: int) -> int:
    """Smallest right shift that keeps ``bound`` within the 7-bit y channels."""
    s = 0
    while (int(bound) >> s) > TRACE_MAX:
        s += 1
    return s


def _payload_ranges(kinds: dict, projections: dict, weights_of) -> dict:
    """Per population, [lo, hi] per neuron of what it emits in one step: spikes 0..1, a
    graded relay the interval sum of its current-port inputs (each projection's summed
    activation, floor-shifted as Lava's Dense does for a negative weight exponent)."""
    out: dict = {}

    def rng(pop: str, seen: tuple = ()):
        if pop in out:
            return out[pop]
        if pop in seen:
            raise CompileError(f"graded populations form a loop through '{pop}'; fixed-point "
                               "third factors need a bounded error")
        if kinds[pop]["kind"] != "graded":
            return np.zeros(kinds[pop]["size"]), np.ones(kinds[pop]["size"])
        lo, hi = np.zeros(kinds[pop]["size"]), np.zeros(kinds[pop]["size"])
        for name, p in projections.items():
            if p["post"] == pop and p.get("port", "current") == "current":
                plo, phi = _delivered(p, weights_of(name), *rng(p["pre"], seen + (pop,)))
                lo, hi = lo + plo, hi + phi
        out[pop] = (lo, hi)
        return out[pop]

    for pop in kinds:
        rng(pop)
    return out


def _delivered(p: dict, w: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """[lo, hi] per post neuron of a projection's activation for payloads in [lo, hi]."""
    w = np.asarray(w, np.float64)
    a, b = w * lo[None, :], w * hi[None, :]
    exp = int(p.get("weight_exp", 0))
    return (np.floor(np.minimum(a, b).sum(axis=1) * 2.0 ** exp),
            np.floor(np.maximum(a, b).sum(axis=1) * 2.0 ** exp))


def third_factor_shifts(kinds: dict, projections: dict, weights_of, steps: int = 1,
                        budget: float = 0.0) -> dict[str, dict]:
    """``{post population: {"bound": R, "shift": s}}`` for every population fed through a
    third-factor port (``kinds``: population -> {kind, size}; ``projections``: name -> {pre,
    post, port, weight_exp}; ``weights_of(name)``: integer weights [post, pre]). ``steps`` > 1:
    the third factor is summed over a learning epoch of that many steps and ``budget`` error
    spikes per epoch are resolved (:func:`epoch_bound`)."""
    ranges = _payload_ranges(kinds, projections, weights_of)
    sums: dict = {}
    peak: dict = {}
    for name, p in projections.items():
        if p.get("port") != "third_factor":
            continue
        w = weights_of(name)
        lo, hi = _delivered(p, w, *ranges[p["pre"]])
        have = sums.get(p["post"], (0.0, 0.0))
        sums[p["post"]] = (have[0] + lo, have[1] + hi)
        big = float(np.abs(np.asarray(w, np.float64)).max(initial=0.0)
                    * 2.0 ** int(p.get("weight_exp", 0)))
        peak[p["post"]] = max(peak.get(p["post"], 0.0), big)
    out = {}
    for pop, (lo, hi) in sums.items():
        bound = epoch_bound(int(max(np.max(hi), -np.min(lo), 0)), steps, peak[pop], budget)
        out[pop] = {"bound": bound, "shift": third_factor_shift(bound)}
    return out


def epoch_summed(rule: EngineRule) -> bool:
    """Whether a rule learns once per epoch from the epoch-summed third factor: every term
    reads y2 or y3 at the epoch's end (``u``), so the engine can run one-step epochs whose
    y2 / y3 are 0 except at the epoch's last step."""
    return rule.third_factor and all(
        t.dependency == "u" and ("y2" in t.factors or "y3" in t.factors) for t in rule.terms)


def epoch_bound(step_bound: int, steps: int, max_weight: float, budget: float) -> int:
    """The largest |r| an epoch of ``steps`` steps resolves: the worst case ``steps *
    step_bound`` or, if smaller, ``max_weight * budget`` (the largest feedback weight times
    the error spikes an epoch carries, ``budget``); larger sums saturate the 7-bit channel."""
    worst = int(step_bound) * max(int(steps), 1)
    if steps <= 1:
        return worst
    return int(min(worst, math.ceil(max_weight * budget)))


def error_budget(steps: int, target_rate: float | None) -> float:
    """Error spikes one epoch of a classifier carries at most in practice: the labelled
    output's whole swing (``steps * target_rate`` missing spikes) plus one wrong output
    firing every step; more saturates the channel (clipping, like gradient clipping)."""
    return steps * (1.0 + float(target_rate or 0.0))


def rng_seed(net_seed: int, projection: str) -> int:
    """Seed of a projection's learning random generators (Lava's ``rng_seed``)."""
    return (int(net_seed) * 7919 + zlib.crc32(projection.encode())) % (1 << 30) + 1


def best_constant(target: float) -> tuple[int, int]:
    """(m, e) with m * 2^e closest to target > 0 (relative error); among equal values the
    largest mantissa (smallest exponent), so the engine's floored product shift drops less."""
    return min(((m, e) for m in MANTISSAS for e in EXPONENTS),
               key=lambda me: (abs(me[0] * 2.0 ** me[1] - target) / target, me[1]))


def quantize_impulse(impulse: float) -> tuple[int, int, float]:
    """(integer part, fraction register, mean impulse) for a wanted mean impulse.

    Lava stores the fraction in 1/256 but rounds it up when a 7-bit random number is below
    it, so a fraction f adds 1 with probability min(f, 128)/128: the register gets twice
    the wanted fraction in 1/256 (0..127), the impulse Lava is given is int + f/256, and
    its mean is int + f/128."""
    steps = round(impulse * (1 << TRACE_BITS))
    i_int, frac = steps >> TRACE_BITS, steps & ((1 << TRACE_BITS) - 1)
    return i_int, frac, i_int + frac / (1 << TRACE_BITS)


#: the learned weight register's saturation per sign mode (Lava's ``clip_weights``, 8 bits)
REGISTER_RANGE = {"mixed": (-256, 255), "excitatory": (0, 255), "inhibitory": (-255, 0)}


def _bounds_refusal(rule: EngineRule, to_reg: float, sign_mode: str) -> tuple[str, str] | None:
    """Weight bounds in fixed point: the engine saturates learned weights at the register
    range of the sign mode and clips nothing else, so a finite ``w_min`` / ``w_max`` is
    honoured when it is the register's own limit or looser, and refused when tighter."""
    lo, hi = REGISTER_RANGE[sign_mode]
    for field_name, bound, limit, tighter in (("w_max", rule.w_max, hi, rule.w_max < hi / to_reg),
                                              ("w_min", rule.w_min, lo, rule.w_min > lo / to_reg)):
        if math.isfinite(bound) and tighter:
            return field_name, (f"{field_name} {bound:g} is {bound * to_reg:.1f} weight registers, "
                                f"inside the register range {lo}..{hi} ({lo / to_reg:.4g}.."
                                f"{hi / to_reg:.4g} in weight units) where the fixed-point learning "
                                f"engine saturates; it clips at nothing else, so set {field_name} to "
                                f"{limit / to_reg:.4g} or beyond (or remove it), or learn with "
                                "--profile cpu")
    return None


def quantize(name: str, rule: EngineRule, *, weight_exp: int, scale: float, sign_mode: str,
             seed: int, file: str = "", path: tuple = (), third: dict | None = None) -> dict:
    """The fixed-point form of ``rule`` for a projection with these weight numbers
    (``third``: the post population's third-factor ``{"bound", "shift"}``, for rules
    that read y2 / y3)."""
    def refuse(why: str) -> CompileError:
        return CompileError(f"projection '{name}': {why}", file=file, path=path)

    if rule.t_epoch != 1 and not epoch_summed(rule):
        raise refuse(f"learning epoch {rule.t_epoch}: fixed-point rules whose terms do not all "
                     "read the epoch-summed third factor (u * x1 * y2 / y3) run every step (set "
                     "learning_epoch: 1 in the plasticity block)")
    to_reg = scale / 2.0 ** weight_exp
    bad = _bounds_refusal(rule, to_reg, sign_mode)
    if bad:
        raise CompileError(f"projection '{name}': {bad[1]}", file=file,
                           path=tuple(path[:2]) + (bad[0],) if path else ())
    traces = {k: getattr(rule, k) for k in TRACES}
    impulses: dict[str, float] = {}
    terms = []
    if rule.third_factor and third is None:
        raise refuse("its post population has no third-factor input to quantize")
    for t in rule.terms:
        tr = [f for f in t.factors if f in TRACES]
        y = [f for f in t.factors if f in THIRD]
        if len(tr) != 1 or len(t.factors) != 1 + len(y) or len(y) > 1 or (
                rule.third_factor and (len(y) != 1 or tr[0] == "y1")):
            raise refuse(f"term '{t.coef} * {t.dependency} * {' * '.join(t.factors)}' needs one "
                         "trace factor (x1 or x2 times y2 or y3 in three-factor rules) in "
                         "fixed point")
        f = tr[0]
        a = traces[f].impulse
        if a <= 0:
            raise refuse(f"trace {f} has impulse {a}; fixed-point traces need a positive impulse")
        # per unit of integer y: 2^s / scale of float third factor; Lava shifts a product of
        # two 7-bit factors right by 2 * 7 + 4 - 15 = 3 bits
        unit = (2.0 ** third["shift"] / scale * 2.0 ** (2 * TRACE_BITS + MANT_BITS - ACC_BITS)
                if y else 1.0)
        target = abs(t.coef) * to_reg * unit
        if target == 0:
            continue
        if f not in impulses:
            tau = traces[f].tau
            i_max = TRACE_MAX * (1.0 - math.exp(-1.0 / tau)) if tau > 0 else float(TRACE_MAX)
            choices = [(m, e, target * a / (m * 2.0 ** e)) for m in MANTISSAS for e in EXPONENTS]
            fits = [c for c in choices if c[2] <= i_max]
            m, e, imp = max(fits, key=lambda c: c[2]) if fits else min(choices, key=lambda c: c[2])
            impulses[f] = min(imp, float(TRACE_MAX))
        i_int, i_frac, i_q = quantize_impulse(impulses[f])
        if i_q == 0:
            raise refuse(f"learning rate {abs(t.coef)} is {target:.3g} weight-register units "
                         f"per pair, below what {TRACE_BITS}-bit traces and m*2^e constants "
                         "express; raise learning_rate or lower the weights' exponent")
        m, e = best_constant(target * a / i_q)
        m = m if t.coef > 0 else -m
        eff = m * 2.0 ** e * i_q / a / to_reg / unit
        terms.append({"dependency": t.dependency, "factors": list(t.factors), "mantissa": m,
                      "exponent": e, "s_exp": e + 7, "coef": t.coef, "coef_quantized": eff,
                      "rel_error": abs(eff - t.coef) / abs(t.coef)})
    out_traces = {}
    for k in TRACES:
        i_int, i_frac, i_q = quantize_impulse(impulses.get(k, 0.0))
        out_traces[k] = {"tau": traces[k].tau, "impulse": i_int + i_frac / (1 << FRACTION_BITS),
                         "impulse_mean": i_q, "impulse_int": i_int, "impulse_frac": i_frac}
    out = {"trace_bits": TRACE_BITS, "weight_exp": int(weight_exp), "scale": float(scale),
           "sign_mode": sign_mode, "rng_seed": rng_seed(seed, name), "traces": out_traces,
           "terms": terms}
    if rule.third_factor:
        out["third_factor"] = {"bound": int(third["bound"]), "shift": int(third["shift"]),
                               "unit": float(2.0 ** third["shift"] / scale)}
        out["epoch"] = int(rule.t_epoch)
    return out


def quantize_block(entry: dict, projections: dict, populations: dict, seed: int,
                   file: str = "", block: str = "", weights_of=None) -> dict:
    """``{projection: quantized rule}`` of one manifest plasticity entry (``weights_of(name)``:
    integer weights [post, pre], needed by three-factor rules)."""
    out = {}
    shifts: dict = {}
    for proj, d in entry["projections"].items():
        p = projections[proj]
        rule = EngineRule.from_dict(d)
        third = None
        if rule.third_factor:
            steps = rule.t_epoch if epoch_summed(rule) else 1
            if steps not in shifts:
                shifts[steps] = third_factor_shifts(
                    populations, projections, weights_of, steps,
                    error_budget(steps, entry.get("target_rate")))
            third = shifts[steps].get(p["post"])
        out[proj] = quantize(proj, rule, weight_exp=int(p.get("weight_exp", 0)),
                             scale=float(populations[p["post"]].get("scale", 1.0)),
                             sign_mode=p.get("sign_mode", "mixed"), seed=seed, file=file,
                             path=("plasticity", block, "projections"), third=third)
    return out


def describe(q: dict) -> str:
    """One line of the compile report for a quantized rule."""
    tr = ", ".join(f"{k} tau {v['tau']:g} impulse {v['impulse_mean']:g}"
                   for k, v in q["traces"].items() if v["impulse"])
    terms = " ".join(f"{'+' if t['mantissa'] > 0 else '-'} {abs(t['mantissa'])}*2^{t['exponent']}"
                     f"*{t['dependency']}*{'*'.join(t['factors'])}" for t in q["terms"])
    err = max((t["rel_error"] for t in q["terms"]), default=0.0)
    tf = q.get("third_factor")
    third = (f"; third factor y2/y3 = max(+-r, 0) >> {tf['shift']} (|r| <= {tf['bound']}, "
             f"one unit = {tf['unit']:.4g} of float error)" if tf else "")
    return (f"dw = {terms} (weight registers, exp {q['weight_exp']}); {q['trace_bits']}-bit "
            f"traces: {tr}{third}; max rate error {100 * err:.2f}%")


def plan_rule(plan, name: str) -> dict:
    """The quantized rule of plastic projection ``name`` of a fixed build's plan: the one the
    manifest stores, or (builds compiled before it was stored) the same quantization from
    the plan's weight numbers."""
    for block in plan.plasticity.values():
        if name in block["projections"]:
            stored = (block.get("fixed") or {}).get(name)
            if stored is not None:
                return stored
            pops = {n: {"kind": p.kind, "size": p.size, "scale": p.scale}
                    for n, p in plan.populations.items()}
            projs = {n: {"pre": p.pre, "post": p.post, "port": p.port,
                         "weight_exp": p.weight_exp, "sign_mode": p.sign_mode}
                     for n, p in plan.projections.items()}
            try:
                return quantize_block({"projections": {name: block["projections"][name]}},
                                      projs, pops, plan.seed,
                                      weights_of=lambda n: plan.projections[n].dense_weights()
                                      )[name]
            except CompileError as exc:
                raise BackendError(f"{exc}; this fixed-point build cannot learn it") from None
    raise KeyError(name)


def add_to_build(manifest: dict, report: dict, file: str = "", arrays=None) -> None:
    """Fixed-point builds: store each plastic projection's quantized rule in its plasticity
    entry (``fixed``) and a one-line summary per projection in the report (``learning``).
    ``arrays(ref)``: the array a manifest reference points to (weights of third-factor
    pathways)."""
    if manifest.get("numerics") != "fixed" or not manifest.get("plasticity"):
        return
    projections = manifest["projections"]

    def weights_of(name: str) -> np.ndarray:
        e = projections[name]
        w = arrays(e["weights"])
        if e["format"] == "dense":
            return np.asarray(w)
        dense = np.zeros(tuple(e["shape"]), np.int64)
        dense[arrays(e["rows"]), arrays(e["cols"])] = w
        return dense

    lines = {}
    for block, entry in manifest["plasticity"].items():
        if not entry.get("projections"):
            continue
        quantized = quantize_block(entry, projections, manifest["populations"],
                                   manifest.get("seed", 0), file, block, weights_of)
        entry["fixed"] = quantized
        lines.update({proj: describe(q) for proj, q in quantized.items()})
    report["learning"] = lines
