"""End to end: a small two-group project whose files alone give back the truth's numbers."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mocap3d.io.project import open_project
from mocap3d.io.rawdaq import read_stream
from mocap3d.simulate.faults import ALL_FAULTS
from mocap3d.simulate.jump import G
from mocap3d.simulate.project import simulate_project
from mocap3d.simulate.render import read_video
from mocap3d.simulate.session import SessionOptions
from mocap3d.simulate.truth import read_truth


@pytest.mark.slow
def test_two_groups_recover_takeoff_velocity_from_the_daq_file(tmp_path):
    faults = replace(ALL_FAULTS, motion_blur=1)
    project = simulate_project(
        tmp_path / "p",
        rig="demo",
        groups=["control", "perturbed"],
        trials_per_subject=1,
        seed=3,
        scale=0.25,
        options=SessionOptions(duration_s=1.0, n_labelled=3),
        faults=faults,
    )
    speeds = {}
    for session in project.sessions():
        truth = read_truth(session.root / "truth" / "truth.h5")
        (trial,) = truth.trials.values()
        ev = trial.events
        force = read_stream(session.raw_daq_path, "slow", channels=["force_z"])
        # the slow stream runs on a drifting clock: its sample times come from the truth
        ppm = truth.attrs["stream_clocks"]["slow"]["drift_ppm"]
        t = np.arange(force.sizes["time"]) / (10_000 * (1 + ppm * 1e-6))
        f = force.values[:, 0]
        quiet = (t > trial.attrs["start_s"]) & (t < ev["onset"] - 0.01)
        push = (t >= ev["onset"] - 0.01) & (t < ev["takeoff"])
        v = np.sum(f[push] - f[quiet].mean()) / 10_000 / trial.attrs["mass_kg"]
        v_true = trial.attrs["takeoff_velocity_m_s"][2]
        assert v == pytest.approx(v_true, rel=0.01), session.name
        assert f[quiet].mean() == pytest.approx(trial.attrs["mass_kg"] * G, rel=0.03)
        speeds[session.group] = v
        # the videos: every triggered frame but the dropped ones
        for v_idx, cam in enumerate(truth.cameras.names):
            n = len(read_video(session.video_path("trial_001", cam)))
            assert n == int((trial["video_frame"][v_idx] >= 0).sum())
        # the truth's 2D is the projection of its 3D through its cameras
        np.testing.assert_allclose(truth.cameras.project(trial["keypoints3d"]), trial["uv"])
    assert speeds["perturbed"] < speeds["control"]
    assert open_project(tmp_path / "p").rig().cameras[0].resolution == (80, 64)
