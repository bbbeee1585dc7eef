"""3D filters: each does what it says, reports how many points it changed, leaves the input."""

from __future__ import annotations

import numpy as np
import pytest

from mocap3d.datasets import make_poses3d
from mocap3d.errors import InputError
from mocap3d.timeseries import run_lengths
from mocap3d.triangulation.filters import (
    drop_fast,
    drop_jumps,
    drop_unreliable,
    interpolate_gaps,
    median_filter,
)


def _poses(points, n_views=None, error=None, fps=100.0):
    """points (T, K, 3) → poses3d."""
    T, K, _ = points.shape
    nv = np.where(np.isfinite(points[..., :1]), 3, 0) if n_views is None else n_views[..., None]
    err = np.full((T, K, 1), 1.0) if error is None else error[..., None]
    return make_poses3d(
        points.transpose(0, 2, 1)[..., None],
        keypoints=[f"k{i}" for i in range(K)],
        n_views=nv,
        reprojection_error=err,
        fps=fps,
    )


def _pts(ds):
    return ds.position.transpose("time", "keypoint", "individual", "space").values[:, :, 0]


@pytest.fixture
def line():
    """Two keypoints moving at 100 mm/s along x (1 mm per frame at 100 fps)."""
    t = np.arange(40, dtype=float)
    pts = np.zeros((40, 2, 3))
    pts[:, 0, 0] = t
    pts[:, 1, 0] = t
    pts[:, 1, 1] = 10.0
    return pts


def test_run_lengths():
    m = np.array([[1, 0], [1, 1], [0, 1], [1, 1], [0, 1]], bool)
    assert run_lengths(m).tolist() == [[2, 0], [2, 4], [0, 4], [1, 4], [0, 4]]
    assert run_lengths(np.zeros((3, 2), bool)).sum() == 0


def test_median_filter_removes_a_spike_and_keeps_gaps(line):
    pts = line.copy()
    pts[10, 0] += [0, 0, 7.0]
    pts[20, 1] = np.nan
    ds = _poses(pts)
    out, rep = median_filter(ds, window=5)
    new = _pts(out)
    np.testing.assert_allclose(new[10, 0], line[10, 0])
    assert np.isnan(new[20, 1]).all() and out.n_views.values[20, 1, 0] == 0
    # on a line at constant speed the centred median only moves: the spike (1), the two
    # frames at each end of both keypoints (8, truncated windows) and the two frames on
    # each side of the gap (4, windows with a NaN)
    assert rep.n_changed == 13 and rep.n_removed == 0 and rep.n_filled == 0
    assert rep.n_points == 80
    assert "median_filter(window=5)" in out.attrs["history"]
    assert np.isfinite(_pts(ds)[20, 0]).all() and _pts(ds)[10, 0, 2] == 7.0  # input untouched


def test_drop_jumps(line):
    pts = line.copy()
    pts[15, 1, 2] += 9.0
    out, rep = drop_jumps(_poses(pts), max_jump_mm=3.0)
    assert np.isnan(_pts(out)[15, 1]).all()
    assert rep.n_removed == rep.n_changed == 1
    assert np.isnan(out.reprojection_error.values[15, 1, 0])


def test_drop_fast(line):
    pts = line.copy()
    pts[5, 0, 1] += 30.0  # 3000 mm/s in and out
    out, rep = drop_fast(_poses(pts), max_speed=1000.0)
    assert np.isnan(_pts(out)[5, 0]).all() and rep.n_removed == 1
    _, rep2 = drop_fast(_poses(line), max_speed=1000.0)  # 100 mm/s: nothing to drop
    assert rep2.n_changed == 0
    with pytest.raises(InputError, match="frame rate"):
        drop_fast(_poses(line).drop_attrs(), max_speed=10)


def test_drop_unreliable(line):
    nv = np.full((40, 2), 3)
    nv[3, 0] = 1
    err = np.ones((40, 2))
    err[7, 1] = 12.0
    out, rep = drop_unreliable(_poses(line, nv, err), min_views=2, max_error_px=5.0)
    assert np.isnan(_pts(out)[3, 0]).all() and np.isnan(_pts(out)[7, 1]).all()
    assert rep.n_removed == 2


@pytest.mark.parametrize("method", ["linear", "cubic"])
def test_interpolate_short_gaps_only(line, method):
    pts = line.copy()
    pts[10:13, 0] = np.nan  # 3 frames: filled
    pts[20:30, 1] = np.nan  # 10 frames: too long
    pts[:2, 1] = np.nan  # at the start: never filled
    out, rep = interpolate_gaps(_poses(pts), max_gap=5, method=method)
    new = _pts(out)
    np.testing.assert_allclose(new[10:13, 0], line[10:13, 0], atol=1e-9)
    assert np.isnan(new[20:30, 1]).all() and np.isnan(new[:2, 1]).all()
    assert rep.n_filled == rep.n_changed == 3
    assert (out.n_views.values[10:13, 0, 0] == 0).all()  # no camera saw them


def test_bad_parameters(line):
    ds = _poses(line)
    with pytest.raises(InputError, match="odd"):
        median_filter(ds, window=4)
    with pytest.raises(InputError, match="max_gap"):
        interpolate_gaps(ds, max_gap=0)
    with pytest.raises(InputError, match="max_jump_mm"):
        drop_jumps(ds, max_jump_mm=0)
