"""Spike-based alignment learning (Gierlich et al. 2025, "Weight transport through spike
timing for robust local gradients"): pair STDP with both signs flipped.

For a feedback synapse ``B_ij`` from output j to hidden i, the anti-causal pairs (i fires,
then j) are what the forward weight ``W_ji`` causes, and they potentiate; the causal pairs
(j fires, then i) are what ``B_ij`` itself causes, and they depress. With equal windows
the chance coincidences of the two cancel, so ``E[dB] ~ g_out W^T - g_hid B`` and B settles
on the transpose of W scaled by the ratio of the two layers' gains: no weight is copied.
The block's network parts (noise, drive, coupling of the feedback into the hidden soma)
are those of :mod:`.fa_family`'s alignment phase.
"""
from __future__ import annotations

from .engine_rule import EngineRule, Term
from .stdp import pair_rule

#: the phase in which SAL's feedback learns (the host runs it after each training epoch)
PHASE = "align"


def sal_rule(eta: float, tau: float, decay: float = 0.0, pre_impulse: float = 1.0,
             tied_to: str | None = None) -> EngineRule:
    """``dB = -eta x1 y0 + eta y1 x0 - decay B``, every step of an alignment phase.

    ``pre_impulse``: x1's impulse per unit of the pre event's payload (-1 when the pre is the
    error relay, which carries ``-out`` in alignment phases, so x1 traces out's spikes)."""
    rule = pair_rule(-eta, -eta, tau, tau, pre_impulse=pre_impulse, phase=PHASE,
                     tied_to=tied_to)
    if decay:
        rule = EngineRule(terms=rule.terms + (Term(-decay, "u", ("w",)),), x1=rule.x1,
                          x2=rule.x2, y1=rule.y1, t_epoch=1, phase=PHASE, tied_to=tied_to)
    return rule
