"""Property tests of the float -> fixed-point conversions."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from neurodeploy.compiling import quantize as q
from neurodeploy.profiles import load_profile

LOIHI2 = load_profile("loihi2")
finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(arrays(np.float64, st.integers(1, 200), elements=finite),
       st.sampled_from([1.0, 3.0, 64.0, 1024.0]))
def test_dequantized_within_half_step_and_in_range(weights, scale):
    scaled = weights * scale
    qw = q.quantize_weights(scaled, 8, (-8, 7))
    low, high, _ = q.mantissa_grid(qw.sign_mode, 8)
    assert qw.values.min() >= low and qw.values.max() <= high
    assert qw.values.dtype == np.int16
    assert -8 <= qw.weight_exp <= 7
    if qw.clipped == 0:
        dequant = qw.values * 2.0 ** qw.weight_exp
        assert np.all(np.abs(dequant - scaled) <= qw.step / 2 * (1 + 1e-9) + 1e-12)


@settings(max_examples=100, deadline=None)
@given(arrays(np.float64, st.integers(1, 100), elements=st.floats(-1e7, 1e7, allow_nan=False)))
def test_huge_weights_clip_and_are_counted(weights):
    qw = q.quantize_weights(weights, 8, (-8, 7))
    low, high, _ = q.mantissa_grid(qw.sign_mode, 8)
    assert low <= qw.values.min() and qw.values.max() <= high
    expected = np.count_nonzero(np.abs(weights) > 255 * 2 ** 7 + 2 ** 7)
    assert qw.clipped >= expected


def test_sign_modes_match_lava_grids():
    assert q.mantissa_grid("mixed", 8) == (-256, 254, 2)
    assert q.mantissa_grid("excitatory", 8) == (0, 255, 1)
    assert q.mantissa_grid("inhibitory", 8) == (-255, 0, 1)
    assert q.mantissa_grid("mixed", 6) == (-256, 248, 8)


def test_matches_lava_truncation():
    """Our integer weights are fixed points of Lava's clip_weights + truncate_weights."""
    import neurodeploy  # noqa: F401  (installs the Lava shim)
    from lava.utils.weightutils import SignMode, clip_weights, truncate_weights
    rng = np.random.default_rng(0)
    for mode, name in ((SignMode.MIXED, "mixed"), (SignMode.EXCITATORY, "excitatory"),
                       (SignMode.INHIBITORY, "inhibitory")):
        for bits in (8, 7, 5):
            raw = rng.normal(0, 1, 300)
            raw = np.abs(raw) if name == "excitatory" else -np.abs(raw) if name == "inhibitory" else raw
            qw = q.quantize_weights(raw * 100, bits, (-8, 7))
            assert qw.sign_mode == name
            lava = truncate_weights(clip_weights(qw.values, mode, num_bits=8), mode, bits)
            np.testing.assert_array_equal(lava, qw.values)


@given(st.floats(1.0, 1e4), st.floats(1.0, 1e4))
def test_decays_monotonic_in_tau(tau_a, tau_b):
    lo, hi = sorted((tau_a, tau_b))
    for offset in (0, 1):
        d_lo = q.decay_to_fixed(1.0 / lo, 12, offset)
        d_hi = q.decay_to_fixed(1.0 / hi, 12, offset)
        assert 0 <= d_hi <= d_lo <= 4095


@given(st.floats(0.05, 100.0), st.floats(0.0, 1e4))
def test_voltage_scale_fits_all_widths(v_th, max_input):
    n = LOIHI2.neuron
    scale = q.voltage_scale(v_th, max_input, LOIHI2)
    if scale == 0.0:
        return
    assert np.log2(scale) == int(np.log2(scale))
    assert v_th * scale <= 2 ** n.threshold_bits - 1
    assert max_input * scale <= 2 ** (n.activation_bits - 1) - 1
    assert v_th * scale * 2 ** n.threshold_shift < 2 ** (n.state_bits - 1)
    assert q.voltage_scale(v_th, max_input, LOIHI2) == scale


@settings(deadline=None)
@given(arrays(np.float64, st.integers(1, 50), elements=st.floats(-10, 10)),
       st.sampled_from([1.0, 16.0, 1024.0]))
def test_bias_fits_mantissa(bias, scale):
    mant, exp, clipped = q.bias_to_fixed(bias, scale, LOIHI2)
    assert 0 <= exp <= 7
    assert mant.min() >= -4096 and mant.max() <= 4095
    if not clipped:
        target = bias * scale * 64
        assert np.all(np.abs(mant * 2.0 ** exp - target) <= 2.0 ** exp / 2 + 1e-9)


def test_levels_quantization():
    w = np.linspace(-1, 1, 101)
    wq, g = q.quantize_levels(w, 16)
    assert g == 1 / 15
    assert len(np.unique(np.round(wq / g))) <= 31
    assert np.max(np.abs(wq - w)) <= g / 2 + 1e-12
