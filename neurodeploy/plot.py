"""Raster and state plots of simulation results (matplotlib, no display needed)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np


def plot_result(data: dict[str, np.ndarray], path: str | Path, title: str = "") -> Path:
    """One panel per monitor: a spike raster for ``*.spikes``, traces of a few neurons else.

    Batched results ([batch, steps, size]) plot the first instance.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted(data, key=lambda k: (not k.endswith(".spikes"), k))
    fig, axes = plt.subplots(len(keys), 1, figsize=(9, 2.2 * len(keys) + 0.6), sharex=True,
                             squeeze=False)
    for ax, key in zip(axes[:, 0], keys):
        arr = data[key][0] if data[key].ndim == 3 else data[key]
        if key.endswith(".spikes"):
            steps, neurons = np.nonzero(arr)
            ax.scatter(steps, neurons, s=2, marker="|", color="black")
            ax.set_ylabel(f"{key.rsplit('.', 1)[0]}\nneuron")
            ax.set_ylim(-0.5, arr.shape[1] - 0.5)
            ax.set_title(f"{key}: {int(arr.sum())} spikes", fontsize=9, loc="left")
        else:
            for i in range(min(arr.shape[1], 5)):
                ax.plot(arr[:, i], lw=0.8, label=f"neuron {i}")
            ax.set_ylabel(key)
            ax.legend(fontsize=7, loc="upper right")
    axes[-1, 0].set_xlabel("time step")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix or ".png", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=110)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        Path(tmp).unlink(missing_ok=True)
    return path
