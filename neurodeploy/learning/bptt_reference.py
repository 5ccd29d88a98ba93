"""BPTT with surrogate gradients on the host: the reference a local rule is compared with.

Not a chip rule: the whole spike history is kept and differentiated (torch autograd). The
network is the float build's forward part as the cpu backend runs it (``u = u (1 - du) +
a``, ``v = v (1 - dv) + u + bias``, a spike when ``v > vth``, v reset to 0; a spike reaches
its targets the next step), with a fast-sigmoid surrogate derivative of the spike, the
same encoded input spikes and the same read-out (the output neuron with the most spikes in
the sample window). Loss: cross-entropy of logits = output spike counts (scaled) plus
``voltage_gain`` times the outputs' mean membrane potential over the read-out window (the
task's ``readout_steps``, else the whole sample); Adam, gradient norm clipped to ``clip``.

Why the voltage term: with counts alone the loss has no gradient once the outputs fall
silent (a count of 0 for every class, the surrogate far below threshold), and the first
version of this reference did fall silent on temporal order; the membrane potential is
graded whether or not the neuron spikes, so the outputs cannot get stuck there.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class BpttConfig:
    """Optimiser settings of the reference."""

    epochs: int = 10
    batch: int = 32
    lr: float = 2e-3
    slope: float = 5.0
    count_scale: float = 1.0
    voltage_gain: float = 1.0
    clip: float = 1.0
    seed: int = 0


def _spike_fn(slope: float):
    import torch

    class Spike(torch.autograd.Function):
        """Heaviside forward, fast-sigmoid derivative backward."""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return (x > 0).to(x.dtype)

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad / (slope * x.abs() + 1.0) ** 2
    return Spike.apply


def _lif(plan, name: str) -> dict:
    p = plan.populations[name]
    return {k: np.broadcast_to(np.asarray(getattr(p, k), np.float64), (p.size,)).copy()
            for k in ("du", "dv", "vth", "bias_mant")}


class SpikingForward:
    """The float build's forward network (lif populations fed by the task's input) as a
    differentiable torch function of the input spikes; ``trained`` projections require
    gradients."""

    def __init__(self, plan, trained: list[str], slope: float = 5.0) -> None:
        import torch
        self.inp, self.out = plan.task["input"], plan.task["output"]
        self.projs = {n: p for n, p in plan.projections.items()
                      if plan.populations[p.pre].kind in ("spike_source", "lif")
                      and plan.populations[p.post].kind == "lif" and p.port != "third_factor"}
        self.lifs = sorted({p.post for p in self.projs.values()})
        self.sizes = {n: plan.populations[n].size for n in [self.inp, *self.lifs]}
        self.params = {n: torch.tensor(_dense(plan, n), dtype=torch.float64,
                                       requires_grad=n in trained) for n in self.projs}
        self.consts = {n: {k: torch.tensor(v) for k, v in _lif(plan, n).items()}
                       for n in self.lifs}
        self.spike = _spike_fn(slope)

    def counts(self, spikes):
        """Output spike counts [B, classes] of input spikes [B, T, F] (a torch tensor), each
        sample from a reset state."""
        return self.run(spikes, 0)[0]

    def run(self, spikes, window: int):
        """(output spike counts, output membrane potential summed over the last ``window``
        steps before reset), both [B, classes], of input spikes [B, T, F]."""
        import torch
        b, steps = spikes.shape[0], spikes.shape[1]
        zeros = {n: torch.zeros(b, self.sizes[n], dtype=torch.float64) for n in self.sizes}
        u, v, z = dict(zeros), dict(zeros), dict(zeros)
        count, vsum = zeros[self.out], zeros[self.out]
        for t in range(steps):
            prev = {**z, self.inp: spikes[:, t - 1] if t else zeros[self.inp]}
            new = {}
            for n in self.lifs:
                a = sum(prev[p.pre] @ self.params[k].T for k, p in self.projs.items() if p.post == n)
                c = self.consts[n]
                u[n] = u[n] * (1 - c["du"]) + a
                v[n] = v[n] * (1 - c["dv"]) + u[n] + c["bias_mant"]
                new[n] = self.spike(v[n] - c["vth"])
                if n == self.out and t >= steps - window:
                    vsum = vsum + v[n]
                v[n] = v[n] * (1 - new[n].detach())
            z = new
            count = count + z[self.out]
        return count, vsum


def train_bptt(plan, trained: list[str], x_train: np.ndarray, y_train: np.ndarray,
               x_test: np.ndarray, y_test: np.ndarray, cfg: BpttConfig) -> dict:
    """Train the ``trained`` projections of the float build ``plan`` on encoded spikes
    [N, T, F]; returns per-epoch train / test accuracies and the time taken."""
    import time

    import torch
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(1)      # small matrices: one thread is fastest and shares the cores
    net = SpikingForward(plan, trained, cfg.slope)
    params = [net.params[n] for n in trained]
    opt = torch.optim.Adam(params, lr=cfg.lr)
    run = net.counts
    window = int(plan.task.get("readout_steps") or plan.task["sample_steps"])

    def accuracy(x: np.ndarray, y: np.ndarray) -> float:
        with torch.no_grad():
            counts = run(torch.tensor(x, dtype=torch.float64)).numpy()
        from . import metrics
        return metrics.accuracy(counts, y)

    rng = np.random.default_rng(cfg.seed)
    hist = {"train_accuracy": [], "test_accuracy": [], "seconds": []}
    start = time.time()
    for _ in range(cfg.epochs):
        order = rng.permutation(y_train.size)
        for i in range(0, order.size, cfg.batch):
            idx = order[i:i + cfg.batch]
            counts, vsum = net.run(torch.tensor(x_train[idx], dtype=torch.float64), window)
            logits = counts * cfg.count_scale + vsum * (cfg.voltage_gain / window)
            loss = torch.nn.functional.cross_entropy(logits, torch.tensor(y_train[idx]))
            opt.zero_grad()
            loss.backward()
            if cfg.clip > 0:
                torch.nn.utils.clip_grad_norm_(params, cfg.clip)
            opt.step()
        hist["train_accuracy"].append(accuracy(x_train[:1000], y_train[:1000]))
        hist["test_accuracy"].append(accuracy(x_test, y_test))
        hist["seconds"].append(time.time() - start)
    return hist


def _dense(plan, name: str) -> np.ndarray:
    """[post, pre] float weights of a projection of the float build."""
    p = plan.projections[name]
    if p.format != "coo":
        return np.asarray(p.weights, np.float64).reshape(p.shape).copy()
    w = np.zeros(p.shape)
    w[p.rows, p.cols] = p.weights
    return w
