"""Raster and state plots of simulation results (matplotlib, no display needed)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from .outputs import OutputError, write_error


def plot_formats() -> list[str]:
    """File extensions matplotlib can write here (without a display)."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.backend_bases import FigureCanvasBase
    return sorted(FigureCanvasBase.get_supported_filetypes())


def check_plot_path(path: str | Path) -> None:
    """Refuse an extension matplotlib cannot write, before a run produces anything to plot
    (no extension means PNG)."""
    suffix = Path(path).suffix.lower().lstrip(".")
    formats = plot_formats()
    if suffix and suffix not in formats:
        raise OutputError(f"unknown plot format '.{suffix}'; use one of "
                          f"{', '.join('.' + f for f in formats)}", file=path)


def plot_result(data: dict[str, np.ndarray], path: str | Path, title: str = "",
                scales: dict[str, float] | None = None) -> Path:
    """One panel per monitor: a spike raster for ``*.spikes``, traces of a few neurons else.

    Batched results ([batch, steps, size]) plot the first instance. State traces with a
    scale (see :func:`~neurodeploy.compilers.result.state_scales`) are divided by it, so
    fixed-point ``v``/``u`` are shown in the units of the YAML's ``v_th``.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    scales = scales or {}

    keys = sorted(data, key=lambda k: (not k.endswith(".spikes"), k))
    if not keys:
        from .errors import NeurodeployError
        raise NeurodeployError("nothing to plot: the run recorded no monitors; add monitors "
                               "to the network (or drop --plot)", file=path)
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
            scale = scales.get(key, 1.0)
            for i in range(min(arr.shape[1], 5)):
                ax.plot(arr[:, i] / scale, lw=0.8, label=f"neuron {i}")
            ax.set_ylabel(key if scale == 1.0 else f"{key}\n(YAML voltage units)")
            ax.legend(fontsize=7, loc="upper right")
    axes[-1, 0].set_xlabel("time step")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix or ".png",
                                   dir=path.parent)
        os.close(fd)
        fig.savefig(tmp, dpi=110)
        os.replace(tmp, path)
    except OSError as exc:
        raise write_error(path, exc) from None
    finally:
        plt.close(fig)
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
    return path
