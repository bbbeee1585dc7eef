"""Sync on the simulator's sessions (mocap3d.simulate): its faults found where its truth says.

The simulator's TTLs are ideal steps sampled by the DAQ, so an edge is only known to lie
between two samples: frame times are within half a sample (25 µs at 20 kHz) of the truth, and
the sync box drift is limited by that quantisation averaged over the session's pulses.
"""

from __future__ import annotations

import numpy as np
import pytest

from mocap3d.io.frames import read_frame_log
from mocap3d.rig import load_rig
from mocap3d.simulate.faults import Faults
from mocap3d.simulate.jump_params import CONTROL
from mocap3d.simulate.rig_geometry import camera_layout
from mocap3d.simulate.session import SessionOptions, TrialPlan, plan_session, simulate_session
from mocap3d.simulate.truth import read_truth
from mocap3d.sync.evaluate import compare_to_truth
from mocap3d.sync.frames import DROPPED, NO_PULSE, OK
from mocap3d.sync.session import VideoInput, sync_recording

FAULTS = Faults(
    dropped_frames=3, ttl_missing=3, ttl_extra=3, syncbox_offset_s=-12.345, syncbox_drift_ppm=40.0
)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory, demo_rig_path):
    rig = load_rig(demo_rig_path)
    # 25 s of DAQ: enough sync pulses that ±half-sample edges still give drift well within 1 ppm
    opts = SessionOptions(duration_s=2.0, gap_s=3.0, videos=False, n_labelled=0)
    trials = [TrialPlan(f"trial_{i + 1:03d}", CONTROL, i) for i in range(5)]
    plan = plan_session(
        rig, camera_layout(rig, seed=0), trials, name="s", seed=3, options=opts, faults=FAULTS
    )
    root = tmp_path_factory.mktemp("sim")
    truth = read_truth(simulate_session(root, plan, options=opts, faults=FAULTS))
    inputs = {}
    for t in plan.timings:
        logs = {c: read_frame_log(root / "raw" / "videos" / t.name / f"{c}.frames.csv")
                for c in rig.camera_names}  # fmt: skip
        inputs[t.name] = {c: VideoInput(len(log), log) for c, log in logs.items()}
    box_on = plan.signals.syncbox_pulses_device_s
    box = np.stack([box_on, box_on + plan.signals.options.sync_pulse_s], axis=1)
    res = sync_recording(rig, root / "raw" / "daq.h5", inputs, devices={"syncbox": box})
    return rig, plan, truth, res


def test_frame_times_within_one_sample_of_the_simulator_truth(simulated):
    rig, _, truth, res = simulated
    for trial, tt in truth.trials.items():
        for v, cam in enumerate(rig.camera_names):
            fm = res.maps[trial][cam]
            true = tt["frame_time_s"][tt["video_frame"][v] >= 0]
            # target: one sample; an ideal step puts the edge half-way between two samples
            assert np.abs(fm.frame_time - true).max() <= 0.55 / 20_000, (trial, cam)


def test_every_injected_fault_found_and_nothing_else(simulated):
    rig, plan, truth, res = simulated
    n_extra = 0
    for trial, tt in truth.trials.items():
        for cam in rig.camera_names:
            fm = res.maps[trial][cam]
            drops = plan.dropped[trial] if cam == plan.dropped_camera else []
            np.testing.assert_array_equal(np.flatnonzero(fm.slot_status == DROPPED), drops)
            np.testing.assert_array_equal(
                np.flatnonzero(fm.slot_status == NO_PULSE), tt["ttl_missing"]
            )
            assert set(np.unique(fm.slot_status)) <= {OK, NO_PULSE, DROPPED}
        n_extra += res.maps[trial][rig.camera_names[0]].extra_pulse_times.size
    assert n_extra == FAULTS.ttl_extra == len(truth.ttl_extra)
    found = np.sort(np.concatenate([res.maps[t]["front"].extra_pulse_times for t in res.maps]))
    np.testing.assert_allclose(found, np.sort(truth.ttl_extra[:, 0]), atol=1 / 20_000)


def test_clocks_against_the_simulator_truth(simulated):
    rig, plan, _, res = simulated
    box = res.clocks["syncbox"]
    assert box.drift_ppm == pytest.approx(FAULTS.syncbox_drift_ppm, abs=1.0)
    assert box.offset_s == pytest.approx(FAULTS.syncbox_offset_s, abs=50e-6)
    for cam in rig.camera_names:
        fit = res.maps["trial_001"][cam].camera_clock
        assert fit is not None
        assert fit.drift_ppm == pytest.approx(plan.camera_clocks[cam].drift_ppm, abs=0.1)


def test_compare_to_truth_for_the_demo(simulated):
    _, _, truth, res = simulated
    rows = {c.quantity: c for c in compare_to_truth(res, truth)}
    found = rows["dropped frames found"]
    assert found.recovered == found.truth == 15  # 3 per trial in one camera
    assert rows["dropped frames wrongly reported"].recovered == 0
    assert (
        rows["missing exposure pulses found"].recovered
        == rows["missing exposure pulses found"].truth
    )
    assert rows["extra exposure pulses found"].recovered == 3
    assert rows["frame time error, max"].recovered < 50.0
    assert abs(rows["sync box clock drift"].recovered - 40.0) < 1.0
    assert rows["camera clock drift error, max"].recovered < 0.1
