"""Datasets in, datasets out: poses2d → poses3d, and clear errors for bad input."""

from __future__ import annotations

import numpy as np
import pytest

from mocap3d.datasets import make_poses2d
from mocap3d.errors import InputError
from mocap3d.triangulation import combine_views, triangulate
from tests.fixtures.synthetic_tracks import observe


def _poses2d(group, obs, keypoints, fps=500.0, views=None):
    views = views or group.names
    pos = obs.uv.transpose(0, 1, 3, 2)[..., None]  # (view, time, space, keypoint, individual)
    return make_poses2d(pos, obs.confidence[..., None], views=views, keypoints=keypoints, fps=fps)


@pytest.fixture(scope="module")
def tracks(demo_group, motion):
    obs = observe(demo_group, motion.points[:300], seed=4)
    return _poses2d(demo_group, obs, motion.keypoints)


@pytest.mark.parametrize("method", ["dlt", "robust", "spatiotemporal"])
def test_poses3d_in_world_mm(demo_group, demo_rig, motion, tracks, method):
    ds = triangulate(tracks, demo_group, method=method, bones=demo_rig.skeleton.bones)
    assert ds.position.dims == ("time", "space", "keypoint", "individual")
    assert ds.attrs["space_unit"] == "mm" and ds.attrs["triangulation_method"] == method
    assert list(ds.keypoint.values) == motion.keypoints
    np.testing.assert_allclose(ds.time.values, tracks.time.values)
    pts = ds.position.transpose("time", "keypoint", "individual", "space").values[:, :, 0]
    err = np.linalg.norm(pts - motion.points[:300], axis=-1)
    limit = {"dlt": 0.8, "robust": 0.7, "spatiotemporal": 0.25}[method]
    assert np.nanmedian(err) < limit
    ok = np.isfinite(pts[..., 0])
    assert ok.mean() > 0.99
    nv = ds.n_views.transpose("time", "keypoint", "individual").values[:, :, 0]
    assert (nv[ok] >= (1 if method == "spatiotemporal" else 2)).all() and (nv[~ok] == 0).all()
    assert set(ds.view_error.dims) == {"view", "time", "keypoint", "individual"}
    score = ds.score.values
    assert np.nanmin(score) >= 0.5  # min_score default: lower-scored views are never used


def test_two_individuals_are_triangulated_separately(demo_group, motion):
    a, b = motion.points[:50], motion.points[:50] + np.array([0.0, 25.0, 0.0])
    obs_a = observe(demo_group, a, seed=1, outliers=0, missing=0)
    obs_b = observe(demo_group, b, seed=2, outliers=0, missing=0)
    pos = np.stack([obs_a.uv, obs_b.uv], axis=-1).transpose(0, 1, 3, 2, 4)
    conf = np.stack([obs_a.confidence, obs_b.confidence], axis=-1)
    ds2 = make_poses2d(
        pos,
        conf,
        views=demo_group.names,
        keypoints=motion.keypoints,
        individuals=["m1", "m2"],
        fps=500.0,
    )
    ds = triangulate(ds2, demo_group, method="spatiotemporal", bones=motion.bones)
    for ind, truth in (("m1", a), ("m2", b)):
        p = ds.position.sel(individual=ind).transpose("time", "keypoint", "space").values
        assert np.median(np.linalg.norm(p - truth, axis=-1)) < 0.3


def test_unknown_camera_is_named(demo_group, tracks):
    bad = tracks.assign_coords(view=["side_left", "side_right", "front", "top"])
    with pytest.raises(InputError, match=r"\['top'\].*not in the calibration"):
        triangulate(bad, demo_group)


def test_fewer_than_two_cameras(demo_group, tracks):
    with pytest.raises(InputError, match="at least two cameras"):
        triangulate(tracks.isel(view=[0]), demo_group, method="dlt")


def test_keypoint_without_data_is_named(demo_group, tracks):
    bad = tracks.copy(deep=True)
    bad["position"].loc[{"keypoint": "toe", "view": ["side_right", "front", "overhead"]}] = np.nan
    bad["confidence"].loc[{"keypoint": "knee"}] = 0.1  # below min_score everywhere
    with pytest.raises(InputError) as info:
        triangulate(bad, demo_group, method="dlt")
    msg = str(info.value)
    assert "'toe' is seen only by ['side_left']" in msg and "'knee' is seen by no camera" in msg


@pytest.mark.parametrize("method", ["dlt", "spatiotemporal"])
def test_keypoints_without_data_can_be_left_out(demo_group, demo_rig, tracks, method):
    bad = tracks.copy(deep=True)
    bad["position"].loc[{"keypoint": "toe", "view": ["side_right", "front", "overhead"]}] = np.nan
    ds = triangulate(bad, demo_group, method=method, bones=demo_rig.skeleton.bones,
                     unseen="leave_out")  # fmt: skip
    assert ds.attrs["keypoints_left_out"] == ["toe"]
    assert list(ds.keypoint.values) == list(tracks.keypoint.values)
    assert np.isnan(ds.position.sel(keypoint="toe").values).all()
    assert (ds.n_views.sel(keypoint="toe").values == 0).all()
    full = triangulate(tracks, demo_group, method=method, bones=demo_rig.skeleton.bones)
    knee = ds.position.sel(keypoint="knee").values - full.position.sel(keypoint="knee").values
    assert np.nanmedian(np.abs(knee)) < 0.5  # mm: the other keypoints are solved as before


def test_bones_must_name_known_keypoints(demo_group, tracks):
    with pytest.raises(InputError, match="'tail_tip'"):
        triangulate(tracks, demo_group, bones=[("nose", "tail_tip")])


def test_spatiotemporal_needs_fps(demo_group, tracks):
    no_fps = tracks.copy()
    del no_fps.attrs["fps"]
    with pytest.raises(InputError, match="frame rate"):
        triangulate(no_fps, demo_group)


def test_combine_views_refuses_different_lengths(tracks):
    views = {str(v): tracks.sel(view=[v]) for v in tracks.view.values}
    views["front"] = views["front"].isel(time=slice(0, 298))
    with pytest.raises(InputError) as info:
        combine_views(views)
    msg = str(info.value)
    assert "front: 298 frames" in msg and "side_left: 300 frames" in msg
    assert "synchronis" in msg and "never cuts" in msg


def test_combine_views_unions_keypoints(tracks):
    views = {str(v): tracks.sel(view=[v]) for v in tracks.view.values}
    views["front"] = views["front"].sel(keypoint=["nose", "eye"])
    ds = combine_views(views)
    assert list(ds.view.values) == list(views)
    assert ds.sizes["keypoint"] == tracks.sizes["keypoint"]
    assert np.isnan(ds.position.sel(view="front", keypoint="toe")).all()
    np.testing.assert_array_equal(
        ds.position.sel(view="side_left").values, tracks.position.sel(view="side_left").values
    )
