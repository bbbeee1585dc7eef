"""Frame maps: frame times vs truth, dropped frames placed, bad counts refused or warned."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from mocap3d.errors import InputError
from mocap3d.io.frames import FrameLog
from mocap3d.sync.edges import detect_edges
from mocap3d.sync.frames import DROPPED, GAP, NO_PULSE, OK, OUTSIDE, map_frames
from mocap3d.sync.pulses import clean_pulses

from .signals import FPS, RATE, camera_trial, ttl_channel

SAMPLE = 1 / RATE


def _train(truth, rng):
    n = int((truth.slot_time[-1] + 0.05) * RATE)
    x = ttl_channel(truth.rising, truth.falling, n_samples=n, rng=rng)
    e = detect_edges(x, rate_hz=RATE)
    return clean_pulses(e.rising, fps=FPS, widths=e.widths())


def test_clean_trial_without_frame_log(rng):
    truth = camera_trial(rng, t_start=0.25, n_slots=2500)
    fm = map_frames(_train(truth, rng), truth.n_frames, camera="front", trial="t1")
    assert fm.method == "order" and fm.anchor == "exact"
    assert fm.n_dropped == 0 and fm.extra_pulse_times.size == 0
    assert (fm.slot_status == OK).all()
    assert np.abs(fm.frame_time - truth.frame_time).max() < SAMPLE  # target: < 1 sample
    assert not fm.warnings


@pytest.mark.parametrize("log_kind", ["timestamps", "counters"])
def test_every_fault_is_found_at_its_position(rng, log_kind):
    # counters alone cannot tell skipped triggers from missed pulses: none skipped there
    skipped = 3 if log_kind == "timestamps" else 0
    truth = camera_trial(
        rng, t_start=0.7, n_slots=5000, n_dropped=11, n_missing=6, n_skipped=skipped, n_extra=8
    )
    log = truth.log
    if log_kind == "counters":
        log = FrameLog(log.counter, np.full(len(log), np.nan))
    fm = map_frames(_train(truth, rng), truth.n_frames, frame_log=log, camera="side_left")
    np.testing.assert_array_equal(np.flatnonzero(fm.slot_status == DROPPED), truth.dropped)
    np.testing.assert_array_equal(np.flatnonzero(fm.slot_status == GAP), truth.skipped)
    np.testing.assert_array_equal(np.flatnonzero(fm.slot_status == NO_PULSE), truth.missing)
    assert fm.n_dropped == truth.dropped.size + truth.skipped.size
    assert fm.extra_pulse_times.size == truth.extra_times.size
    np.testing.assert_array_equal(fm.frame_slot, truth.frame_slot)
    assert np.abs(fm.frame_time - truth.frame_time).max() < SAMPLE
    assert fm.method == ("counters+timestamps" if log_kind == "timestamps" else "counters")
    summary = fm.summary()
    assert summary["n_dropped"] == 11 + skipped and summary["n_missing_pulses"] == 6
    # a drop after video row k: the row before it is k, the row after it k + 1
    k = summary["dropped_after_frame"][0]
    assert fm.frame_slot[k] < summary["dropped_slots"][0] < fm.frame_slot[k + 1]


def test_camera_clock_drift_within_1_ppm(rng):
    truth = camera_trial(rng, t_start=0.1, n_slots=10_000, drift_ppm=-23.4, n_dropped=4)
    fm = map_frames(_train(truth, rng), truth.n_frames, frame_log=truth.log)
    assert fm.camera_clock is not None
    assert fm.camera_clock.drift_ppm == pytest.approx(-23.4, abs=1.0)
    assert fm.camera_clock.rms_us < 10


def test_counter_of_delivered_frames_is_overruled_by_timestamps(rng, caplog):
    truth = camera_trial(rng, t_start=0.1, n_slots=1000, n_dropped=3)
    log = FrameLog(np.arange(truth.n_frames) + 7, truth.log.timestamp_s)  # counts frames only
    with caplog.at_level(logging.WARNING):
        fm = map_frames(_train(truth, rng), truth.n_frames, frame_log=log)
    assert fm.method == "timestamps"
    np.testing.assert_array_equal(fm.dropped_slots, truth.dropped)
    assert "disagree" in caplog.text


def test_counters_alone_cannot_split_skipped_from_missed(rng):
    truth = camera_trial(rng, t_start=0.1, n_slots=1000, n_missing=3, n_skipped=2)
    log = FrameLog(truth.log.counter, np.full(truth.n_frames, np.nan))
    with pytest.raises(InputError, match="cannot tell which"):
        map_frames(_train(truth, rng), truth.n_frames, frame_log=log)


def test_skipped_triggers_without_frame_log(rng):
    truth = camera_trial(rng, t_start=0.1, n_slots=1000, n_skipped=2)
    fm = map_frames(_train(truth, rng), truth.n_frames)
    np.testing.assert_array_equal(np.flatnonzero(fm.slot_status == GAP), truth.skipped)
    assert np.abs(fm.frame_time - truth.frame_time).max() < SAMPLE
    assert any("skipped" in w for w in fm.warnings)


def test_drops_without_frame_log_are_refused_not_absorbed(rng):
    truth = camera_trial(rng, t_start=0.1, n_slots=1000, n_dropped=2)
    train = _train(truth, rng)
    with pytest.raises(InputError, match=r"2 more exposure pulse\(s\) than frames") as err:
        map_frames(train, truth.n_frames, camera="front")
    assert "front.frames.csv" in str(err.value) or "frames.csv" in str(err.value)
    assert "--anchor start" in str(err.value)


def test_trailing_pulses_with_explicit_anchor_warn_with_numbers(rng, caplog):
    truth = camera_trial(rng, t_start=0.1, n_slots=1000)
    train = _train(truth, rng)
    with caplog.at_level(logging.WARNING):
        fm = map_frames(train, 997, anchor="start", camera="front")
    assert (fm.slot_status[-3:] == OUTSIDE).all() and fm.n_dropped == 0
    assert "3 pulse(s) without a frame after the last frame" in caplog.text
    np.testing.assert_allclose(fm.frame_time, truth.slot_time[:997], atol=SAMPLE)
    end = map_frames(train, 997, anchor="end")
    np.testing.assert_allclose(end.frame_time, truth.slot_time[3:], atol=SAMPLE)


def test_trailing_pulses_with_frame_log_default_to_start(rng):
    truth = camera_trial(rng, t_start=0.1, n_slots=1000, n_dropped=1)
    keep = truth.n_frames - 2  # the camera stopped two frames before the trigger
    log = FrameLog(truth.log.counter[:keep], truth.log.timestamp_s[:keep])
    fm = map_frames(_train(truth, rng), keep, frame_log=log)
    assert fm.anchor == "start"
    np.testing.assert_array_equal(fm.dropped_slots, truth.dropped)
    assert (fm.slot_status == OUTSIDE).sum() == 2


@pytest.mark.parametrize(
    ("n_frames", "match"),
    [(1200, "more frames than exposure pulses"), (700, "far more exposure pulses than frames")],
)
def test_irreconcilable_counts(rng, n_frames, match):
    truth = camera_trial(rng, t_start=0.1, n_slots=1000)
    with pytest.raises(InputError, match=match) as err:
        map_frames(_train(truth, rng), n_frames, anchor="start", camera="overhead", trial="t7")
    assert "'overhead'" in str(err.value) and "'t7'" in str(err.value)
    assert "1000 pulses" in str(err.value)


def test_frame_log_must_match_the_video(rng):
    truth = camera_trial(rng, t_start=0.1, n_slots=300)
    train = _train(truth, rng)
    with pytest.raises(InputError, match="the frame log has 300 rows but the video has 299"):
        map_frames(train, 299, frame_log=truth.log)
    bad = FrameLog(truth.log.counter[::-1].copy(), truth.log.timestamp_s)
    with pytest.raises(InputError, match="counter does not increase"):
        map_frames(train, 300, frame_log=bad)


def test_counter_wrap_is_undone(rng):
    truth = camera_trial(rng, t_start=0.1, n_slots=400, n_dropped=2)
    counter = (truth.log.counter + 65_536 - 1200) % 65_536  # a 16-bit counter wraps
    log = FrameLog(counter, np.full(truth.n_frames, np.nan))
    fm = map_frames(_train(truth, rng), truth.n_frames, frame_log=log)
    np.testing.assert_array_equal(fm.dropped_slots, truth.dropped)
