"""Brian2 abstract code of a learning build, generated from its definitions.

Nothing here is written per rule: a plastic projection's code comes from its
:class:`~neurodeploy.learning.engine_rule.EngineRule` (traces it uses, ``dw`` from
:meth:`EngineRule.brian2_expression`, the bounded weight update), and a population's code
from its kind and the ports and delays of the projections that reach it.

Delivery. Every emitter group has a variable ``val``: what it sends this step (1 for a
spike of a source or LIF neuron, the summed input of a graded relay). A projection with
delay ``d`` into port ``current`` (``third_factor``) adds ``w * val_pre`` to the post
group's buffer ``ac{d}`` (``tf{d}``) in the ``synapses`` slot, with the weight of this
step. In the next step's ``groups`` slot the group consumes ``ac0`` / ``tf0`` and shifts
every buffer down by one, so the value arrives at ``t + 1 + d`` -- the contract's delivery,
done by the group rather than by Brian2's own delays, because the cpu scatters the weight
and the graded value of the emitting step, which a Brian2 delay would read at arrival.

Float equality with the cpu learner: every statement is one two-operand operation in the
cpu's order, selects are ``x * int(cond)`` (exact for finite values), and one Synapses
object per (projection, delay) holds its synapses in the cpu layout's order, so each
buffer sums its contributions in the cpu's order (``numpy.add.at`` is sequential).
"""
from __future__ import annotations

from neurodeploy.learning.engine_rule import EngineRule

from neurodeploy.neurons import lif, stochastic

BUFFERS = {"current": "ac", "third_factor": "tf"}
NEVER = 1 << 30          # steps since the last spike of a neuron that has not spiked


def buffer_vars(depths: dict[str, int]) -> str:
    """Model lines of the delivery buffers (``depths``: port -> deepest delay)."""
    return "".join(f"{BUFFERS[port]}{d} : 1\n" for port, depth in depths.items()
                   for d in range(depth + 1))


def consume(depths: dict[str, int], into: dict[str, str]) -> str:
    """Read slot 0 of each port's buffer into ``into[port]`` and shift the buffer."""
    lines = []
    for port, depth in depths.items():
        b = BUFFERS[port]
        if port in into:
            lines.append(f"{into[port]} = {b}0")
        lines += [f"{b}{d} = {b}{d + 1}" for d in range(depth)]
        lines.append(f"{b}{depth} = 0")
    return "\n".join(lines)


def lif_model(depths: dict[str, int], refractory: bool, escape: bool = False) -> str:
    """Variables of a LIF population (the backend's, plus delivery, gate and third factor);
    ``escape``: a stochastic population's (:mod:`neurodeploy.neurons.stochastic`)."""
    eqs = (stochastic if escape else lif).brian2_code(int(refractory))[0]
    eqs += """
    val : 1
    spk : integer
    since : integer
    gwin : integer (constant)
    ep : integer (constant)
    tfs : 1
    y2 : 1
    y3 : 1
    cpl : 1 (constant)
    period : integer (shared, constant)
    """
    return eqs + buffer_vars(depths)


def lif_step(depths: dict[str, int], refractory: bool, escape: bool = False) -> str:
    """One step of a LIF population in the ``groups`` slot.

    Sample reset (u and v zeroed at every multiple of ``period``, Lava's ``LIFReset``), the
    backend's LIF update on the delivered current, then the spike, the steps since the last
    spike, the gate (active within ``gwin`` steps of it; ``gwin`` 0: always) and the gated
    third factor summed over the neuron's learning epoch ``ep`` (the sum restarts at each
    multiple of ``ep``), split into its positive and negative parts ``y2`` and ``y3``.
    Where ``cpl`` is non-zero (SAL's alignment phase) the raw third factor also reaches the
    current one step later, as the cpu loop's coupling does. ``escape``: the stochastic
    kind's update and spike (this step's uniform ``nd_r(t, i)`` below the escape
    probability, never while refractory)."""
    into = {"current": "a"}
    if "third_factor" in depths:
        into["third_factor"] = "_tf"
    lines = ["_keep = int(timestep(t, dt) % period != 0)", "u = u * _keep", "v = v * _keep",
             consume(depths, into),
             (stochastic if escape else lif).brian2_code(int(refractory))[1].strip()]
    if escape:
        lines += [stochastic.BRIAN2_ESCAPE.strip(), "spk = int(live > 0.5 and nd_r(t, i) < p)"]
    else:
        lines.append("spk = int(v > vth)")
    lines += ["val = spk", f"since = since + int(since < {NEVER})", "since = since * (1 - spk)"]
    if "third_factor" in depths:
        lines += ["_cpl = cpl * _tf", "ac0 = ac0 + _cpl",
                  "tfs = tfs * int(timestep(t, dt) % ep != 0)",
                  "_gated = _tf * int(gwin == 0 or since < gwin)", "tfs = tfs + _gated",
                  "y2 = tfs * int(tfs > 0)", "_neg = -tfs", "y3 = _neg * int(tfs < 0)"]
    return "\n".join(lines)


def graded_model(depths: dict[str, int]) -> str:
    """Variables of a graded relay population: it never spikes and takes no third factor."""
    return "val : 1\nspk : integer (constant)\ny2 : 1 (constant)\ny3 : 1 (constant)\n" + \
        buffer_vars(depths)


def graded_step(depths: dict[str, int]) -> str:
    """A graded relay emits its summed input of this step (a third factor is dropped)."""
    return consume(depths, {"current": "val"})


SOURCE_MODEL = "val : 1\n"
SOURCE_STEP = "val = stim(t, i)"


def on_pre(port: str, delay: int) -> str:
    """The pre pathway of a (projection, delay) Synapses object."""
    return f"{BUFFERS[port]}{delay}_post += w * val_pre"


def synapse_model(rule: EngineRule | None) -> str:
    """Per-synapse variables: the weight, and for a plastic projection its learning gain,
    term coefficients ``c0..`` and the traces the rule uses (bounds and trace constants are
    shared)."""
    eqs = "w : 1\n"
    if rule is None:
        return eqs
    eqs += "gain : 1 (constant)\n"
    eqs += "".join(f"c{k} : 1 (constant)\n" for k in range(len(rule.terms)))
    for trace in used_traces(rule):
        eqs += (f"{trace} : 1\n{trace}_dec : 1 (shared, constant)\n"
                f"{trace}_imp : 1 (shared, constant)\n")
    if bounded(rule):
        eqs += "w_lo : 1 (shared, constant)\nw_hi : 1 (shared, constant)\n"
    return eqs


def used_traces(rule: EngineRule) -> list[str]:
    """The traces (x1, x2, y1) that some term of the rule reads."""
    return [f for f in ("x1", "x2", "y1") if any(f in t.factors for t in rule.terms)]


def bounded(rule: EngineRule) -> bool:
    """Whether the rule clips the weight to finite bounds."""
    import math
    return not (math.isinf(rule.w_min) and math.isinf(rule.w_max))


def learning_step(rule: EngineRule) -> str:
    """One step of a plastic projection, run in the ``end`` slot: traces (presynaptic from
    what the pre neuron sent, postsynaptic from its spike), then dw from the rule, then at
    the last step of each learning epoch ``w += dw * gain``, clipped to the bounds when dw
    is non-zero. (dw is computed every step and applied only at epoch ends: Brian2 has no
    offset for a ``run_regularly`` of a longer period.)"""
    epoch = int(rule.t_epoch)
    lines = [f"_on = int((timestep(t, dt) + 1) % {epoch} == 0)"] if epoch > 1 else []
    for trace in used_traces(rule):
        source = "val_pre" if trace.startswith("x") else "spk_post"
        lines += [f"{trace} = {trace} * {trace}_dec", f"_imp = {trace}_imp * {source}",
                  f"{trace} = {trace} + _imp"]
    names = {"y2": "y2_post", "y3": "y3_post", "x0": "val_pre != 0", "y0": "spk_post != 0"}
    lines.append(rule.brian2_expression(names, coef="c", out="_dw"))
    lines.append("_g = _dw * gain")
    if bounded(rule):
        # the cpu leaves w alone when dw == 0 (even outside the bounds); x*1 + y*0 is exact
        on = " * _on" if epoch > 1 else ""
        lines += ["_nw = w + _g", "_nw = clip(_nw, w_lo, w_hi)", f"_ch = int(_dw != 0){on}",
                  "_a = _nw * _ch", "_k = 1 - _ch", "_b = w * _k", "w = _a + _b"]
    elif epoch > 1:
        lines += ["_h = _g * _on", "w = w + _h"]
    else:
        lines.append("w = w + _g")
    for trace in used_traces(rule):
        if trace.startswith("x") and getattr(rule, trace).epoch_sum:
            # an epoch-summed trace restarts from 0 after the rule was applied (as on cpu)
            lines.append(f"{trace} = {trace} * (1 - _on)" if epoch > 1 else f"{trace} = {trace} * 0")
    return "\n".join(lines)
