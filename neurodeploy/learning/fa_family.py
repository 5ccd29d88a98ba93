"""The feedback-alignment family as network parts plus engine rules.

For trained projections ``W_1 .. W_L`` (input -> h_1 -> ... -> out) a rule adds:

* ``<b>_label`` (spike_source, size of out): the host presents the label as spikes of the
  labelled neuron at ``target_rate``;
* ``<b>_error`` (graded): ``e = label - out`` each step (projections ``<b>_label_err`` +1 and
  ``<b>_out_err`` -1, one to one); ``<b>_err_out`` hands e to the output neurons' third
  factor;
* the feedback pathway to the hidden layers' third factor, per rule: FA chains fixed random
  ``B_l`` through graded relays ``<b>_relay_<h>`` (``B_l`` feeds the relay of layer h, which
  hands its signal to h and, through ``B_(l-1)``, to the layer below); DFA sends e through its own ``B_l`` to every
  hidden layer; low-rank FA goes through a rank-r graded bottleneck (``B = U V``);
  Kolen–Pollack and weight mirror learn their ``B``.

Every trained forward projection learns ``dw = eta * x1 * (y2 - y3)`` once per learning
epoch (default: one sample): x1 is the presynaptic trace, y2 - y3 the third factor summed
over the epoch (gated by the post neuron's recent activity in hidden layers).
Kolen–Pollack adds ``- decay * w`` to W and B alike and trains ``dB = eta * x1 * y1`` with
x1 the error summed over the epoch and y1 the hidden spike trace (the same trace as W's
x1), so B follows W's update transposed. Weight mirror trains B only in mirror phases,
from noise spikes injected into the hidden layer, every step: ``dB = -eta_m (x1 - x2)
(y1 - m) - decay B`` with x1 the error (``-out`` there), x2 its running mean and m the
hidden trace's mean under the noise (both sides centred, as Akrout's zero-mean noise);
a drive source (``<b>_mirror_drive``) holds the output neurons at a baseline rate during
those phases through a homeostatic rule of its own, so that every output's spikes follow
W's input in both directions with a similar gain. SAL (:mod:`.sal`) has the same noise phase
(``align``; sub-threshold noise spikes), feeds B's input into the hidden soma there
(``align["coupling"]``), and learns B by pair STDP with both signs flipped.
"""
from __future__ import annotations

import math

from ..errors import IRError
from ..ir.models import (ConstantInit, GradedPopulation, Network, NormalInit, Projection,
                         SpikeSourcePopulation)
from .engine_rule import EngineRule, Term, Trace
from .expansion import Expansion
from .sal import PHASE, sal_rule


def chain(net: Network, block_name: str, block) -> list[tuple[str, str, str]]:
    """(projection, pre, post) of the trained projections; they must form a chain."""
    out = []
    for i, name in enumerate(block.projections):
        proj = net.projections[name]
        if out and proj.pre != out[-1][2]:
            raise IRError(f"'{name}' starts at '{proj.pre}' but the previous projection ends at "
                          f"'{out[-1][2]}'; list the trained projections as a chain from input "
                          "to output", file=net._file, path=("plasticity", block_name, "projections", i))
        out.append((name, proj.pre, proj.post))
    return out


def _feedback_init(block, n_from: int):
    return block.feedback or NormalInit(init="normal", mean=0.0, std=1.0 / math.sqrt(n_from))


def expand_error_driven(net: Network, name: str, block) -> Expansion:
    """Populations, projections and rules of an FA-family block."""
    links = chain(net, name, block)
    out = block.error_from or links[-1][2]
    if out != links[-1][2]:
        raise IRError(f"error_from '{out}' is not the post population of the last trained "
                      f"projection ('{links[-1][2]}')", file=net._file,
                      path=("plasticity", name, "error_from"))
    n_out = net.populations[out].size
    hidden = [post for _, _, post in links[:-1]]
    ex = Expansion(label=f"{name}_label", output=out, hidden=hidden, gated=list(hidden))
    err = output_error(ex, name, out, n_out)
    one = ConstantInit(init="constant", value=1.0)
    rule = block.rule if block.rule != "dfa" else "direct_feedback_alignment"
    epoch = learning_epoch(net, block)
    eta = block.learning_rate
    tau = float(epoch) if block.trace_tau is None else block.trace_tau
    decay = getattr(block, "decay", 0.0) if rule == "kolen_pollack" else 0.0
    forward = forward_rule(eta, tau, decay, epoch)
    for proj, _, _ in links:
        ex.rules[proj] = forward
    sizes = {p: net.populations[p].size for p in hidden}
    if rule in ("kolen_pollack", "weight_mirror", "sal") and len(hidden) > 1:
        raise IRError(f"{rule} learns the feedback to one hidden layer in this release; train "
                      "a network with one hidden layer (two chained projections)",
                      file=net._file, path=("plasticity", name, "projections"))
    if rule in ("feedback_alignment", "kolen_pollack", "weight_mirror", "sal"):
        source, n_source = err, n_out
        for l in range(len(hidden) - 1, -1, -1):
            h = hidden[l]
            fb = f"{name}_fb_{h}"
            ex.pairs.append((links[l + 1][0], fb))
            if l == 0:
                ex.projections[fb] = Projection(pre=source, post=h, port="third_factor",
                                                weights=_feedback_init(block, n_source))
                continue
            relay = f"{name}_relay_{h}"       # carries B_l e to h and on to the layer below
            ex.populations[relay] = GradedPopulation(kind="graded", size=sizes[h])
            ex.projections[fb] = Projection(pre=source, post=relay,
                                            weights=_feedback_init(block, n_source))
            ex.projections[f"{relay}_in"] = Projection(pre=relay, post=h, connectivity="one_to_one",
                                                       weights=one, port="third_factor")
            source, n_source = relay, sizes[h]
    elif rule == "direct_feedback_alignment":
        for l, h in enumerate(hidden):
            fb = f"{name}_fb_{h}"
            ex.projections[fb] = Projection(pre=err, post=h, weights=_feedback_init(block, n_out),
                                            port="third_factor")
    elif rule == "low_rank_fa":
        for l, h in enumerate(hidden):
            upper = sizes[hidden[l + 1]] if l + 1 < len(hidden) else n_out
            if not 1 <= block.rank <= min(sizes[h], upper):
                raise IRError(f"rank {block.rank} must be between 1 and {min(sizes[h], upper)} (the "
                              f"smaller of '{h}' and the layer above)", file=net._file,
                              path=("plasticity", name, "rank"))
            neck = f"{name}_rank_{h}"
            ex.populations[neck] = GradedPopulation(kind="graded", size=block.rank)
            ex.projections[f"{name}_fbv_{h}"] = Projection(
                pre=err, post=neck, weights=NormalInit(init="normal", std=1.0 / math.sqrt(n_out)))
            ex.projections[f"{name}_fb_{h}"] = Projection(
                pre=neck, post=h, weights=NormalInit(init="normal", std=1.0 / math.sqrt(block.rank)),
                port="third_factor")
            ex.pairs.append((links[l + 1][0], f"{name}_fb_{h}", f"{name}_fbv_{h}"))
    if rule == "kolen_pollack":
        for w_proj, fb in ex.pairs:
            ex.rules[fb] = EngineRule(
                terms=(Term(eta, "u", ("x1", "y1")), Term(-decay, "u", ("w",))),
                x1=EPOCH_SUM, y1=Trace(tau=tau, impulse=1.0),
                x2=Trace(), t_epoch=epoch, phase="train", tied_to=w_proj)
    if rule in ("weight_mirror", "sal"):
        _alignment_parts(ex, net, name, block, rule, out, hidden[-1] if hidden else None)
    return ex


def output_error(ex: Expansion, name: str, out: str, n_out: int) -> str:
    """Add the label source and the graded error ``e = label - out`` that feeds the output
    neurons' third factor; returns the error population's name."""
    err = f"{name}_error"
    ex.populations[ex.label] = SpikeSourcePopulation(kind="spike_source", size=n_out)
    ex.populations[err] = GradedPopulation(kind="graded", size=n_out)
    one = ConstantInit(init="constant", value=1.0)
    ex.projections[f"{name}_label_err"] = Projection(pre=ex.label, post=err, connectivity="one_to_one", weights=one)
    ex.projections[f"{name}_out_err"] = Projection(pre=out, post=err, connectivity="one_to_one",
                                                   weights=ConstantInit(init="constant", value=-1.0))
    ex.projections[f"{name}_err_out"] = Projection(pre=err, post=out, connectivity="one_to_one",
                                                   weights=one, port="third_factor")
    return err


def _alignment_parts(ex: Expansion, net: Network, name: str, block, rule: str, out: str,
                     h: str | None) -> None:
    """The noise phase of weight mirror and SAL: noise spikes into the hidden layer, a
    homeostatic drive that holds the outputs at a baseline rate, and B's phase rule."""
    if h is None:
        raise IRError(f"{rule} learns the feedback to a hidden layer; list at least two "
                      "chained projections (input -> hidden -> output)", file=net._file,
                      path=("plasticity", name, "projections"))
    mirror = rule == "weight_mirror"
    ex.noise, ex.drive = f"{name}_noise", f"{name}_mirror_drive"
    n_out = net.populations[out].size
    ex.populations[ex.drive] = SpikeSourcePopulation(kind="spike_source", size=n_out)
    ex.projections[f"{name}_drive_{out}"] = Projection(
        pre=ex.drive, post=out, connectivity="one_to_one",
        weights=ConstantInit(init="constant", value=block.mirror_drive if mirror else block.align_drive))
    ex.populations[ex.noise] = SpikeSourcePopulation(kind="spike_source",
                                                     size=net.populations[h].size)
    gain = 1.05 if mirror else block.align_noise_weight
    ex.projections[f"{name}_noise_{h}"] = Projection(
        pre=ex.noise, post=h, connectivity="one_to_one",
        weights=ConstantInit(init="constant", value=gain * _threshold(net, h)))
    if mirror:
        for w_proj, fb in ex.pairs:
            ex.rules[fb] = _mirror_rule(block, w_proj)
        ex.align = {"phase": "mirror", "steps": block.mirror_steps,
                    "noise_hz": block.mirror_rate_hz, "coupling": 0.0, "populations": []}
    else:
        for w_proj, fb in ex.pairs:
            ex.rules[fb] = sal_rule(block.sal_rate, block.sal_tau, block.decay,
                                    pre_payload=-1.0, tied_to=w_proj)
        ex.align = {"phase": PHASE, "steps": block.align_steps, "noise_hz": block.align_rate_hz,
                    "coupling": -block.coupling, "populations": [h]}
    target = block.mirror_target_rate if mirror else block.align_target_rate
    ex.rules[f"{name}_drive_{out}"] = _drive_rule(target, ex.align["phase"])


# The error relay's payloads summed over the learning epoch: the same error the output
# neurons' third factor sums (one step earlier, as it travels one more projection).
EPOCH_SUM = Trace(tau=0.0, impulse=1.0, epoch_sum=True)


def learning_epoch(net: Network, block) -> int:
    """Steps between updates: the block's choice, else the sample length of the task."""
    if block.learning_epoch is not None:
        return block.learning_epoch
    return net.task.sample_steps if net.task is not None else 1


def forward_rule(eta: float, tau: float, decay: float, epoch: int) -> EngineRule:
    terms = [Term(eta, "u", ("x1", "y2")), Term(-eta, "u", ("x1", "y3"))]
    if decay:
        terms.append(Term(-decay, "u", ("w",)))
    return EngineRule(terms=tuple(terms), x1=Trace(tau=tau, impulse=1.0), x2=Trace(), y1=Trace(),
                      t_epoch=epoch, third_factor=True, phase="train")


# Time constant (steps) of the error's running mean (x2) and of the drive homeostat's
# traces in mirror phases, and the homeostat's rate.
MIRROR_MEAN_TAU = 100.0
DRIVE_TAU = 20.0
DRIVE_RATE = 1e-3


def _mirror_rule(block, w_proj: str) -> EngineRule:
    """Weight mirror's B update, every step of a mirror phase: ``dB = -eta (x1 - x2)(y1 - m)
    - decay B`` expanded into products. x1 is the error's payload this step (``-out``), x2
    its running mean (so the output side is centred per neuron), y1 the hidden trace and m
    its nominal mean under the noise (a noise spike can leave charge for a second hidden
    spike, so the true mean is a little higher; with x1 - x2 centred that offset only adds
    variance), so ``E[dB] = eta Cov(out, h)``: W^T times the output neurons' gain."""
    eta, tau_y = block.mirror_rate, block.mirror_tau
    m = block.mirror_rate_hz * _trace_gain(tau_y)
    return EngineRule(
        terms=(Term(-eta, "u", ("x1", "y1")), Term(eta * m, "u", ("x1",)),
               Term(eta, "u", ("x2", "y1")), Term(-eta * m, "u", ("x2",)),
               Term(-block.decay, "u", ("w",))),
        x1=EPOCH_SUM, x2=Trace(tau=MIRROR_MEAN_TAU, impulse=1.0 / _trace_gain(MIRROR_MEAN_TAU)),
        y1=Trace(tau=tau_y, impulse=1.0), t_epoch=1, phase="mirror", tied_to=w_proj)


def _drive_rule(target_rate: float, phase: str) -> EngineRule:
    """Homeostat of the mirror drive: ``dw = r x1 (target - y1 / G)`` holds every output
    neuron at ``mirror_target_rate`` in mirror phases, whatever its mean input from the
    noise-driven hidden layer (W's row sums), so all outputs answer W x with a similar gain."""
    g = _trace_gain(DRIVE_TAU)
    return EngineRule(
        terms=(Term(DRIVE_RATE * target_rate, "u", ("x1",)),
               Term(-DRIVE_RATE / g, "u", ("x1", "y1"))),
        x1=Trace(tau=DRIVE_TAU, impulse=1.0), y1=Trace(tau=DRIVE_TAU, impulse=1.0),
        t_epoch=1, phase=phase)


def _trace_gain(tau: float) -> float:
    """Stationary mean of a trace with impulse 1 per spike, per unit spike probability."""
    return 1.0 / (1.0 - math.exp(-1.0 / tau)) if tau > 0 else 1.0


def _threshold(net: Network, pop: str) -> float:
    """The hidden layer's (largest) threshold, the unit of the noise spikes' weight."""
    p = net.populations[pop].params
    return max(p.v_th) if isinstance(p.v_th, list) else p.v_th
