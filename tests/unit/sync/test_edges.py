"""Edge detection: sub-sample accuracy against the true edge times, hysteresis, blocks, errors."""

from __future__ import annotations

import numpy as np
import pytest

from mocap3d.errors import InputError
from mocap3d.sync.edges import EdgeScanner, detect_edges, split_bursts, thresholds, ttl_levels

from .signals import FPS, RATE, ttl_channel

SAMPLE = 1.0 / RATE


def _pulses(rng, n=2000, t0=0.0101234, width=1e-3, fps=FPS, jitter=True):
    t = t0 + np.arange(n) / fps
    if jitter:  # a different sub-sample phase for every pulse
        t = t + rng.uniform(0, SAMPLE, n)
    return t, t + width


def _nearest_error(found, truth):
    j = np.clip(np.searchsorted(found, truth), 1, found.size - 1)
    return np.minimum(np.abs(found[j] - truth), np.abs(found[j - 1] - truth))


def test_edges_are_sub_sample_accurate_under_noise_ringing_and_baseline(rng):
    rising, falling = _pulses(rng)
    x = ttl_channel(rising, falling, n_samples=int(4.2 * RATE), rng=rng)
    e = detect_edges(x, rate_hz=RATE)
    assert e.rising.size == rising.size and e.falling.size == falling.size
    err_r = np.abs(e.rising - rising)
    err_f = np.abs(e.falling - falling)
    # well within one sample (50 µs); whole-sample edges would be off by up to 50 µs
    assert err_r.max() < 0.4 * SAMPLE and err_f.max() < 0.4 * SAMPLE
    assert np.sqrt(np.mean(err_r**2)) < 0.2 * SAMPLE
    np.testing.assert_allclose(e.widths(), falling - rising, atol=0.6 * SAMPLE)


def test_sharp_edges_land_between_the_bracketing_samples(rng):
    rising, falling = _pulses(rng, n=500)
    x = ttl_channel(rising, falling, n_samples=int(1.2 * RATE), rng=rng, edge_sigma_s=0.0)
    e = detect_edges(x, rate_hz=RATE)
    assert e.rising.size == rising.size
    # an ideal step is only known to lie between two samples: error ≤ one sample
    assert np.abs(e.rising - rising).max() <= SAMPLE


def test_hysteresis_ignores_ringing_and_threshold_noise(rng):
    rising, falling = _pulses(rng, n=300)
    # strong ringing (40 % of the step) and noise: no extra edges
    x = ttl_channel(rising, falling, n_samples=int(0.7 * RATE), rng=rng, ringing=0.4, noise_v=0.15)
    e = detect_edges(x, rate_hz=RATE)
    assert e.rising.size == rising.size and e.falling.size == falling.size
    # a naive single threshold at mid level sees chatter on the same signal
    naive = np.flatnonzero((x[1:] > 2.5) & (x[:-1] <= 2.5))
    assert naive.size >= rising.size


def test_blocks_give_the_same_edges_as_one_pass(rng):
    rising, falling = _pulses(rng, n=400)
    x = ttl_channel(rising, falling, n_samples=int(0.9 * RATE), rng=rng)
    whole = detect_edges(x, rate_hz=RATE)
    scan = EdgeScanner(whole.levels)
    # odd block sizes put block boundaries inside edges
    cuts = np.cumsum(rng.integers(1, 997, 200))
    cuts = cuts[cuts < x.size]
    for block in np.split(x, cuts):
        scan.feed(block)
    r, f = scan.result()
    np.testing.assert_allclose(r / RATE, whole.rising, atol=1e-12)
    np.testing.assert_allclose(f / RATE, whole.falling, atol=1e-12)


def test_digital_edges_are_half_way_between_samples():
    x = np.zeros(100, dtype=bool)
    x[10:20] = True
    x[50:51] = True
    e = detect_edges(x, rate_hz=1000.0, kind="digital", t0_s=2.0)
    np.testing.assert_allclose(e.rising, 2.0 + np.array([9.5, 49.5]) / 1000)
    np.testing.assert_allclose(e.falling, 2.0 + np.array([19.5, 50.5]) / 1000)


def test_explicit_thresholds_and_inverted_levels(rng):
    rising, falling = _pulses(rng, n=50)
    x = 5.0 - ttl_channel(rising, falling, n_samples=int(0.2 * RATE), rng=rng)  # active low
    e = detect_edges(x, rate_hz=RATE, low=1.5, high=3.5)
    # the exposure starts on the falling edge of an active-low line
    assert np.abs(e.falling - rising).max() < 0.4 * SAMPLE
    with pytest.raises(InputError, match="both low and high"):
        detect_edges(x, rate_hz=RATE, low=1.0)
    with pytest.raises(InputError, match="low < high"):
        thresholds(3.0, 1.0)


def test_auto_levels(rng):
    rising, falling = _pulses(rng, n=100)
    x = ttl_channel(rising, falling, n_samples=int(0.3 * RATE), rng=rng, baseline_v=0)
    lv = ttl_levels(x)
    assert lv.low_level == pytest.approx(0.0, abs=0.05)
    assert lv.high_level == pytest.approx(5.0, abs=0.05)
    assert lv.low < lv.mid < lv.high


@pytest.mark.parametrize("signal", ["noise", "flat"])
def test_no_pulses_is_a_clear_error(rng, signal):
    x = rng.normal(0, 0.05, 20_000) if signal == "noise" else np.full(20_000, 0.2)
    with pytest.raises(InputError, match="no pulses") as err:
        detect_edges(x, rate_hz=RATE, channel="cam_exposure")
    assert "cam_exposure" in str(err.value)


def test_split_bursts():
    t = np.concatenate([np.arange(10) * 0.002, 5 + np.arange(5) * 0.002, [9.0]])
    b = split_bursts(t, min_gap_s=0.5)
    assert [(s.start, s.stop) for s in b] == [(0, 10), (10, 15), (15, 16)]
    assert split_bursts(np.empty(0), min_gap_s=1) == []


def test_levels_do_not_alias_with_the_pulse_period(rng):
    # a pulse every 40 samples; a stride of 40 samples would see only one level
    x = np.where(np.arange(40_000) % 40 < 10, 5.0, 0.0) + rng.normal(0, 0.05, 40_000)
    lv = ttl_levels(x, max_samples=1000)
    assert lv.low_level == pytest.approx(0, abs=0.1) and lv.high_level == pytest.approx(5, abs=0.1)
