"""Pulse trains: the trigger grid, extra and missing pulses found; no false positives."""

from __future__ import annotations

import numpy as np
import pytest

from mocap3d.errors import InputError
from mocap3d.sync.edges import detect_edges
from mocap3d.sync.pulses import clean_pulses

from .signals import FPS, RATE, camera_trial, ttl_channel


def _detect(truth, rng, **kw):
    n = int((truth.slot_time[-1] + 0.05) * RATE)
    x = ttl_channel(truth.rising, truth.falling, n_samples=n, rng=rng, **kw)
    return detect_edges(x, rate_hz=RATE)


def test_clean_train_has_no_extra_or_missing_pulses(rng):
    truth = camera_trial(rng, t_start=0.3377, n_slots=3000)
    e = _detect(truth, rng)
    train = clean_pulses(e.rising, fps=FPS, widths=e.widths())
    assert len(train) == 3000
    assert train.missing_slots.size == 0 and train.extra_times.size == 0
    assert not train.warnings
    assert train.period_s == pytest.approx(1 / FPS, rel=5e-6)  # baseline wander: µs biases
    assert np.abs(train.slot_time - truth.slot_time).max() < 0.5 / RATE


@pytest.mark.parametrize("use_widths", [True, False])
def test_every_extra_and_missing_pulse_is_found(rng, use_widths):
    truth = camera_trial(rng, t_start=1.01, n_slots=4000, n_missing=7, n_extra=9)
    e = _detect(truth, rng)
    train = clean_pulses(e.rising, fps=FPS, widths=e.widths() if use_widths else None)
    np.testing.assert_array_equal(train.missing_slots, truth.missing)
    assert train.extra_times.size == truth.extra_times.size
    # glitches are short and ride on ringing: their onsets are located to a few samples
    np.testing.assert_allclose(train.extra_times, truth.extra_times, atol=3 / RATE)
    # missing slots are interpolated, measured ones kept: all within a sample of the truth
    assert np.abs(train.slot_time - truth.slot_time).max() < 0.5 / RATE


def test_a_glitch_next_to_a_pulse_is_a_duplicate_not_a_frame():
    t = np.arange(100) / FPS
    glitch = t[40] + 0.1 / FPS  # inside the grid tolerance of slot 40
    train = clean_pulses(np.sort(np.append(t, glitch)), fps=FPS)
    assert len(train) == 100 and train.missing_slots.size == 0
    np.testing.assert_allclose(train.extra_times, [glitch])
    assert train.extra_reasons == ("duplicate",)
    np.testing.assert_allclose(train.slot_time, t)


def test_long_burst_with_rate_offset_keeps_slot_numbers(rng):
    # 10 min at 500 fps on a clock 40 ppm fast; a naive period from the median interval would
    # wind the slot numbers over 300 000 pulses
    n = 300_000
    t = 2.0 + np.arange(n) / FPS * (1 + 40e-6) + rng.normal(0, 3e-6, n)
    drop = np.sort(rng.choice(np.arange(1, n - 1), 25, replace=False))
    train = clean_pulses(np.delete(t, drop), fps=FPS)
    assert len(train) == n
    np.testing.assert_array_equal(train.missing_slots, drop)
    assert train.extra_times.size == 0


def test_rate_that_contradicts_the_rig_is_an_error():
    t = np.arange(200) / 250.0
    with pytest.raises(InputError, match=r"250 Hz.*500 fps"):
        clean_pulses(t, fps=500.0, name="camera front")


def test_too_few_pulses():
    with pytest.raises(InputError, match="too few"):
        clean_pulses(np.array([0.0, 0.002]), fps=FPS)
