"""Dataset constructors: shapes, dims and defaults are validated with clear messages."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from mocap3d.datasets import make_poses2d, make_poses3d, validate_poses3d
from mocap3d.errors import InputError


def test_poses2d_defaults_confidence_from_nans():
    pos = np.ones((2, 5, 2, 3, 1))
    pos[1, 2, :, 0] = np.nan
    ds = make_poses2d(pos, views=["a", "b"], keypoints=["k0", "k1", "k2"], fps=100)
    assert ds.position.dims == ("view", "time", "space", "keypoint", "individual")
    assert np.isnan(ds.confidence.sel(view="b", keypoint="k0").values[2, 0])
    assert ds.confidence.sum().item() == 2 * 5 * 3 - 1
    np.testing.assert_allclose(ds.time.values, np.arange(5) / 100)
    assert ds.attrs["time_reference"] == "frame"


def test_without_frame_rate_or_times_time_counts_frames():
    ds = make_poses2d(np.ones((1, 4, 2, 1, 1)), views=["a"], keypoints=["k"])
    np.testing.assert_array_equal(ds.time.values, np.arange(4))
    assert ds.attrs["time_unit"] == "frame" and ds.attrs["time_reference"] == "frame"
    assert "fps" not in ds.attrs
    with_fps = make_poses2d(np.ones((1, 4, 2, 1, 1)), views=["a"], keypoints=["k"], fps=50)
    assert with_fps.attrs["time_unit"] == "s"


def test_poses3d_with_time_stamps():
    ds = make_poses3d(np.zeros((4, 3, 2, 1)), keypoints=["a", "b"], time=[0.1, 0.2, 0.3, 0.4])
    assert ds.attrs["time_reference"] == "session" and ds.n_views.dtype == np.int16


@pytest.mark.parametrize(
    "call,match",
    [
        (
            lambda: make_poses2d(np.zeros((2, 5, 2, 3)), views=["a", "b"], keypoints="abc", fps=1),
            "5-D",
        ),
        (
            lambda: make_poses2d(np.zeros((2, 5, 2, 3, 1)), views=["a"], keypoints="abc", fps=1),
            r"view=1",
        ),
        (lambda: make_poses3d(np.zeros((4, 3, 2, 1)), keypoints=["a", "b"]), "fps > 0"),
        (
            lambda: make_poses3d(np.zeros((4, 3, 2, 1)), keypoints=["a", "b"], time=[1, 2]),
            "4 values",
        ),
        (
            lambda: make_poses3d(np.zeros((4, 2, 2, 1)), keypoints=["a", "b"], fps=1),
            r"shape \(4, 3, 2, 1\)",
        ),
    ],
)
def test_bad_shapes_are_explained(call, match):
    with pytest.raises(InputError, match=match):
        call()


def test_validation_lists_everything_missing():
    ds = xr.Dataset({"position": (("time", "space", "kp"), np.zeros((1, 3, 1)))})
    with pytest.raises(InputError) as info:
        validate_poses3d(ds)
    msg = str(info.value)
    assert "lacks dims ['keypoint', 'individual']" in msg
    assert "'reprojection_error' is missing" in msg and "'n_views' is missing" in msg


def test_poses3d_keeps_extra_variables_with_extra_dims():
    """Per-camera variables (e.g. view_error) may ride along in a poses3d dataset."""
    ds = make_poses3d(np.zeros((4, 3, 2, 1)), keypoints=["a", "b"], fps=10)
    ds["view_error"] = (("view", "time", "keypoint", "individual"), np.ones((2, 4, 2, 1)))
    out = validate_poses3d(ds)
    assert out.position.dims == ("time", "space", "keypoint", "individual")
    assert set(out.view_error.dims) == {"view", "time", "keypoint", "individual"}
    assert out.view_error.sizes["view"] == 2
