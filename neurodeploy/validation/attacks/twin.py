"""A differentiable float twin of a build's frozen network (torch), for crafting attacks.

The twin runs the build's own graph: its LIF populations (Lava's float step
``u = u (1 - du) + a; v = v (1 - dv) + u + bias``, spike when ``v > vth``, ``v = 0`` after a
spike), its projections with their delays and the timing contract of ``compilers/plan.py``
(a spike of step ``t`` arrives at step ``t + 1 + delay``). A fixed-point build is relaxed to
float in its own units: weights times ``2**weight_exp * 2**activation_shift``, decays
``(du + du_offset) / 2**decay_bits``, thresholds ``vth << threshold_shift`` and no rounding.
Every neuron's state is divided by its threshold, so the twin's thresholds are all 1 and a
surrogate slope means the same in every build.

Gradients: a spike is the Heaviside step forward and the fast sigmoid
``1 / (1 + slope |v - 1|)**2`` backward (Zenke's SuperSpike surrogate); the reset is not
differentiated. Input pixels pass the build's own encoder forward and its rate backward
(straight-through: ``d spikes_t / d pixel = max_rate`` at every step), see
:func:`encode`. Temporal noise of the build is left out of the twin (it models the noise-free
chip); what the twin cannot model (other neuron kinds, refractory periods, Poisson
background) it refuses by name.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from neurodeploy.errors import NeurodeployError
from neurodeploy.neurons.kind import FixedConstants


@dataclass
class Layer:
    """One LIF population of the twin (threshold-normalised units)."""

    name: str
    du: torch.Tensor           # [n]
    dv: torch.Tensor           # [n]
    bias: torch.Tensor         # [n]


@dataclass
class Edge:
    """One projection: a [post, pre] weight matrix per distinct delay."""

    pre: str
    post: str
    delays: list[int]
    weights: list[torch.Tensor]


class _Spike(torch.autograd.Function):
    """Heaviside forward, fast-sigmoid surrogate backward."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, slope: float) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(z)
        ctx.slope = slope
        return (z > 0).to(z.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        (z,) = ctx.saved_tensors
        return grad / (1.0 + ctx.slope * z.abs()) ** 2, None


def encode(x: torch.Tensor, steps: int, max_rate: float, encoding: str,
           gen: torch.Generator | None = None) -> torch.Tensor:
    """Input spikes [B, T, n] of pixels ``x`` [B, n], exactly the build's encoder forward.

    ``regular`` is deterministic (a spike whenever ``p t`` crosses an integer), so the twin
    sees the very spikes the build sees; ``rate`` (Bernoulli per step) draws from ``gen``:
    each call is a fresh draw, so an attack averages its gradient over the encoder's noise
    (expectation over transformation) instead of fitting one draw. Backward both pass
    ``max_rate`` per step (straight-through)."""
    p = x.clamp(0.0, 1.0) * max_rate
    t = torch.arange(1, steps + 1, dtype=x.dtype)
    if encoding == "rate":
        u = torch.rand((x.shape[0], steps, x.shape[1]), generator=gen, dtype=x.dtype)
        hard = (u < p[:, None, :].detach()).to(x.dtype)
    else:
        pd = p.detach()[:, None, :]
        hard = (torch.floor(pd * t[None, :, None] + 1e-9)
                - torch.floor(pd * (t[None, :, None] - 1) + 1e-9))
    return hard + (p - p.detach())[:, None, :]


class Twin:
    """The float twin of one frozen plan: ``counts(x)`` is differentiable in the pixels."""

    def __init__(self, layers: dict[str, Layer], edges: list[Edge], task: dict,
                 dtype: torch.dtype = torch.float64) -> None:
        self.layers, self.edges, self.task, self.dtype = layers, edges, task, dtype
        self.input, self.output = task["input"], task["output"]
        self.steps = int(task["sample_steps"])
        self.max_lag = 1 + max((max(e.delays) for e in edges), default=0)

    def parameters(self) -> list[torch.Tensor]:
        """Every weight matrix (what a gradient-trained twin learns)."""
        return [w for e in self.edges for w in e.weights]

    def run(self, spikes: torch.Tensor, slope: float) -> torch.Tensor:
        """Output spike counts [B, n_out] for input spikes [B, T, n_in]."""
        B, T = spikes.shape[0], spikes.shape[1]
        u = {n: torch.zeros(B, l.du.shape[0], dtype=self.dtype) for n, l in self.layers.items()}
        v = {n: torch.zeros_like(u[n]) for n in self.layers}
        hist: dict[str, list[torch.Tensor]] = {n: [] for n in list(self.layers) + [self.input]}
        counts = torch.zeros_like(u[self.output])
        for t in range(T):
            cur = {n: torch.zeros_like(u[n]) for n in self.layers}
            for e in self.edges:
                for d, w in zip(e.delays, e.weights):
                    src = t - 1 - d
                    if src >= 0:
                        cur[e.post] = cur[e.post] + hist[e.pre][src] @ w.T
            hist[self.input].append(spikes[:, t])
            for n, l in self.layers.items():
                u[n] = u[n] * (1.0 - l.du) + cur[n]
                vn = v[n] * (1.0 - l.dv) + u[n] + l.bias
                s = _Spike.apply(vn - 1.0, slope)
                v[n] = vn * (1.0 - s.detach())
                hist[n].append(s)
            counts = counts + hist[self.output][-1]
        return counts

    def counts(self, x: torch.Tensor, slope: float,
               gen: torch.Generator | None = None) -> torch.Tensor:
        """Output spike counts of pixels ``x`` [B, n_in] through the build's encoder."""
        spikes = encode(x, self.steps, float(self.task["max_rate"]), self.task["encoding"], gen)
        return self.run(spikes, slope)


def _refuse(why: str) -> NeurodeployError:
    return NeurodeployError(f"the attack's float twin {why}; attack a build of lif "
                            "populations fed by the task input", path=("--attack",))


def twin_of(plan, dtype: torch.dtype = torch.float64) -> Twin:
    """The twin of a frozen plan with a task (nominal chip: no mismatch)."""
    task = plan.task
    fixed = plan.fixed
    fc = FixedConstants.from_neuron_model(plan.neuron_model)
    thresholds: dict[str, np.ndarray] = {}
    layers: dict[str, Layer] = {}
    for name, pop in plan.populations.items():
        if pop.kind == "spike_source":
            if name != task["input"]:
                raise _refuse(f"has no data for spike_source '{name}'")
            continue
        if pop.kind != "lif":
            raise _refuse(f"models lif populations only; '{name}' is {pop.kind}")
        if pop.refractory:
            raise _refuse(f"does not model the refractory period of '{name}'")
        from neurodeploy.neurons.lif import effective_bias
        if fixed:
            th = np.asarray(pop.vth, np.float64) * 2.0 ** fc.threshold_shift
            du = (float(pop.du) + fc.du_offset) / 2.0 ** fc.decay_bits
            dv = (float(pop.dv) + fc.dv_offset) / 2.0 ** fc.decay_bits
            bias = effective_bias(pop.bias_mant, pop.bias_exp).astype(np.float64)
        else:
            th = np.asarray(pop.vth, np.float64)
            du, dv, bias = float(pop.du), float(pop.dv), np.asarray(pop.bias_mant, np.float64)
        if np.any(th <= 0):
            raise _refuse(f"needs positive thresholds; '{name}' has vth <= 0")
        thresholds[name] = th
        n = pop.size
        layers[name] = Layer(name, torch.full((n,), du, dtype=dtype),
                             torch.full((n,), dv, dtype=dtype),
                             torch.as_tensor(np.broadcast_to(bias, (n,)) / th, dtype=dtype))
    edges = []
    for name, proj in plan.projections.items():
        if proj.port != "current" or proj.post not in layers:
            raise _refuse(f"models current projections into lif populations only; '{name}' is not")
        w = np.asarray(proj.dense_weights(), np.float64)
        if fixed:
            w = w * 2.0 ** (proj.weight_exp + fc.activation_shift)
        w = w / thresholds[proj.post][:, None]
        delays = proj.dense_delays()
        ds = sorted({int(d) for d in np.unique(delays)})
        mats = [torch.as_tensor(np.where(delays == d, w, 0.0), dtype=dtype) for d in ds]
        edges.append(Edge(proj.pre, proj.post, ds, mats))
    return Twin(layers, edges, task, dtype)


def loss_of(counts: torch.Tensor, y: torch.Tensor, kind: str) -> torch.Tensor:
    """Per-sample loss an attack ascends: cross-entropy of the counts, or the margin
    ``max_other - count_true`` (Carlini-Wagner), which does not saturate."""
    if kind == "ce":
        return torch.nn.functional.cross_entropy(counts, y, reduction="none")
    true = counts.gather(1, y[:, None])[:, 0]
    other = counts.scatter(1, y[:, None], float("-inf")).max(dim=1).values
    return other - true


def input_gradient(twin: Twin, x: np.ndarray, y: np.ndarray, slope: float, loss: str,
                   gen: torch.Generator | None = None, draws: int = 1) -> np.ndarray:
    """d loss / d pixels [B, n] through the twin (averaged over ``draws`` encoder draws)."""
    xt = torch.as_tensor(x, dtype=twin.dtype).requires_grad_(True)
    yt = torch.as_tensor(y, dtype=torch.int64)
    total = sum(loss_of(twin.counts(xt, slope, gen), yt, loss).sum() for _ in range(draws))
    (grad,) = torch.autograd.grad(total, xt)
    return grad.numpy()
