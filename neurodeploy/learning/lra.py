"""``rule: lra``: local representation alignment for recurrent spiking layers.

After Manchev & Garcia-Peraza-Herrera, "Can Local Representation Alignment RNNs Solve
Temporal Tasks?": no backpropagation through time; each layer gets a target and learns
from its own mismatch. Here, every step:

* the output error ``e = label - out`` is a graded population (as in the FA family: label
  source, ``<b>_error``, ``<b>_err_out`` into the outputs' third factor);
* each recurrent layer h's target is its activity moved by ``beta B_h e``; its local error,
  target - activity = ``beta B_h e``, reaches h's third factor through its fixed random
  feedback projection ``<b>_fb_<h>`` (std ``beta / sqrt(outputs)`` by default);
* every trained projection, input -> h, h -> h (recurrent) and h -> out, learns
  ``dw = eta x1 (y2 - y3) - decay w`` (``eta`` times ``recurrent_rate`` on h -> h): its pre
  trace x1, the post neuron's local error (y2 - y3, summed over the learning epoch) taken
  only while the post neuron is active (the gate, LRA's post-activity factor), and an
  optional decay.

Several recurrent layers (each with one read-out into the output) let a network hold its
memory at several synaptic time constants. The input and recurrent projections' pre trace
(``trace_tau``, long) carries the sequence forward to the read-out window where the error
arrives, so the error credits the synapses that shaped the activity leading to it, without
unrolling time; the read-out projections' (``readout_trace_tau``, short) sees that window's
hidden spikes. The rule is the FA family's engine rule (one sum of products), so it runs
wherever theirs does: cpu, Brian2 and Lava in float; fixed-point profiles refuse it by name
at compile (``learning/manifest.py``).
"""
from __future__ import annotations

import math

from ..errors import IRError
from ..ir.models import Network, NormalInit, Projection
from .fa_family import Expansion, forward_rule, learning_epoch, output_error


def _roles(net: Network, name: str, block) -> tuple[str, dict[str, str]]:
    """(output, {recurrent layer: its read-out projection}) of the listed projections: each
    recurrent layer sends exactly one projection into the output, every other listed
    projection ends at one of those layers."""
    def err(msg: str, *path) -> IRError:
        return IRError(msg, file=net._file, path=("plasticity", name, *path))
    out = block.error_from or net.projections[block.projections[-1]].post
    readouts: dict[str, str] = {}
    for i, p in enumerate(block.projections):
        pre, post = net.projections[p].pre, net.projections[p].post
        if post != out or pre == out:
            continue
        if net.populations[pre].kind == "spike_source":
            raise err(f"the read-out projection '{p}' starts at the input '{pre}'; lra trains "
                      "recurrent layers between input and output", "projections", i)
        if pre in readouts:
            raise err(f"'{pre}' has two read-out projections into '{out}' ('{readouts[pre]}', "
                      f"'{p}'); list one per recurrent layer", "projections", i)
        readouts[pre] = p
    if not readouts:
        raise err(f"lra trains one read-out projection into '{out}' from each recurrent layer; "
                  f"found none among {', '.join(block.projections)}", "projections")
    layers = ", ".join(f"'{h}'" for h in readouts)
    for i, p in enumerate(block.projections):
        if p not in readouts.values() and net.projections[p].post not in readouts:
            raise err(f"'{p}' ends at '{net.projections[p].post}', not at a recurrent layer "
                      f"({layers}); lra trains the projections into them (input, recurrent) and "
                      f"their read-outs into '{out}'", "projections", i)
    if len(block.projections) == len(readouts):
        raise err(f"lra needs at least one projection into {layers} besides the read-out",
                  "projections")
    return out, readouts


def expand_lra(net: Network, name: str, block) -> Expansion:
    """Label, error population, a feedback B to each recurrent layer, and the rules."""
    out, readouts = _roles(net, name, block)
    layers = list(readouts)
    n_out = net.populations[out].size
    ex = Expansion(label=f"{name}_label", output=out, hidden=layers, gated=list(layers))
    err = output_error(ex, name, out, n_out)
    for h in layers:
        fb = f"{name}_fb_{h}"
        init = block.feedback or NormalInit(init="normal", mean=0.0, std=block.beta / math.sqrt(n_out))
        ex.projections[fb] = Projection(pre=err, post=h, port="third_factor", weights=init)
        ex.pairs.append((readouts[h], fb))
    epoch = learning_epoch(net, block)
    tau = float(epoch) if block.trace_tau is None else block.trace_tau
    rule = forward_rule(block.learning_rate, tau, block.decay, epoch)
    recurrent = forward_rule(block.learning_rate * block.recurrent_rate, tau, block.decay, epoch)
    tau_out = tau if block.readout_trace_tau is None else block.readout_trace_tau
    readout = forward_rule(block.learning_rate, tau_out, block.decay, epoch)
    for proj in block.projections:
        p = net.projections[proj]
        ex.rules[proj] = (readout if proj in readouts.values()
                          else recurrent if p.pre in readouts else rule)
    return ex
