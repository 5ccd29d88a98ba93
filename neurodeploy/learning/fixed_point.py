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
Each term's relative error is reported. Only rules whose terms have one trace factor each
(pair STDP) are quantized; the manifest refuses the others for fixed profiles.
"""
from __future__ import annotations

import math
import zlib

from ..errors import BackendError, CompileError
from .engine_rule import EngineRule

TRACE_BITS = 7
TRACE_MAX = (1 << TRACE_BITS) - 1
FRACTION_BITS = 8
MANTISSAS = range(1, 8)
EXPONENTS = range(-7, 9)
TRACES = ("x1", "x2", "y1")


def rng_seed(net_seed: int, projection: str) -> int:
    """Seed of a projection's learning random generators (Lava's ``rng_seed``)."""
    return (int(net_seed) * 7919 + zlib.crc32(projection.encode())) % (1 << 30) + 1


def _best_constant(target: float) -> tuple[int, int]:
    """(m, e) with m * 2^e closest to target > 0 (relative error)."""
    best = min(((m, e) for m in MANTISSAS for e in EXPONENTS),
                key=lambda me: abs(me[0] * 2.0 ** me[1] - target) / target)
    return best


def _quantize_impulse(impulse: float) -> tuple[int, int, float]:
    """(integer part, fraction register, mean impulse) for a wanted mean impulse.

    Lava stores the fraction in 1/256 but rounds it up when a 7-bit random number is below
    it, so a fraction f adds 1 with probability min(f, 128)/128: the register gets twice
    the wanted fraction in 1/256 (0..127), the impulse Lava is given is int + f/256, and
    its mean is int + f/128."""
    steps = round(impulse * (1 << TRACE_BITS))
    i_int, frac = steps >> TRACE_BITS, steps & ((1 << TRACE_BITS) - 1)
    return i_int, frac, i_int + frac / (1 << TRACE_BITS)


def quantize(name: str, rule: EngineRule, *, weight_exp: int, scale: float, sign_mode: str,
             seed: int, file: str = "", path: tuple = ()) -> dict:
    """The fixed-point form of ``rule`` for a projection with these weight numbers."""
    def refuse(why: str) -> CompileError:
        return CompileError(f"projection '{name}': {why}", file=file, path=path)

    if rule.t_epoch != 1:
        raise refuse(f"learning epoch {rule.t_epoch}: fixed-point rules run every step")
    to_reg = scale / 2.0 ** weight_exp
    traces = {k: getattr(rule, k) for k in TRACES}
    impulses: dict[str, float] = {}
    terms = []
    for t in rule.terms:
        tr = [f for f in t.factors if f in TRACES]
        if len(tr) != 1 or len(t.factors) != 1:
            raise refuse(f"term '{t.coef} * {t.dependency} * {' * '.join(t.factors)}' needs one "
                         "trace factor in fixed point")
        f = tr[0]
        a = traces[f].impulse
        if a <= 0:
            raise refuse(f"trace {f} has impulse {a}; fixed-point traces need a positive impulse")
        target = abs(t.coef) * to_reg * 1.0
        if target == 0:
            continue
        if f not in impulses:
            tau = traces[f].tau
            i_max = TRACE_MAX * (1.0 - math.exp(-1.0 / tau)) if tau > 0 else float(TRACE_MAX)
            choices = [(m, e, target * a / (m * 2.0 ** e)) for m in MANTISSAS for e in EXPONENTS]
            fits = [c for c in choices if c[2] <= i_max]
            m, e, imp = max(fits, key=lambda c: c[2]) if fits else min(choices, key=lambda c: c[2])
            impulses[f] = min(imp, float(TRACE_MAX))
        i_int, i_frac, i_q = _quantize_impulse(impulses[f])
        if i_q == 0:
            raise refuse(f"learning rate {abs(t.coef)} is {target:.3g} weight-register units "
                         f"per pair, below what {TRACE_BITS}-bit traces and m*2^e constants "
                         "express; raise learning_rate or lower the weights' exponent")
        m, e = _best_constant(target * a / i_q)
        m = m if t.coef > 0 else -m
        eff = m * 2.0 ** e * i_q / a / to_reg
        terms.append({"dependency": t.dependency, "factors": list(t.factors), "mantissa": m,
                      "exponent": e, "s_exp": e + 7, "coef": t.coef, "coef_quantized": eff,
                      "rel_error": abs(eff - t.coef) / abs(t.coef)})
    out_traces = {}
    for k in TRACES:
        i_int, i_frac, i_q = _quantize_impulse(impulses.get(k, 0.0))
        out_traces[k] = {"tau": traces[k].tau, "impulse": i_int + i_frac / (1 << FRACTION_BITS),
                         "impulse_mean": i_q, "impulse_int": i_int, "impulse_frac": i_frac}
    return {"trace_bits": TRACE_BITS, "weight_exp": int(weight_exp), "scale": float(scale),
            "sign_mode": sign_mode, "rng_seed": rng_seed(seed, name), "traces": out_traces,
            "terms": terms}


def quantize_block(entry: dict, projections: dict, populations: dict, seed: int,
                   file: str = "", block: str = "") -> dict:
    """``{projection: quantized rule}`` of one manifest plasticity entry."""
    out = {}
    for proj, d in entry["projections"].items():
        p = projections[proj]
        out[proj] = quantize(proj, EngineRule.from_dict(d), weight_exp=int(p.get("weight_exp", 0)),
                             scale=float(populations[p["post"]].get("scale", 1.0)),
                             sign_mode=p.get("sign_mode", "mixed"), seed=seed, file=file,
                             path=("plasticity", block, "projections"))
    return out


def describe(q: dict) -> str:
    """One line of the compile report for a quantized rule."""
    tr = ", ".join(f"{k} tau {v['tau']:g} impulse {v['impulse_mean']:g}"
                   for k, v in q["traces"].items() if v["impulse"])
    terms = " ".join(f"{'+' if t['mantissa'] > 0 else '-'} {abs(t['mantissa'])}*2^{t['exponent']}"
                     f"*{t['dependency']}*{'*'.join(t['factors'])}" for t in q["terms"])
    err = max((t["rel_error"] for t in q["terms"]), default=0.0)
    return (f"dw = {terms} (weight registers, exp {q['weight_exp']}); {q['trace_bits']}-bit "
            f"traces: {tr}; max rate error {100 * err:.2f}%")


def plan_rule(plan, name: str) -> dict:
    """The quantized rule of plastic projection ``name`` of a fixed build's plan: the one the
    manifest stores, or (builds compiled before it was stored) the same quantization from
    the plan's weight numbers."""
    for block in plan.plasticity.values():
        if name in block["projections"]:
            stored = (block.get("fixed") or {}).get(name)
            if stored is not None:
                return stored
            proj = plan.projections[name]
            try:
                return quantize(name, EngineRule.from_dict(block["projections"][name]),
                                weight_exp=int(proj.weight_exp),
                                scale=float(plan.populations[proj.post].scale),
                                sign_mode=proj.sign_mode, seed=plan.seed)
            except CompileError as exc:
                raise BackendError(f"{exc}; this fixed-point build cannot learn it") from None
    raise KeyError(name)


def add_to_build(manifest: dict, report: dict, file: str = "") -> None:
    """Fixed-point builds: store each plastic projection's quantized rule in its plasticity
    entry (``fixed``) and a one-line summary per projection in the report (``learning``)."""
    if manifest.get("numerics") != "fixed" or not manifest.get("plasticity"):
        return
    lines = {}
    for block, entry in manifest["plasticity"].items():
        if not entry.get("projections"):
            continue
        quantized = quantize_block(entry, manifest["projections"], manifest["populations"],
                                   manifest.get("seed", 0), file, block)
        entry["fixed"] = quantized
        lines.update({proj: describe(q) for proj, q in quantized.items()})
    report["learning"] = lines
