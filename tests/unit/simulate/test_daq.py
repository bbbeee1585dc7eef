"""Simulated DAQ streams: block-partition independence, TTLs at their samples, EMG onsets."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from mocap3d.errors import InputError
from mocap3d.io.rawdaq import read_raw_daq_info, read_stream
from mocap3d.simulate.daq import DaqOptions, first_sample, stream_source, write_raw_daq
from mocap3d.simulate.emg import RISE_S
from mocap3d.simulate.faults import Faults
from mocap3d.simulate.jump import G
from mocap3d.simulate.jump_params import CONTROL, PERTURBED
from mocap3d.simulate.session import SessionOptions, TrialPlan, plan_session

OPTS = SessionOptions(duration_s=1.0, gap_s=0.3, lead_in_s=0.4, videos=False)


def _plan(rig, cams, *, seed=1, faults=Faults(), daq=DaqOptions(), groups=(CONTROL, PERTURBED)):
    trials = [TrialPlan(f"trial_{i + 1:03d}", g, 100 + i) for i, g in enumerate(groups)]
    opts = SessionOptions(**{**OPTS.__dict__, "daq": daq})
    return plan_session(rig, cams, trials, seed=seed, options=opts, faults=faults)


@pytest.fixture(scope="module")
def plan(demo_rig, tiny_cameras):
    return _plan(demo_rig, tiny_cameras)


def _rising(x: np.ndarray, level: float = 2.5) -> np.ndarray:
    return np.flatnonzero((x[1:] > level) & (x[:-1] <= level)) + 1


def _column(rig, stream, name):
    return [c.name for c in rig.channels_of(stream)].index(name)


def test_blocks_are_identical_for_any_partition(plan):
    source = stream_source(plan.signals)
    n = 30_000
    whole = source("fast", 5_000, n)
    rng = np.random.default_rng(0)
    parts, pos = [], 5_000
    while pos < 5_000 + n:
        k = int(min(rng.integers(1, 7_000), 5_000 + n - pos))
        parts.append(source("fast", pos, k))
        pos += k
    np.testing.assert_array_equal(whole, np.concatenate(parts))
    assert whole.dtype == np.float32 and whole.shape == (n, 6)
    with pytest.raises(InputError, match="unknown DAQ stream"):
        source("nope", 0, 10)


def test_one_exposure_pulse_per_frame_at_its_sample(plan, demo_rig):
    sig = plan.signals
    ttl = sig.block("fast", 0, sig.n_samples("fast"))[:, _column(demo_rig, "fast", "cam_exposure")]
    edges = _rising(ttl)
    expected = np.concatenate([t.frame_samples() for t in plan.timings])
    assert len(edges) == sum(t.n_frames for t in plan.timings)
    np.testing.assert_array_equal(edges, expected)
    # frame k of trial 1 is at trial start + k · rate / fps exactly (500 fps at 20 kHz)
    np.testing.assert_array_equal(
        plan.timings[0].frame_samples(), plan.timings[0].start_sample + 40 * np.arange(500)
    )


def test_force_and_emg_follow_the_jump(plan, demo_rig):
    sig = plan.signals
    rate = sig.rate("slow")
    force = sig.block("slow", 0, sig.n_samples("slow"))[:, _column(demo_rig, "slow", "force_z")]
    force = force.astype(float) * demo_rig.channel("force_z").scale
    timing, jump = plan.timings[0], plan.jumps[0]
    t = np.arange(len(force)) / rate
    ev = {k: v + timing.start_s for k, v in jump.events.as_dict().items()}
    quiet = (t > timing.start_s) & (t < ev["onset"])
    assert force[quiet].mean() == pytest.approx(jump.mass * G, rel=0.02)
    flight = (t > ev["takeoff"] + 0.005) & (t < ev["landing"] - 0.005)
    assert abs(force[flight].mean()) < 0.01 * jump.mass * G * 5  # ≈ 0 N (noise, drift)
    # impulse–momentum from the recorded 10 kHz force (body weight from quiet stance)
    push = (t >= ev["onset"] - 0.02) & (t < ev["takeoff"])
    v = np.sum(force[push] - force[quiet].mean()) / rate / jump.mass
    v_kin = jump.com_velocity(np.array([jump.events.takeoff]))[0, 2]
    assert v == pytest.approx(v_kin, rel=0.01)
    # EMG: quiet before each truth onset, bursting right after it
    fast = sig.block("fast", 0, sig.n_samples("fast")).astype(float)
    frate = sig.rate("fast")
    for b in [b for b in plan.bursts if b.trial == timing.name]:
        x = fast[:, _column(demo_rig, "fast", b.channel)] * demo_rig.channel(b.channel).scale
        i = int(np.ceil(b.onset_s * frate))
        before = np.sqrt(np.mean(x[i - 200 : i] ** 2))
        after = np.sqrt(np.mean(x[i + int(RISE_S * frate) : i + int(RISE_S * frate) + 200] ** 2))
        assert before < 2.5 * sig.options.emg_noise_v, b
        assert after > 10 * before, b


def test_groups_differ_in_the_expected_direction(plan):
    control, perturbed = plan.jumps
    assert perturbed.takeoff_velocity[2] < control.takeoff_velocity[2]
    peak = [
        b.amplitude_v for b in plan.bursts if b.phase == "pushoff" and b.muscle == "gastrocnemius"
    ]
    assert peak[1] < peak[0]


def test_mains_hum_on_demand(demo_rig, tiny_cameras):
    plan = _plan(demo_rig, tiny_cameras, daq=DaqOptions(mains_hz=50.0), groups=(CONTROL,))
    x = plan.signals.block("fast", 0, 8_000)[:, 0].astype(float)  # before any burst
    spectrum = np.abs(np.fft.rfft(x - x.mean()))
    freqs = np.fft.rfftfreq(len(x), 1 / 20_000)
    assert freqs[np.argmax(spectrum)] == pytest.approx(50.0, abs=2.6)


def test_ttl_glitches_and_syncbox_clock(demo_rig, tiny_cameras):
    faults = Faults(ttl_missing=2, ttl_extra=3, syncbox_offset_s=-7.5, syncbox_drift_ppm=100.0)
    plan = _plan(demo_rig, tiny_cameras, faults=faults)
    sig = plan.signals
    fast = sig.block("fast", 0, sig.n_samples("fast"))
    edges = _rising(fast[:, _column(demo_rig, "fast", "cam_exposure")])
    n_missing = sum(len(v) for v in plan.ttl_missing.values())
    assert n_missing == 2
    assert len(edges) == 1000 - 2 + 3
    for timing in plan.timings:
        samples = timing.frame_samples()
        for k in plan.ttl_missing[timing.name]:
            assert samples[k] not in edges
    extra = first_sample(np.array([s for s, _ in sig.ttl_extra]), 20_000)
    assert set(extra) <= set(edges.tolist())
    sync = _rising(fast[:, _column(demo_rig, "fast", "sync_ttl")])
    master = sig.syncbox_pulses_master_s()
    np.testing.assert_array_equal(sync, sig.syncbox_pulse_samples())
    np.testing.assert_allclose(master, -7.5 + sig.syncbox_pulses_device_s * (1 + 100e-6))


def test_raw_file_is_byte_identical_for_a_seed(tmp_path, demo_rig, tiny_cameras, plan):
    write_raw_daq(tmp_path / "a.h5", plan.signals)
    write_raw_daq(tmp_path / "b.h5", _plan(demo_rig, tiny_cameras).signals)
    write_raw_daq(tmp_path / "c.h5", _plan(demo_rig, tiny_cameras, seed=2).signals)
    digest = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
    assert digest(tmp_path / "a.h5") == digest(tmp_path / "b.h5")
    assert digest(tmp_path / "a.h5") != digest(tmp_path / "c.h5")
    info = read_raw_daq_info(tmp_path / "a.h5")
    assert info.status == "closed" and info.master_stream == "fast"
    assert info.streams["fast"].n_samples == plan.signals.n_samples("fast")
    assert [e["message"].decode() for e in info.events] == ["trial_001", "trial_002"]
    force = read_stream(tmp_path / "a.h5", "slow", channels=["force_z"]).values[:, 0]
    assert force.max() < 10 * 0.25  # within the amplifier's range: no clipping
