"""Rig planner: Monte-Carlo 3D error of a layout behaves like error propagation says."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from mocap3d.camera import CameraGroup
from mocap3d.errors import InputError
from mocap3d.rig import load_rig
from mocap3d.simulate.planner import plan_rig
from mocap3d.simulate.rig_geometry import camera_layout


@pytest.fixture(scope="module")
def rig(demo_rig_path):
    return load_rig(demo_rig_path)


def medians(plan):
    return np.array([lm.error_median_mm for lm in plan.landmarks])


def test_without_noise_the_error_vanishes(rig):
    plan = plan_rig(rig, noise_px=0.0, n_jumps=1, n_draws=1)
    assert np.nanmax(medians(plan)) < 1e-6


def test_error_scales_with_the_pixel_noise(rig):
    one = medians(plan_rig(rig, noise_px=1.0, n_jumps=1, n_draws=20, seed=4))
    two = medians(plan_rig(rig, noise_px=2.0, n_jumps=1, n_draws=20, seed=4))
    np.testing.assert_allclose(two / one, 2.0, rtol=0.05)  # first-order propagation: linear
    assert 0.1 < np.median(one) < 5.0  # sub-mm to mm at 1 px, ~0.6 mm/px at the animal


def test_fewer_cameras_mean_larger_errors_and_more_blind_frames(rig):
    cams = camera_layout(rig, seed=0)
    full = plan_rig(rig, cameras=cams, n_jumps=1, n_draws=10)
    rig2 = rig.model_copy(update={"cameras": [rig.camera("side_left"), rig.camera("front")]})
    two = plan_rig(rig2, cameras=cams, n_jumps=1, n_draws=10)
    assert np.nanmedian(medians(two)) > 1.3 * np.nanmedian(medians(full))
    blind_full = np.array([lm.under_two_views for lm in full.landmarks])
    blind_two = np.array([lm.under_two_views for lm in two.landmarks])
    assert np.all(blind_two >= blind_full) and blind_two.sum() > blind_full.sum()
    assert all(lm.mean_views <= 2 for lm in two.landmarks)


def test_layout_must_hold_the_rigs_cameras(rig):
    cams = camera_layout(rig).subset(["side_left", "front"])
    with pytest.raises(InputError, match=r"no camera\(s\) \['side_right', 'overhead'\]"):
        plan_rig(rig, cameras=cams)
    with pytest.raises(InputError, match="noise_px"):
        plan_rig(rig, noise_px=-1)


def test_cli_prints_the_table_and_writes_json(tmp_path, rig):
    calib = tmp_path / "calibration.toml"
    camera_layout(rig, seed=1).save(calib)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "mocap3d",
            "simulate",
            "plan",
            "demo",
            "--calibration",
            str(calib),
            "--jumps",
            "1",
            "--draws",
            "3",
            "--json",
            str(tmp_path / "plan.json"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "knee" in out.stdout and "median mm" in out.stdout
    data = json.loads((tmp_path / "plan.json").read_text())
    assert [lm["keypoint"] for lm in data["landmarks"]] == rig.keypoints
    assert CameraGroup.load(calib).names == data["cameras"]
