"""Robust triangulation: outliers and left/right swaps in some views are left out."""

from __future__ import annotations

import numpy as np
import pytest

from mocap3d.errors import InputError
from mocap3d.triangulation.dlt import triangulate_dlt
from mocap3d.triangulation.robust import camera_pairs, triangulate_robust
from tests.fixtures.synthetic_tracks import observe


def test_camera_pairs():
    assert camera_pairs(4).tolist() == [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]
    assert camera_pairs(1).shape == (0, 2)


def _displace(uv, mask, rng, low=25.0, high=80.0):
    angle = rng.uniform(0, 2 * np.pi, mask.sum())
    mag = rng.uniform(low, high, mask.sum())
    uv = uv.copy()
    uv[mask] += np.stack([np.cos(angle), np.sin(angle)], -1) * mag[:, None]
    return uv


def test_one_outlier_per_point_is_rejected(demo_group, cloud, rng):
    n = len(cloud)
    clean = demo_group.project(cloud) + rng.normal(0, 1.0, (4, n, 2))
    bad = np.zeros((4, n), bool)
    bad[rng.integers(0, 4, n), np.arange(n)] = True  # every point: one camera is wrong
    uv = _displace(clean, bad, rng)
    res = triangulate_robust(demo_group, uv)
    ref = triangulate_dlt(demo_group, np.where(bad[..., None], np.nan, uv))  # oracle
    err = np.linalg.norm(res.position - cloud, axis=1)
    err_ref = np.linalg.norm(ref.position - cloud, axis=1)
    assert np.isfinite(err).all()
    assert np.median(err) <= 1.05 * np.median(err_ref)
    assert np.percentile(err, 95) <= 1.1 * np.percentile(err_ref, 95)
    # the wrong camera is the one left out (>99 %), and good cameras are kept
    assert (res.used[bad] == 0).mean() > 0.99
    assert res.used[~bad].mean() > 0.99
    assert (res.view_error[bad] > 8).mean() > 0.99  # rejected views show how far off they are
    plain = np.linalg.norm(triangulate_dlt(demo_group, uv).position - cloud, axis=1)
    assert np.median(plain) > 5 * np.median(err)


def test_left_right_swaps_in_one_view(demo_group, motion):
    """A left/right swap in one camera: both keypoints triangulate from the other three."""
    pts = motion.points[:200]
    kp = motion.keypoints
    pairs = [(kp.index("hip"), kp.index("knee")), (kp.index("ankle"), kp.index("toe"))]
    obs = observe(demo_group, pts, seed=5, outliers=0.0, missing=0.0, swaps=0.08, swap_pairs=pairs)
    swapped = obs.swapped
    assert swapped.any()
    res = triangulate_robust(demo_group, obs.uv)
    err = np.linalg.norm(res.position - pts, axis=-1)
    # points with exactly one swapped view (two swapped views agree with each other on the
    # partner keypoint: a tie that only time or left/right labels can break)
    hit = swapped.sum(axis=0) == 1
    assert hit.sum() > 50
    assert np.nanpercentile(err[hit], 95) < 2.0
    # a swap between keypoints that project within a few pixels of each other is as good as
    # noise and may stay; every swapped view that stays agrees with the others
    assert (res.used[swapped & hit] == 0).mean() > 0.95
    assert (res.view_error[swapped & hit & res.used] < 8.0).all()
    plain = np.linalg.norm(triangulate_dlt(demo_group, obs.uv).position - pts, axis=-1)
    assert np.median(plain[hit]) > 3 * np.median(err[hit])


def test_two_disagreeing_cameras_give_no_point(demo_group, cloud):
    uv = demo_group.project(cloud[:3])
    uv[2:] = np.nan  # only cameras 0 and 1
    uv[1, 0] += 60.0  # point 0: they disagree
    res = triangulate_robust(demo_group, uv)
    assert np.isnan(res.position[0]).all() and res.n_views[0] == 0
    np.testing.assert_allclose(res.position[1:], cloud[1:3], atol=1e-6)
    assert res.n_views[1:].tolist() == [2, 2]


def test_bad_options(demo_group, cloud):
    uv = demo_group.project(cloud[:2])
    with pytest.raises(InputError, match="min_views"):
        triangulate_robust(demo_group, uv, min_views=1)
    with pytest.raises(InputError, match="threshold_px"):
        triangulate_robust(demo_group, uv, threshold_px=0)


@pytest.mark.slow
def test_beats_aniposelib_ransac(demo_group, motion):
    """Same data, 10 % outliers: our p95 error is no worse than triangulate_ransac's."""
    cameras = pytest.importorskip("aniposelib.cameras")
    pts = motion.points[:12].reshape(-1, 3)  # 120 points: aniposelib loops over them
    obs = observe(demo_group, pts[None], seed=9, outliers=0.1, missing=0.0)
    uv = obs.uv[:, 0]
    ani = cameras.CameraGroup(
        [
            cameras.Camera(matrix=c.K, dist=c.dist, size=c.size, rvec=c.rvec, tvec=c.t)
            for c in demo_group.cameras
        ]
    )
    ref = ani.triangulate_ransac(uv, min_cams=2)[0]
    ours = triangulate_robust(demo_group, uv).position
    e_ref = np.linalg.norm(ref - pts, axis=1)
    e_ours = np.linalg.norm(ours - pts, axis=1)
    assert np.nanpercentile(e_ours, 95) <= np.nanpercentile(e_ref, 95)
    assert np.isfinite(e_ours).mean() >= 0.98
