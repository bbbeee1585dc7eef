"""Weighted DLT: exact on clean data, equal to aniposelib's DLT, and its per-camera errors."""

from __future__ import annotations

import numpy as np
import pytest

from mocap3d.triangulation.dlt import (
    _TRIU,
    dlt_normalised,
    solve_normal_equations,
    triangulate_dlt,
    view_errors,
)


def test_clean_observations_give_the_true_points(seed_group, cloud):
    """Distortion (pinhole and fisheye) included: exact up to rounding."""
    uv = seed_group.project(cloud)
    res = triangulate_dlt(seed_group, uv)
    np.testing.assert_allclose(res.position, cloud, atol=1e-7)
    assert (res.n_views == 4).all()
    assert np.nanmax(res.view_error) < 1e-6


def test_noise_gives_sub_millimetre_errors(demo_group, cloud, rng):
    uv = demo_group.project(cloud) + rng.normal(0, 1.0, (4, len(cloud), 2))
    res = triangulate_dlt(demo_group, uv)
    err = np.linalg.norm(res.position - cloud, axis=1)
    # 1 px ≈ 0.5 mm at 350 mm with f ≈ 660 px; four cameras average it down
    assert np.median(err) < 0.7 and np.percentile(err, 95) < 1.6
    # per-camera errors are the distances to the observations, in pixels
    expected = np.hypot(*(demo_group.project(res.position) - uv).transpose(2, 0, 1))
    np.testing.assert_allclose(res.view_error, expected, atol=1e-9)
    np.testing.assert_allclose(res.reprojection_error, expected.mean(axis=0), atol=1e-9)


def test_missing_and_dropped_observations(demo_group, cloud):
    uv = demo_group.project(cloud[:5])
    uv[0, 0] = np.nan  # point 0: three cameras
    uv[1:, 1] = np.nan  # point 1: one camera → no point
    w = np.ones((4, 5))
    w[2, 2] = 0.0  # point 2: camera 2 dropped by weight
    res = triangulate_dlt(demo_group, uv, w)
    assert res.n_views.tolist() == [3, 0, 3, 4, 4]
    assert np.isnan(res.position[1]).all() and np.isnan(res.reprojection_error[1])
    assert not res.used[2, 2] and np.isfinite(res.view_error[2, 2])
    np.testing.assert_allclose(res.position[[0, 2, 3, 4]], cloud[[0, 2, 3, 4]], atol=1e-7)


def test_confidence_weights_shrink_a_bad_cameras_pull(demo_group, cloud, rng):
    uv = demo_group.project(cloud) + rng.normal(0, 0.5, (4, len(cloud), 2))
    uv[3] += 15.0  # camera 3 is off by 21 px
    w = np.ones((4, len(cloud)))
    w[3] = 0.05
    plain = np.linalg.norm(triangulate_dlt(demo_group, uv).position - cloud, axis=1)
    weighted = np.linalg.norm(triangulate_dlt(demo_group, uv, w).position - cloud, axis=1)
    assert np.median(weighted) < 0.25 * np.median(plain)


def test_eigen_solver_matches_lapack(demo_group, cloud, rng):
    """The vectorised Newton iteration finds the same smallest eigenvector as LAPACK."""
    uv = demo_group.project(cloud) + rng.normal(0, 3.0, (4, len(cloud), 2))
    xy = demo_group.undistort_points(uv)
    ours = dlt_normalised(xy, np.ones((4, len(cloud))), demo_group.extrinsics)
    A = np.zeros((len(cloud), 8, 4))
    for c, P in enumerate(demo_group.extrinsics):
        A[:, 2 * c] = xy[c, :, :1] * P[2] - P[0]
        A[:, 2 * c + 1] = xy[c, :, 1:] * P[2] - P[1]
    v = np.linalg.svd(A)[2][:, -1]
    np.testing.assert_allclose(ours, v[:, :3] / v[:, 3:], atol=1e-9)


def test_solver_handles_degenerate_matrices():
    normal = np.zeros((3, 10))
    normal[1] = np.eye(4)[_TRIU]  # identity: any vector; must not crash
    normal[2, :] = np.nan
    out = solve_normal_equations(normal)
    assert np.isnan(out[0]).all() and np.isnan(out[2]).all()


def test_view_errors_are_nan_for_missing(demo_group, cloud):
    uv = demo_group.project(cloud[:3])
    uv[1, 2] = np.nan
    err = view_errors(demo_group, cloud[:3], uv)
    assert err.shape == (4, 3) and np.isnan(err[1, 2]) and np.nanmax(err) < 1e-9


@pytest.fixture(scope="module")
def anipose_group():
    cameras = pytest.importorskip("aniposelib.cameras")
    return cameras


def _anipose(cameras_module, group):
    cams = [
        cameras_module.Camera(
            matrix=c.K, dist=c.dist, size=c.size, rvec=c.rvec, tvec=c.t, name=c.name
        )
        for c in group.cameras
    ]
    return cameras_module.CameraGroup(cams)


def test_same_points_as_aniposelib(anipose_group, demo_group, undistorted_group, cloud, rng):
    """Unweighted DLT = aniposelib's triangulate, to 1e-6 mm (noise, missing views included).

    aniposelib undistorts with OpenCV's (inexact) iteration, so the distorted rig is compared
    on our normalised coordinates (``undistort=False``) and the full path on a rig without
    distortion.
    """
    uv = demo_group.project(cloud) + rng.normal(0, 1.0, (4, len(cloud), 2))
    uv[rng.random((4, len(cloud))) < 0.1] = np.nan
    xy = demo_group.undistort_points(uv)
    ref = _anipose(anipose_group, demo_group).triangulate(xy, undistort=False)
    ours = triangulate_dlt(demo_group, uv).position
    finite = np.isfinite(ref[:, 0])
    assert (np.isfinite(ours[:, 0]) == finite).all()
    np.testing.assert_allclose(ours[finite], ref[finite], atol=1e-6, rtol=0)

    uv0 = undistorted_group.project(cloud) + rng.normal(0, 1.0, (4, len(cloud), 2))
    ref0 = _anipose(anipose_group, undistorted_group).triangulate(uv0)
    np.testing.assert_allclose(
        triangulate_dlt(undistorted_group, uv0).position, ref0, atol=1e-6, rtol=0
    )
