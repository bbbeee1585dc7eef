"""Clock fits: offset and drift against the truth, robust to outliers; barcode matching."""

from __future__ import annotations

import numpy as np
import pytest

from mocap3d.errors import InputError
from mocap3d.sync.barcode import barcode_onsets, make_barcode, match_barcode
from mocap3d.sync.clock import fit_clock, pair_edges
from mocap3d.sync.edges import detect_edges

from .signals import RATE, ttl_channel

DRIFT_PPM, OFFSET = 37.3, 12.345678


def test_fit_recovers_offset_and_drift_despite_outliers(rng):
    td = np.sort(rng.uniform(0, 600, 400))
    tm = OFFSET + (1 + 1e-6 * DRIFT_PPM) * td + rng.normal(0, 5e-6, td.size)
    bad = rng.choice(td.size, 20, replace=False)
    tm[bad] += rng.choice([-1, 1], 20) * rng.uniform(1e-3, 0.5, 20)  # 5 % gross outliers
    fit = fit_clock(td, tm, name="amp")
    assert fit.drift_ppm == pytest.approx(DRIFT_PPM, abs=0.01)
    assert fit.offset_s == pytest.approx(OFFSET, abs=2e-6)
    assert set(np.flatnonzero(~fit.inlier)) == set(bad)
    assert fit.rms_us == pytest.approx(5, rel=0.2)
    np.testing.assert_allclose(fit.to_device(fit.to_master(td)), td, atol=1e-9)
    assert fit.summary()["n_outliers"] == 20


def test_fit_errors():
    with pytest.raises(InputError, match="at least 3"):
        fit_clock(np.array([1.0, 2.0]), np.array([1.0, 2.0]), name="x")
    with pytest.raises(InputError, match="paired"):
        fit_clock(np.arange(5.0), np.arange(4.0))


def test_pair_edges_uses_each_master_edge_once():
    td = np.array([0.0, 1.0, 1.0004, 2.0, 7.0])
    tm = 5.0 + np.array([0.0, 1.0, 2.0, 3.0])
    i, j = pair_edges(td, tm, offset_s=5.0, tolerance_s=1e-3)
    np.testing.assert_array_equal(i, [0, 1, 3])
    np.testing.assert_array_equal(j, [0, 1, 2])


def _barcode_on_two_clocks(rng, duration=120.0, dev_rate=30_000.0, drop_dev=(), extra_dev=()):
    """A barcode sampled by the DAQ (master) and by a device with its own drifting clock."""
    onsets = make_barcode(duration, seed=rng, t_start_s=1.0)
    width = 0.010
    x_m = ttl_channel(onsets, onsets + width, n_samples=int((duration + 2) * RATE), rng=rng)
    master = barcode_onsets(detect_edges(x_m, rate_hz=RATE), min_width_s=0.005)
    # device time of a master-clock instant: t_dev = (t_master - OFFSET) / (1 + drift)
    dev = (onsets - OFFSET) / (1 + 1e-6 * DRIFT_PPM)
    dev = np.sort(np.concatenate((np.delete(dev, list(drop_dev)), np.asarray(extra_dev))))
    t0 = dev[0] - 0.5
    x_d = ttl_channel(dev, dev + width, n_samples=int((duration + 2) * dev_rate), rng=rng,
                      rate_hz=dev_rate, t0_s=t0)  # fmt: skip
    device = barcode_onsets(detect_edges(x_d, rate_hz=dev_rate, t0_s=t0), min_width_s=0.005)
    return onsets, master, device


def test_barcode_between_independent_clocks_within_1_ppm(rng):
    onsets, master, device = _barcode_on_two_clocks(rng)
    assert master.size == onsets.size
    m = match_barcode(device, master, name="amplifier")
    assert m.i_device.size == onsets.size  # every pulse paired
    assert m.clock.drift_ppm == pytest.approx(DRIFT_PPM, abs=1.0)  # target: within 1 ppm
    assert abs(m.clock.drift_ppm - DRIFT_PPM) < 0.2  # what sub-sample edges give
    assert m.clock.offset_s == pytest.approx(OFFSET, abs=20e-6)
    assert m.clock.rms_us < 10


def test_barcode_tolerates_missing_and_extra_pulses(rng):
    _, master, device = _barcode_on_two_clocks(
        rng, duration=60.0, drop_dev=(3, 17, 18, 40), extra_dev=(-12.0 + 20.05, -12.0 + 33.3)
    )
    m = match_barcode(device, master)
    assert m.i_device.size == master.size - 4
    assert m.clock.drift_ppm == pytest.approx(DRIFT_PPM, abs=1.0)


def test_barcode_from_another_line_is_refused(rng):
    a = make_barcode(60.0, seed=1)
    b = make_barcode(60.0, seed=2)
    with pytest.raises(InputError, match="share no barcode"):
        match_barcode(a, b, name="camera_led")


def test_make_barcode_is_reproducible():
    a = make_barcode(30.0, seed=7)
    np.testing.assert_array_equal(a, make_barcode(30.0, seed=7))
    d = np.diff(a)
    assert d.min() >= 0.2 and d.max() <= 1.0 and a.max() < 30.0
    with pytest.raises(InputError):
        make_barcode(10.0, min_interval_s=1.0, max_interval_s=0.5)


def test_drift_within_1_ppm_over_a_20_s_trial(rng):
    # ~33 pulses over 20 s, 0.3 V baseline wander: sub-sample, baseline-corrected edges needed
    _, master, device = _barcode_on_two_clocks(rng, duration=20.0)
    m = match_barcode(device, master)
    assert m.clock.drift_ppm == pytest.approx(DRIFT_PPM, abs=1.0)


def test_short_barcode_matched_by_whole_sequence_shift():
    onsets = 1.0 + np.cumsum([0.43, 0.51, 0.58, 0.47, 0.55])  # 5 pulses: one 4-interval run
    master = OFFSET + onsets
    device = (onsets[1:] - 0.0) / (1 + 1e-6 * DRIFT_PPM)  # the device missed the first pulse
    m = match_barcode(device, master)
    np.testing.assert_array_equal(m.i_master, [1, 2, 3, 4])
    assert m.clock.offset_s == pytest.approx(OFFSET, abs=1e-4)
    regular = np.arange(6) * 0.5  # a regular train cannot be lined up
    with pytest.raises(InputError, match="possible alignments"):
        match_barcode(regular, regular + 3.0)


def test_drift_standard_error_matches_the_scatter(rng):
    td = np.linspace(0, 20, 40)
    errs, ses = [], []
    for _ in range(200):
        tm = OFFSET + (1 + 1e-6 * DRIFT_PPM) * td + rng.normal(0, 14e-6, td.size)
        fit = fit_clock(td, tm)
        errs.append(fit.drift_ppm - DRIFT_PPM)
        ses.append(fit.drift_se_ppm)
    assert np.std(errs) == pytest.approx(np.mean(ses), rel=0.2)
