"""The transfer (hybrid) attack: craft on a gradient-trained twin, run on the build.

Lin & Sengupta's hybrid attack: gradients computed through a locally trained network can
be poor (the rule never needed them), so the attacker trains a network of the *same
architecture* by back-propagation through time with surrogate gradients on the training
split, crafts FGSM and PGD examples on it, and transfers them to the target. The twin here
is the build's own graph and neuron parameters (:func:`.twin.twin_of`) with fresh random
weights of the same scale per projection, trained with Adam on cross-entropy of the
output counts; it never sees the build's weights or outputs.
"""
from __future__ import annotations

import copy

import numpy as np
import torch

from . import gradient, select
from .target import Target
from .twin import Twin, loss_of

TRAIN_SLOPE = 5.0


def train_twin(like: Twin, x: np.ndarray, y: np.ndarray, epochs: int = 10, seed: int = 0,
               lr: float = 0.03, batch: int = 32) -> Twin:
    """A copy of ``like``'s architecture with new weights trained by BPTT on (x, y)."""
    torch.manual_seed(seed)
    twin = copy.deepcopy(like)
    for e in twin.edges:
        scale = float(torch.cat([w.flatten() for w in e.weights]).std())
        e.weights = [(torch.randn_like(w) * scale * (w != 0)).requires_grad_(True)
                     if torch.count_nonzero(w) else w for w in e.weights]
    params = [w for w in twin.parameters() if w.requires_grad]
    opt = torch.optim.Adam(params, lr=lr * max(float(p.detach().abs().mean()) for p in params))
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    xt, yt = torch.as_tensor(x, dtype=twin.dtype), torch.as_tensor(y, dtype=torch.int64)
    for _ in range(epochs):
        order = rng.permutation(len(y))
        for i in range(0, len(y), batch):
            b = order[i:i + batch]
            loss = loss_of(twin.counts(xt[b], TRAIN_SLOPE, gen), yt[b], "ce").mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    for e in twin.edges:
        e.weights = [w.detach() for w in e.weights]
    return twin


def twin_accuracy(twin: Twin, x: np.ndarray, y: np.ndarray) -> float:
    """The trained twin's own test accuracy (how good a substitute it is)."""
    with torch.no_grad():
        counts = twin.counts(torch.as_tensor(x, dtype=twin.dtype), TRAIN_SLOPE,
                             torch.Generator().manual_seed(0))
    return float(np.mean(np.argmax(counts.numpy(), axis=1) == y))


def run_transfer(target: Target, substitute: Twin, worst: select.Worst, eps: float,
                 s: gradient.GradientSettings) -> None:
    """FGSM and PGD crafted on the substitute, each candidate offered to the build."""
    gradient.run_fgsm(target, substitute, worst, eps, s, tag="transfer ")
    gradient.run_pgd(target, substitute, worst, eps, s, tag="transfer ")
