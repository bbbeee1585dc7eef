"""Extrinsics: pose chain + bundle adjustment recover simulated rigs; bad rigs are explained."""

from __future__ import annotations

import numpy as np
import pytest

from mocap3d.calibration._ba import Problem
from mocap3d.calibration._lm import solve, solve_scipy
from mocap3d.calibration.bundle import BundleOptions, bundle_adjust
from mocap3d.calibration.calibrate import calibrate_observations
from mocap3d.calibration.quality import compare_calibrations
from mocap3d.camera import CameraGroup
from mocap3d.errors import InputError
from mocap3d.rig import load_rig
from tests.fixtures.board_observations import synthetic_observations


@pytest.fixture(scope="module")
def seed_rig(seed_rig_path):
    return load_rig(seed_rig_path)


@pytest.fixture(scope="module")
def seed_case(seed_rig):
    obs, cams, poses = synthetic_observations(seed_rig, n_frames=80, noise_px=0.03, seed=2)
    return obs, cams, poses


def _intrinsics_only(cams: CameraGroup) -> CameraGroup:
    """The true lenses, poses forgotten."""
    return CameraGroup(tuple(c.replace(R=np.eye(3), t=np.zeros(3)) for c in cams))


def test_recovers_the_seed_rig_from_true_lenses(seed_rig, seed_case):
    obs, cams, _ = seed_case
    group, report = bundle_adjust(
        _intrinsics_only(cams),
        obs,
        seed_rig.board,
        options=BundleOptions(refine_intrinsics=False),
    )
    cmp = compare_calibrations(group, cams, align=True)
    assert max(v["centre_mm"] for v in cmp.values()) < 0.05
    assert max(v["rotation_deg"] for v in cmp.values()) < 0.02
    assert report.converged
    assert all(v["median_px"] < 0.05 for v in report.camera_summary().values())


def test_whole_calibration_within_the_targets(seed_rig, seed_case):
    """From corners alone (intrinsics too): centres 0.1 mm, rotations 0.05°, square 0.05 %."""
    obs, cams, _ = seed_case
    res = calibrate_observations(
        obs, seed_rig.board, lenses={c.name: c.lens for c in seed_rig.cameras}
    )
    cmp = compare_calibrations(res.cameras, cams, align=True)
    assert max(v["centre_mm"] for v in cmp.values()) < 0.1
    assert max(v["rotation_deg"] for v in cmp.values()) < 0.05
    assert abs(res.quality.geometry["median_error_percent"]) < 0.05


def test_no_frame_shows_the_board_to_every_camera(seed_rig, seed_case):
    """Cameras facing each other never share a frame: the pose chain still places them."""
    obs, cams, _ = seed_case
    uv = obs.values.copy()
    i, j = cams.names.index("side_left"), cams.names.index("side_right")
    seen = np.isfinite(uv[..., 0]).any(axis=2)  # (view, frame)
    uv[j, seen[i] & seen[j]] = np.nan  # they face each other: never see a board together
    seen = np.isfinite(uv[..., 0]).any(axis=2)
    assert seen.sum(axis=0).max() < len(cams)
    assert not np.any(seen[i] & seen[j])
    group, report = bundle_adjust(
        _intrinsics_only(cams),
        obs.copy(data=uv),
        seed_rig.board,
        options=BundleOptions(refine_intrinsics=False),
    )
    assert set(report.tree) | {report.reference_camera} == set(cams.names)
    cmp = compare_calibrations(group, cams, align=True)
    assert max(v["centre_mm"] for v in cmp.values()) < 0.05


def test_a_chain_of_cameras_each_seeing_only_its_neighbours(seed_rig):
    """A ring: camera k shares frames only with k-1 and k+1."""
    obs, cams, _ = synthetic_observations(seed_rig, n_frames=80, noise_px=0.03, seed=4)
    names = cams.names
    uv = obs.values.copy()
    seen = np.isfinite(uv[..., 0]).any(axis=2)
    # keep only pairs (0,2) (2,1) (1,3) — a path, no triangle — by blanking other overlaps
    allowed = {frozenset(p) for p in [(0, 2), (2, 1), (1, 3)]}
    for f in range(uv.shape[1]):
        who = np.flatnonzero(seen[:, f])
        if len(who) >= 2 and frozenset(who[:2]) in allowed:
            uv[np.setdiff1d(np.arange(len(names)), who[:2]), f] = np.nan
        elif len(who) >= 2:
            uv[who[1:], f] = np.nan
    chained = obs.copy(data=uv)
    group, report = bundle_adjust(
        _intrinsics_only(cams),
        chained,
        seed_rig.board,
        options=BundleOptions(refine_intrinsics=False),
    )
    pairs = {frozenset(p["cameras"]) for p in report.pairs}
    assert pairs <= {frozenset((names[a], names[b])) for a, b in [(0, 2), (2, 1), (1, 3)]}
    cmp = compare_calibrations(group, cams, align=True)
    assert max(v["centre_mm"] for v in cmp.values()) < 0.15


def test_a_camera_that_never_shares_a_frame_is_named(seed_rig, seed_case):
    obs, cams, _ = seed_case
    uv = obs.values.copy()
    k = cams.names.index("front")
    seen = np.isfinite(uv[..., 0]).any(axis=2)
    shared = seen[k] & (np.delete(seen, k, axis=0).sum(axis=0) > 0)
    uv[k, shared] = np.nan  # front keeps only frames no other camera saw
    assert np.isfinite(uv[k]).any()
    with pytest.raises(InputError, match=r"'front' .*never see the board in the same frame"):
        bundle_adjust(_intrinsics_only(cams), obs.copy(data=uv), seed_rig.board)


def test_input_is_not_modified(seed_rig, seed_case):
    obs, cams, _ = seed_case
    start = _intrinsics_only(cams)
    before = CameraGroup(tuple(c.replace(K=c.K.copy(), dist=c.dist.copy()) for c in start))
    data = obs.values.copy()
    group, _ = bundle_adjust(start, obs, seed_rig.board)
    assert start == before
    np.testing.assert_array_equal(obs.values, data)
    assert group is not start


def test_outliers_are_dropped(seed_rig, seed_case):
    obs, cams, _ = seed_case
    uv = obs.values.copy()
    rng = np.random.default_rng(0)
    shared = np.isfinite(uv[..., 0]).any(axis=2).sum(axis=0) >= 2
    where = np.argwhere(np.isfinite(uv[..., 0]) & shared[None, :, None])
    bad = where[rng.choice(len(where), 40, replace=False)]
    uv[tuple(bad.T)] += rng.uniform(15, 40, (40, 2)) * rng.choice([-1, 1], (40, 2))
    group, report = bundle_adjust(
        _intrinsics_only(cams),
        obs.copy(data=uv),
        seed_rig.board,
        options=BundleOptions(refine_intrinsics=False),
    )
    # nearly every corrupted observation is flagged (outliers are indexed by adjusted view)
    frames = obs.coords["frame"].values[bad[:, 1]]
    adjusted = np.isin(frames, report.frames)
    assert adjusted.sum() >= 36
    views = np.searchsorted(report.frames, frames[adjusted])
    flagged = report.outliers[bad[adjusted, 0], views, bad[adjusted, 2]]
    assert flagged.sum() >= adjusted.sum() - 2
    cmp = compare_calibrations(group, cams, align=True)
    assert max(v["centre_mm"] for v in cmp.values()) < 0.06


def test_levenberg_marquardt_agrees_with_scipy_least_squares(seed_rig, seed_case):
    """Our sparse LM and scipy's least_squares reach the same minimum (camera poses and
    board poses from a perturbed start; lenses known)."""
    obs, cams, poses = seed_case
    from mocap3d.calibration.poses import rt_from_T

    uv = obs.values
    n_cams = np.isfinite(uv[..., 0]).any(axis=2).sum(axis=0)
    views = np.flatnonzero(n_cams >= 2)[:25]
    keep = np.isfinite(uv[:, views][..., 0])
    c, v, n = np.nonzero(keep)
    rng = np.random.default_rng(1)
    start = [cam.replace(t=cam.t + rng.normal(0, 2.0, 3)) for cam in cams]
    problem = Problem(
        cameras=start,
        free_intrinsics=[np.zeros(0, int)] * len(cams),
        fixed_pose=np.arange(len(cams)) == 0,
        obj=seed_rig.board.corner_points_mm(),
        cam=c,
        view=v,
        corner=n,
        uv=uv[:, views][c, v, n],
        poses=np.stack([rt_from_T(poses[f]) for f in views]) + rng.normal(0, 1e-3, (25, 6)),
    )
    ours = solve(problem)
    ref = solve_scipy(problem)
    assert ours.converged
    assert np.sum(ours.residuals**2) <= np.sum(ref.residuals**2) * (1 + 1e-6)
    a, _ = problem.unpack(ours.x)
    b, _ = problem.unpack(ref.x)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x.center, y.center, atol=1e-3)


def test_problem_projection_is_camera_project(seed_rig, seed_case):
    obs, cams, poses = seed_case
    from mocap3d.calibration.poses import rt_from_T

    f = int(np.flatnonzero(np.isfinite(obs.values[0, :, :, 0]).any(axis=1))[0])
    n = np.arange(seed_rig.board.n_corners)
    problem = Problem(
        cameras=list(cams),
        free_intrinsics=[np.arange(9 if c.model == "pinhole" else 8) for c in cams],
        fixed_pose=np.zeros(len(cams), bool),
        obj=seed_rig.board.corner_points_mm(),
        cam=np.repeat(np.arange(len(cams)), len(n)),
        view=np.zeros(len(cams) * len(n), int),
        corner=np.tile(n, len(cams)),
        uv=np.zeros((len(cams) * len(n), 2)),
        poses=rt_from_T(poses[f])[None],
    )
    world = seed_rig.board.corner_points_mm() @ poses[f][:3, :3].T + poses[f][:3, 3]
    expected = np.concatenate([cam.project(world) for cam in cams])
    np.testing.assert_allclose(problem.project(problem.x0()), expected, atol=1e-6)
