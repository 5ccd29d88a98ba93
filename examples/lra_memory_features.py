"""How much of a temporal task leaky synaptic memories can hold: the ideal synaptic currents of
one, two or three time constants at the read-out window, read out by a ridge classifier
(linear, and through 300 random ReLU features). No spikes, no learning rule: the ceiling a
layer of one tau_syn gives its read-out (docs/lra.md).

    python examples/lra_memory_features.py temporal_order3
"""
from __future__ import annotations

import argparse

import numpy as np
from sklearn.linear_model import RidgeClassifier

from neurodeploy.task.sequences import generate


def currents(x: np.ndarray, taus: list[float], item_steps: int = 2, readout: int = 10) -> np.ndarray:
    """[N, F x len(taus)]: each input's current u(t) = u(t-1)(1 - 1/tau) + spikes, taken in the
    middle of the read-out window, for sequences [N, T, F] shown item_steps steps per element."""
    steps = np.repeat(x, item_steps, axis=1)
    n_steps = steps.shape[1]
    return np.concatenate([np.einsum("ntf,t->nf", steps, (1 - 1 / tau) ** (n_steps + readout // 2 - np.arange(n_steps)))
                           for tau in taus], axis=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="?", default="temporal_order3")
    args = ap.parse_args()
    d = generate(f"{args.data}:length=20,seed=0,train=2000,test=500")
    rng = np.random.default_rng(0)
    for taus in ([10], [30], [100], [15, 50], [10, 30, 100]):
        a, b = currents(d.x_train, taus), currents(d.x_test, taus)
        scale = a.std(0).mean()
        w, bias = rng.normal(size=(a.shape[1], 300)), rng.normal(size=300) * 2
        relu_a, relu_b = (np.maximum(z @ w / scale + bias, 0) for z in (a, b))
        lin = RidgeClassifier(alpha=1e-3).fit(a / scale, d.y_train).score(b / scale, d.y_test)
        rel = RidgeClassifier(alpha=1e-2).fit(relu_a, d.y_train).score(relu_b, d.y_test)
        print(f"{args.data}, tau_syn {taus}: linear {lin:.3f}, 300 random ReLU {rel:.3f}", flush=True)


if __name__ == "__main__":
    main()
