"""Sequence data for temporal tasks: the four generators of Manchev & Garcia-Peraza-Herrera's
LRA-RNN benchmarks, the user's ``.npz`` of sequences, and their step-by-step spike encoding.

A sequence data set holds ``x_train [N, T, F]``, ``y_train [N]`` (and test): one label per
sequence, read out at its end. Element t of a sequence drives the input population for
``task.item_steps`` steps (rate or regular coding of its features, as for static data);
after the last element the input falls silent for ``task.readout_steps`` steps, during
which the label is shown (training) and the class is read (the output neuron with the most
spikes in the sample window). Built-in generators (``--data name[:key=value,...]``, keys
``length``, ``seed``, ``train``, ``test``, and ``bins`` for ``adding``):

* ``temporal_order``: 6 one-hot symbols; A or B at a position in [0.1 L, 0.2 L) and at one in
  [0.5 L, 0.6 L), distractors c..f elsewhere; 4 classes (AA, BA, AB, BB; chance 25 %).
* ``temporal_order3``: the same with three marked positions ([0.1, 0.2), [0.3, 0.4),
  [0.6, 0.7) of L); 8 classes.
* ``random_permutation``: 100 one-hot symbols; the first is 0 or 1, the rest random in
  2..99; the class is the first symbol (2 classes; the original predicts the last symbol,
  which repeats the first).
* ``adding``: 2 channels, a value uniform in [0, 1) and a marker; two marked positions (in
  [0, 0.1 L) and [0.1 L, 0.5 L)); the target, the mean of the two marked values, is read out
  as its bin of ``bins`` equal bins (classification; default 4; chance 1/bins). Sequences
  have the fixed length L (the original draws L to 1.1 L).
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..arrayfile import read_npz
from .arrays import KEYS, NPZ_HINT, Dataset, DatasetError, check_values, npz_heads

DEFAULTS = {"length": 20, "seed": 0, "train": 2000, "test": 500, "bins": 4}


def _one_hot(vals: np.ndarray, n: int) -> np.ndarray:
    """[N, T] symbols -> [N, T, n] one-hot floats."""
    return (vals[..., None] == np.arange(n)).astype(np.float64)


def _marked(rng: np.random.Generator, n: int, length: int, starts: tuple[float, ...]):
    """Symbols [N, L] with A/B (0/1) at one position per window, distractors 2..5 elsewhere,
    and the class sum_k bit_k 2^k."""
    vals = rng.integers(2, 6, size=(n, length))
    label = np.zeros(n, np.int64)
    for k, start in enumerate(starts):
        width = max(int(length * 0.1), 1)
        pos = rng.integers(0, width, size=n) + int(length * start)
        bit = rng.integers(0, 2, size=n)
        vals[np.arange(n), pos] = bit
        label += bit << k
    return _one_hot(vals, 6), label


def temporal_order(rng: np.random.Generator, n: int, length: int, **_) -> tuple:
    """Two marked symbols, 4 classes."""
    return _marked(rng, n, length, (0.1, 0.5))


def temporal_order3(rng: np.random.Generator, n: int, length: int, **_) -> tuple:
    """Three marked symbols, 8 classes."""
    return _marked(rng, n, length, (0.1, 0.3, 0.6))


def random_permutation(rng: np.random.Generator, n: int, length: int, **_) -> tuple:
    """First symbol 0 or 1 among random symbols 2..99; the class is the first symbol."""
    vals = rng.integers(2, 100, size=(n, length))
    label = rng.integers(0, 2, size=n)
    vals[:, 0] = label
    return _one_hot(vals, 100), label.astype(np.int64)


def adding(rng: np.random.Generator, n: int, length: int, bins: int = 4, **_) -> tuple:
    """Values and two markers; the class is the bin of the marked values' mean."""
    x = np.zeros((n, length, 2))
    x[:, :, 0] = rng.random((n, length))
    p0 = rng.integers(0, max(int(length * 0.1), 1), size=n)
    p1 = rng.integers(0, max(int(length * 0.4), 1), size=n) + max(int(length * 0.1), 1)
    rows = np.arange(n)
    x[rows, p0, 1] = 1.0
    x[rows, p1, 1] = 1.0
    mean = (x[rows, p0, 0] + x[rows, p1, 0]) / 2.0
    return x, np.minimum((mean * bins).astype(np.int64), bins - 1)


GENERATORS: dict[str, Callable[..., tuple]] = {
    "temporal_order": temporal_order, "temporal_order3": temporal_order3,
    "random_permutation": random_permutation, "adding": adding,
}
MIN_LENGTH = {"temporal_order": 10, "temporal_order3": 10, "random_permutation": 2, "adding": 10}


def parse_spec(spec: str) -> tuple[str, dict[str, int]]:
    """``name:key=value,...`` -> (name, options); unknown keys and bad values are errors."""
    name, _, rest = spec.partition(":")
    opts = dict(DEFAULTS)
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, value = item.partition("=")
        if key not in DEFAULTS or not eq:
            raise DatasetError(f"'{item}' is not an option of {name}; options are "
                               f"{', '.join(k + '=N' for k in DEFAULTS)}", path=("--data",))
        try:
            opts[key] = int(value)
        except ValueError:
            raise DatasetError(f"{key} must be an integer, got '{value}'", path=("--data",)) from None
        if opts[key] < (0 if key == "seed" else 1):
            raise DatasetError(f"{key} must be {'>= 0' if key == 'seed' else '>= 1'}, got {value}",
                               path=("--data",))
    if opts["length"] < MIN_LENGTH[name]:
        raise DatasetError(f"{name} needs length >= {MIN_LENGTH[name]}, got {opts['length']}",
                           path=("--data",))
    if opts["bins"] < 2:
        raise DatasetError(f"bins must be >= 2, got {opts['bins']}", path=("--data",))
    return name, opts


def is_sequence_spec(spec: str) -> bool:
    """True for a generator spec or an ``.npz`` whose x_train is 3-D."""
    if spec.partition(":")[0] in GENERATORS:
        return True
    path = Path(spec)
    if path.suffix != ".npz" or not path.is_file():
        return False
    try:                                         # headers only: never loads a declared bomb
        heads = npz_heads(path)
    except DatasetError:
        return False                             # the 2-D reader reports what is wrong
    return len(heads["x_train"][0]) == 3


def generate(spec: str) -> Dataset:
    """The data set of a generator spec: train and test drawn from one seeded generator."""
    name, o = parse_spec(spec)
    rng = np.random.default_rng([o["seed"], 22])
    make = GENERATORS[name]
    xtr, ytr = make(rng, o["train"], o["length"], bins=o["bins"])
    xte, yte = make(rng, o["test"], o["length"], bins=o["bins"])
    return Dataset(spec, xtr, ytr, xte, yte)


def check_sequences(arrays: dict[str, np.ndarray], where: str) -> None:
    """Shapes [N, T, F] and [N], finite values, integer labels >= 0, equal T and F."""
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.dtype == object or not np.issubdtype(x.dtype, np.number):
            raise DatasetError(f"x_{split}: expected float features, got dtype {x.dtype}",
                               file=where)
        if x.ndim != 3:
            raise DatasetError(f"x_{split}: expected [sequences, steps, features] (x_train is "
                               f"3-D: sequence data), got shape {x.shape}", file=where)
        if 0 in x.shape:
            raise DatasetError(f"x_{split} is empty (shape {x.shape}); every sequence needs at "
                               "least one step and one feature", file=where)
        if y.ndim != 1 or y.shape[0] != x.shape[0]:
            raise DatasetError(f"y_{split}: expected shape [{x.shape[0]}] (one label per sequence "
                               f"of x_{split}), got {y.shape}", file=where)
        check_values(x, y, split, where)
    (_, ttr, ftr), (_, tte, fte) = arrays["x_train"].shape, arrays["x_test"].shape
    if ttr != tte:
        raise DatasetError(f"x_test sequences have {tte} steps but x_train's have {ttr}; pad or "
                           "cut them to one length", file=where)
    if ftr != fte:
        raise DatasetError(f"x_test has {fte} features but x_train has {ftr}", file=where)


def load_sequences(spec: str) -> Dataset:
    """A generator spec or an ``.npz`` of sequences; values scaled to [0, 1] per feature by
    the training range."""
    if spec.partition(":")[0] in GENERATORS:
        return generate(spec)
    npz_heads(spec)
    arrays = read_npz(spec, error=DatasetError, keys=list(KEYS), hint=NPZ_HINT)
    check_sequences(arrays, spec)
    xtr = np.asarray(arrays["x_train"], np.float64)
    lo, hi = xtr.min(axis=(0, 1)), xtr.max(axis=(0, 1))
    span = np.where(hi > lo, hi - lo, 1.0)

    def scale(x: np.ndarray) -> np.ndarray:
        return np.clip((np.asarray(x, np.float64) - lo) / span, 0.0, 1.0)
    return Dataset(Path(spec).name, scale(xtr), np.asarray(arrays["y_train"]).astype(np.int64),
                   scale(arrays["x_test"]), np.asarray(arrays["y_test"]).astype(np.int64))


def sample_steps(task: dict, n_items: int) -> int:
    """Steps of one sequence sample: its elements, then the read-out window."""
    return n_items * int(task["item_steps"]) + int(task.get("readout_steps") or 0)


def check_task(data: Dataset, task: dict, where: str) -> None:
    """A sequence data set needs ``task.item_steps``, and sample_steps must be its length."""
    if data.x_train.ndim != 3:
        if task.get("item_steps"):
            raise DatasetError("task.item_steps is set but the data are not sequences "
                               "(x_train is [samples, features]); use sequence data or remove "
                               "item_steps", file=where)
        return
    if not task.get("item_steps"):
        raise DatasetError("sequence data ([sequences, steps, features]) need task.item_steps "
                           "(steps each element is presented) in the network YAML", file=where)
    if not task.get("readout_steps"):
        raise DatasetError("sequence data need task.readout_steps >= 1 (steps after the "
                           "sequence in which the label is shown and the class is read)",
                           file=where)
    want = sample_steps(task, data.x_train.shape[1])
    if int(task["sample_steps"]) != want:
        raise DatasetError(f"task.sample_steps is {task['sample_steps']} but a sequence of "
                           f"{data.x_train.shape[1]} elements x item_steps {task['item_steps']} "
                           f"+ readout_steps {task.get('readout_steps') or 0} is {want} steps; "
                           f"set sample_steps: {want}", file=where)


def encode_sequences(x: np.ndarray, task: dict, seed: int) -> np.ndarray:
    """Input spikes [N, T * item_steps + readout_steps, F]: element t coded for item_steps
    steps (``rate``: Bernoulli; ``regular``: evenly spaced from the element's first step)."""
    k, n, length, f = int(task["item_steps"]), *x.shape
    p = np.repeat(np.clip(x, 0.0, 1.0) * float(task["max_rate"]), k, axis=1)
    if task["encoding"] == "rate":
        spikes = np.random.default_rng(seed).random(p.shape) < p
    else:
        local = (np.arange(length * k) % k)[None, :, None]
        spikes = np.floor(p * (local + 1) + 1e-9) > np.floor(p * local + 1e-9)
    out = np.zeros((n, sample_steps(task, length), f), np.uint8)
    out[:, :length * k] = spikes
    return out


def encode_sequence_labels(y: np.ndarray, n_classes: int, task: dict, n_items: int,
                           rate: float) -> np.ndarray:
    """Label spikes [N, steps, classes]: silent while the sequence plays, the labelled
    neuron regular at ``rate`` in the read-out window."""
    from .encode import encode_labels
    steps = sample_steps(task, n_items)
    readout = int(task.get("readout_steps") or 0)
    out = np.zeros((y.shape[0], steps, n_classes), np.uint8)
    if readout:
        out[:, steps - readout:] = encode_labels(y, n_classes, readout, rate)
    return out


def encode_inputs(x: np.ndarray, task: dict, seed: int) -> np.ndarray:
    """Input spikes of static samples [N, F] or sequences [N, T, F], as the task says."""
    if x.ndim == 3:
        return encode_sequences(x, task, seed)
    from .encode import encode_samples
    return encode_samples(x, int(task["sample_steps"]), task["max_rate"], task["encoding"], seed)


def encode_targets(y: np.ndarray, n_classes: int, task: dict, x: np.ndarray,
                   rate: float) -> np.ndarray:
    """Label spikes for static samples or sequences (shown in the read-out window only)."""
    if x.ndim == 3:
        return encode_sequence_labels(y, n_classes, task, x.shape[1], rate)
    from .encode import encode_labels
    return encode_labels(y, n_classes, int(task["sample_steps"]), rate)


__all__ = ["GENERATORS", "KEYS", "load_sequences", "is_sequence_spec", "check_sequences",
           "check_task", "encode_inputs", "encode_targets", "sample_steps"]
