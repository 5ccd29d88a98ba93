"""Convolution and pooling nodes unrolled to sparse matrices over flattened (C, H, W) vectors."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .graphio import NirError


def _pair(value: object, name: str, field: str) -> tuple[int, int]:
    arr = np.atleast_1d(np.asarray(value)).astype(np.int64).reshape(-1)
    if arr.size == 1:
        arr = np.repeat(arr, 2)
    if arr.size != 2:
        raise NirError(f"node '{name}': {field} must be one or two integers, got {value!r}")
    return int(arr[0]), int(arr[1])


def _padding(value: object, kernel: tuple[int, int], dilation: tuple[int, int], name: str
             ) -> tuple[int, int]:
    if isinstance(value, (str, bytes)):
        text = value.decode() if isinstance(value, bytes) else value
        if text == "valid":
            return 0, 0
        if text == "same":
            total = [d * (k - 1) for k, d in zip(kernel, dilation)]
            if any(t % 2 for t in total):
                raise NirError(f"node '{name}': padding 'same' with an even kernel pads "
                               "asymmetrically; give explicit padding")
            return total[0] // 2, total[1] // 2
        raise NirError(f"node '{name}': padding must be 'same', 'valid' or integers, got {text!r}")
    return _pair(value, name, "padding")


MAX_ENTRIES = 50_000_000
"""Largest unrolled matrix (post x pre): IR v1 weight files are dense."""


def unroll(weight: np.ndarray, in_shape: tuple[int, int, int], stride: object, padding: object,
           dilation: object, groups: int, name: str, kind: str = "Conv2d"
           ) -> tuple[sp.csr_matrix, tuple[int, int, int]]:
    """Matrix M [out, in] with M @ x.ravel() == conv2d(x).ravel() (PyTorch cross-correlation)."""
    weight = np.asarray(weight, dtype=np.float64)
    c_out, c_in_g, kh, kw = weight.shape
    c_in, h, w = in_shape
    groups = int(groups)
    if groups < 1 or c_in != c_in_g * groups or c_out % groups:
        raise NirError(f"node '{name}' ({kind}): weight {weight.shape} with groups={groups} does not fit "
                       f"an input of {c_in} channels")
    where = f"{name}' ({kind})"
    sh, sw = _pair(stride, where, "stride")
    dh, dw = _pair(dilation, where, "dilation")
    ph, pw = _padding(padding, (kh, kw), (dh, dw), where)
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    if ho < 1 or wo < 1:
        raise NirError(f"node '{name}' ({kind}): kernel {kh}x{kw} does not fit the {h}x{w} input")
    if c_out * ho * wo * c_in * h * w > MAX_ENTRIES:
        raise NirError(f"node '{name}' ({kind}) unrolls to a {c_out * ho * wo} x {c_in * h * w} matrix; "
                       "IR v1 weight files are dense [post, pre], limited here to "
                       f"{MAX_ENTRIES} entries")
    oc, oy, ox, ic, ky, kx = np.meshgrid(np.arange(c_out), np.arange(ho), np.arange(wo),
                                         np.arange(c_in_g), np.arange(kh), np.arange(kw),
                                         indexing="ij")
    iy = oy * sh - ph + ky * dh
    ix = ox * sw - pw + kx * dw
    channel = (oc // (c_out // groups)) * c_in_g + ic
    valid = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
    rows = ((oc * ho + oy) * wo + ox)[valid]
    cols = ((channel * h + iy) * w + ix)[valid]
    vals = weight[oc, ic, ky, kx][valid]
    matrix = sp.csr_matrix((vals, (rows, cols)), shape=(c_out * ho * wo, c_in * h * w))
    matrix.sum_duplicates()
    return matrix, (c_out, ho, wo)


def conv_matrix(node: object, in_shape: tuple, name: str) -> tuple[sp.csr_matrix, tuple, np.ndarray]:
    """(matrix, output shape, bias per output element) of a Conv1d/Conv2d/pooling node."""
    kind = type(node).__name__
    if kind == "Conv1d":
        if len(in_shape) != 2:
            raise NirError(f"node '{name}' (Conv1d): input shape {in_shape} is not (C, N)")
        weight = np.asarray(node.weight, dtype=np.float64)[:, :, None, :]
        matrix, out = unroll(weight, (in_shape[0], 1, in_shape[1]), (1, node.stride),
                             _conv1d_padding(node.padding), (1, node.dilation), node.groups, name,
                             kind)
        out_shape: tuple = (out[0], out[2])
        bias = np.repeat(np.asarray(node.bias, dtype=np.float64).reshape(-1), out[2])
        return matrix, out_shape, _bias(bias, matrix.shape[0], f"{name}' ({kind})")
    if len(in_shape) != 3:
        raise NirError(f"node '{name}' ({kind}): input shape {in_shape} is not (C, H, W)")
    if kind == "Conv2d":
        matrix, out_shape = unroll(node.weight, in_shape, node.stride, node.padding,
                                   node.dilation, node.groups, name, kind)
        bias = np.asarray(node.bias, dtype=np.float64).reshape(-1)
        bias = np.repeat(bias, out_shape[1] * out_shape[2]) if bias.size == out_shape[0] else bias
        return matrix, out_shape, _bias(bias, matrix.shape[0], f"{name}' ({kind})")
    kh, kw = _pair(node.kernel_size, f"{name}' ({kind})", "kernel_size")
    value = 1.0 if kind == "SumPool2d" else 1.0 / (kh * kw)
    channels = in_shape[0]
    weight = np.full((channels, 1, kh, kw), value)
    matrix, out_shape = unroll(weight, in_shape, node.stride, node.padding, 1, channels, name,
                               kind)
    return matrix, out_shape, np.zeros(matrix.shape[0])


def _conv1d_padding(padding: object) -> object:
    if isinstance(padding, (str, bytes)):
        return padding
    return (0, int(np.asarray(padding).reshape(-1)[0]))


def _bias(bias: np.ndarray, size: int, name: str) -> np.ndarray:
    if bias.size == 0:
        return np.zeros(size)
    if bias.size != size:
        raise NirError(f"node '{name}': bias has {bias.size} values, expected one per output "
                       "channel")
    if not np.all(np.isfinite(bias)):
        raise NirError(f"node '{name}': bias holds NaN or inf")
    return bias
