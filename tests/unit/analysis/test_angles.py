"""Joint angles: exact on designed geometry, ≤ 1° against the simulator's true angles."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from mocap3d.analysis.angles import (
    compute_angular_velocity,
    compute_joint_angles,
    flexion_angle,
    segment_elevation,
    signed_angle,
    to_degrees,
)
from mocap3d.datasets import make_poses3d
from mocap3d.errors import InputError
from mocap3d.rig import AngleSpec


def _rot(axis: np.ndarray, angle: float) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_rotvec(axis / np.linalg.norm(axis) * angle).as_matrix()


def test_flexion_signed_and_segment_on_designed_geometry(rng):
    n = 500
    theta = rng.uniform(-np.pi + 0.01, np.pi - 0.01, n)  # designed signed angles
    axes = rng.standard_normal((n, 3))
    b = rng.uniform(-50, 50, (n, 3))
    out = np.empty(n)
    a_pts, c_pts = np.empty((n, 3)), np.empty((n, 3))
    for i in range(n):
        axis = axes[i] / np.linalg.norm(axes[i])
        u = np.cross(axis, rng.standard_normal(3))
        u /= np.linalg.norm(u)
        # c: u rotated by theta about the axis, plus a component along the axis (ignored)
        v = _rot(axis, theta[i]) @ u
        a_pts[i] = b[i] + rng.uniform(5, 20) * u + rng.uniform(-3, 3) * axis
        c_pts[i] = b[i] + rng.uniform(5, 20) * v + rng.uniform(-3, 3) * axis
        out[i] = signed_angle(a_pts[i], b[i], c_pts[i], b[i], b[i] + axis)
    np.testing.assert_allclose(out, theta, atol=1e-9)
    # flexion: no axis component → |signed angle|
    u = rng.standard_normal((n, 3))
    v = rng.standard_normal((n, 3))
    expected = np.arccos(np.sum(u * v, 1) / np.linalg.norm(u, axis=1) / np.linalg.norm(v, axis=1))
    np.testing.assert_allclose(flexion_angle(b + u, b, b + v), expected, atol=1e-9)
    # straight and folded joints are exact (atan2, not arccos)
    assert flexion_angle(np.array([1.0, 0, 0]), np.zeros(3), np.array([-2.0, 0, 0])) == np.pi
    assert flexion_angle(np.array([1.0, 0, 0]), np.zeros(3), np.array([2.0, 0, 0])) == 0.0
    # segment elevation above the platform plane
    elev = rng.uniform(-np.pi / 2, np.pi / 2, n)
    az = rng.uniform(0, 2 * np.pi, n)
    d = np.stack([np.cos(elev) * np.cos(az), np.cos(elev) * np.sin(az), np.sin(elev)], 1)
    np.testing.assert_allclose(
        segment_elevation(b, b + 7 * d, np.array([0, 0, 1.0])), elev, atol=1e-9
    )
    np.testing.assert_allclose(
        segment_elevation(b, b + 7 * d, np.array([0, 0, -1.0])), -elev, atol=1e-9
    )


def test_rig_angles_match_the_simulator_truth(sim_trials, sim_rig):
    """RMS error of hip/knee/ankle/MTP flexion from true 3D vs the model's joint angles."""
    for inputs, truth in sim_trials:
        angles = compute_joint_angles(inputs.poses3d, sim_rig)
        assert angles.dims == ("time", "joint", "individual")
        assert angles.attrs["units"] == "rad" and angles.attrs["reasons"] == {}
        for j, name in enumerate(truth.angle_names):
            err = np.degrees(
                angles.sel(joint=name, individual="individual_0").values - truth["angles"][:, j]
            )
            rms = float(np.sqrt(np.mean(err**2)))
            assert rms <= 1.0, f"{name}: RMS error {rms:.3g}° > 1°"
            assert rms < 1e-6  # true 3D: the definitions are the model's, to rounding
        # the demo rig's segment angle: the toe segment lies flat on the platform in stance
        foot = np.degrees(angles.sel(joint="foot_pitch").values[:20, 0])
        np.testing.assert_allclose(foot, 0.0, atol=1e-6)


def test_noisy_3d_angle_error_is_reported_not_hidden(sim_trials, sim_rig, rng):
    """With 0.2 mm 3D noise per coordinate the angle error grows as geometry predicts."""
    inputs, truth = sim_trials[0]
    noisy = inputs.poses3d.copy()
    noisy["position"] = noisy["position"] + 0.2 * rng.standard_normal(noisy["position"].shape)
    angles = compute_joint_angles(noisy, sim_rig)
    err = np.degrees(angles.sel(joint="knee").values[:, 0] - truth["angles"][:, 1])
    rms = float(np.sqrt(np.mean(err**2)))
    # two 15–17 mm segments, 0.2 mm noise on each of 3 points: ≈ 1.2–1.6° expected
    assert 0.5 < rms < 2.5


def test_nan_and_missing_keypoints():
    t = np.arange(5) / 100
    pos = np.zeros((5, 3, 3, 1))
    pos[:, 0, 0, 0] = 10.0  # a on +x
    pos[:, 1, 2, 0] = 10.0  # c on +y: 90°
    pos[2, :, 1, 0] = np.nan  # b missing in frame 2
    ds = make_poses3d(pos, keypoints=["a", "b", "c"], time=t)
    defs = {
        "j": AngleSpec(points=["a", "b", "c"]),
        "lost": AngleSpec(points=["a", "b", "elbow"]),
        "seg": AngleSpec(type="segment", points=["a", "c"]),
    }
    out = compute_joint_angles(ds, defs)
    j = out.sel(joint="j", individual="individual_0").values
    np.testing.assert_allclose(j[[0, 1, 3, 4]], np.pi / 2)
    assert np.isnan(j[2])
    assert np.isnan(out.sel(joint="lost").values).all()
    assert "elbow" in out.attrs["reasons"]["lost"]
    np.testing.assert_allclose(out.sel(joint="seg").values, 0.0, atol=1e-12)
    deg = to_degrees(out)
    assert deg.attrs["units"] == "deg"
    np.testing.assert_allclose(deg.sel(joint="j").values[[0, 1]], 90.0)


def test_angular_velocity_of_a_known_motion():
    t = np.sort(np.random.default_rng(1).uniform(0, 1, 400))  # uneven sampling
    angle = 1.0 + 0.5 * np.sin(2 * np.pi * 3 * t)
    da = xr.DataArray(angle[:, None], dims=("time", "joint"), coords={"time": t, "joint": ["k"]},
                      attrs={"units": "rad"})  # fmt: skip
    w = compute_angular_velocity(da)
    truth = 0.5 * 2 * np.pi * 3 * np.cos(2 * np.pi * 3 * t)
    assert w.attrs["units"] == "rad/s"
    err = np.abs(w.values[5:-5, 0] - truth[5:-5])
    assert np.median(err) < 0.05 and err.max() < 2.0
    # a signed angle wrapping through ±π is not a spike
    wrap = np.angle(np.exp(1j * (np.pi - 0.1 + 2.0 * t)))
    dw = xr.DataArray(wrap[:, None], dims=("time", "joint"), coords={"time": t, "joint": ["s"]},
                      attrs={"units": "rad"})  # fmt: skip
    np.testing.assert_allclose(compute_angular_velocity(dw).values[1:-1, 0], 2.0, atol=1e-6)
    # NaN poisons only its neighbours
    angle[200] = np.nan
    w2 = compute_angular_velocity(da.copy(data=angle[:, None])).values[:, 0]
    assert np.isnan(w2[199:202]).all() and np.isfinite(w2[:198]).all()


def test_bad_inputs_say_what_is_wrong():
    da = xr.DataArray(np.zeros((3, 2)), dims=("time", "keypoint"))
    with pytest.raises(InputError, match="space"):
        compute_joint_angles(da, {"j": AngleSpec(points=["a", "b", "c"])})
    with pytest.raises(InputError, match="time"):
        compute_angular_velocity(xr.DataArray(np.zeros(3), dims=("frame",)))
