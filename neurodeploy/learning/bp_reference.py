"""The back-propagation reference: the same architecture as a rate network, trained by BP.

The spiking rules are judged against it (Kolen–Pollack and weight mirror should come within
a point). Rates stand for spike counts per sample: hidden h = relu(W1 x), output
o = W2 h, squared error to the one-hot target, plain SGD one sample at a time with the
same epochs and learning-rate decay as the spiking run.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..task import Dataset


@dataclass
class BPResult:
    """Per-epoch test accuracy and the trained weights."""

    test_accuracy: list[float] = field(default_factory=list)
    w1: np.ndarray | None = None
    w2: np.ndarray | None = None


def train_bp(data: Dataset, hidden: int, epochs: int = 20, lr: float = 0.01,
             lr_decay: float = 0.9, seed: int = 0, feedback: np.ndarray | None = None) -> BPResult:
    """SGD on a 1-hidden-layer ReLU network. ``feedback`` (hidden x classes) replaces W2^T
    in the backward pass, which turns BP into feedback alignment (for comparison)."""
    rng = np.random.default_rng(seed)
    n_in, n_out = data.n_features, data.n_classes
    w1 = rng.normal(0, 1 / np.sqrt(n_in), (hidden, n_in))
    w2 = rng.normal(0, 1 / np.sqrt(hidden), (n_out, hidden))
    target = np.eye(n_out)
    out = BPResult()
    for epoch in range(epochs):
        for i in rng.permutation(data.y_train.size):
            x = data.x_train[i]
            a = w1 @ x
            h = np.maximum(a, 0.0)
            e = target[data.y_train[i]] - w2 @ h
            back = (feedback if feedback is not None else w2.T) @ e
            w2 += lr * np.outer(e, h)
            w1 += lr * np.outer(back * (a > 0), x)
        pred = np.argmax(np.maximum(data.x_test @ w1.T, 0) @ w2.T, axis=1)
        out.test_accuracy.append(float(np.mean(pred == data.y_test)))
        lr *= lr_decay
    out.w1, out.w2 = w1, w2
    return out
