"""2D filters on tracks with known faults: what they fix and what they report."""

from __future__ import annotations

import numpy as np
import pytest

from mocap3d.datasets import make_poses2d
from mocap3d.errors import InputError
from mocap3d.tracking.filters import (
    confidence_filter,
    interpolate_gaps,
    jump_filter,
    left_right_filter,
    median_filter,
)

KP = ["nose", "paw_l", "paw_r"]
N = 60


def _truth() -> np.ndarray:
    """(view=2, time, keypoint=3, 2) smooth tracks: paws 20 px apart, moving steadily."""
    t = np.arange(N, dtype=float)
    base = np.stack([40 + 1.5 * t, 50 + 10 * np.sin(t / 15)], axis=-1)  # (N, 2)
    offsets = np.array([[25.0, 0.0], [0.0, 10.0], [0.0, -10.0]])
    one = base[:, None, :] + offsets[None]
    return np.stack([one, one + np.array([5.0, -3.0])])


def _ds(xy: np.ndarray, conf: np.ndarray | None = None):
    pos = np.transpose(xy, (0, 1, 3, 2))[..., None]  # view, time, space, keypoint, individual
    c = np.ones(xy.shape[:3]) if conf is None else conf
    return make_poses2d(pos, c[..., None], views=["a", "b"], keypoints=KP, fps=100.0)


def _xy(ds) -> np.ndarray:
    return ds.position.isel(individual=0).transpose("view", "time", "keypoint", "space").values


def test_median_filter_reduces_noise_and_keeps_gaps(rng):
    truth = _truth()
    noisy = truth + rng.normal(0, 1.0, truth.shape)
    noisy[0, 20, 1] = np.nan
    out, report = median_filter(_ds(noisy), window=5)
    err_before = np.nanmean(np.linalg.norm(noisy - truth, axis=-1))
    err_after = np.nanmean(np.linalg.norm(_xy(out) - truth, axis=-1))
    assert err_after < 0.75 * err_before
    assert np.isnan(_xy(out)[0, 20, 1]).all()
    moved = np.isfinite(noisy).all(axis=-1) & (np.abs(_xy(out) - noisy).max(axis=-1) > 0)
    assert report.changed == int(moved.sum())
    assert report.changed > 0.5 * np.isfinite(noisy).all(axis=-1).sum()  # most points moved
    assert report.removed == 0 and report.filled == 0
    assert out.attrs["filters"] == ["median"]


def test_confidence_filter_removes_exactly_the_low_points():
    truth = _truth()
    conf = np.ones(truth.shape[:3])
    conf[1, 5:10, 2] = 0.3
    out, report = confidence_filter(_ds(truth, conf), threshold=0.8)
    assert report.changed == report.removed == 5
    assert report.per_keypoint == {"nose": 0, "paw_l": 0, "paw_r": 5}
    assert np.isnan(_xy(out)[1, 5:10, 2]).all()
    with pytest.raises(InputError, match="threshold"):
        confidence_filter(_ds(truth), threshold=1.5)


def test_jump_filter_removes_spikes_and_fills_short_gaps_only():
    truth = _truth()
    bad = truth.copy()
    bad[0, 12, 0] += [30.0, 0.0]  # one-frame jump
    bad[1, 30:32, 1] += [0.0, -25.0]  # two-frame jump
    bad[0, 40:43, 2] = np.nan  # 3-frame gap: filled
    bad[1, 45:53, 0] = np.nan  # 8-frame gap: left alone
    out, report = jump_filter(_ds(bad), max_jump_px=8.0, max_gap=5)
    xy = _xy(out)
    assert report.removed == 0  # every removed jump was filled again
    assert report.filled == 3
    assert report.changed == 3 + 3  # 3 jump points moved back + 3 gap points filled
    fixed = [(0, 12, 0), (1, 30, 1), (1, 31, 1), (0, 40, 2), (0, 41, 2), (0, 42, 2)]
    for v, t, k in fixed:
        assert np.linalg.norm(xy[v, t, k] - truth[v, t, k]) < 0.5
    assert np.isnan(xy[1, 45:53, 0]).all()
    _, rep = jump_filter(_ds(truth), max_jump_px=8.0)
    assert rep.changed == 0


def test_interpolate_gaps_leaves_ends_open():
    truth = _truth()
    bad = truth.copy()
    bad[0, :2, 0] = np.nan  # at the start: not bounded
    bad[0, 10:12, 0] = np.nan
    out, report = interpolate_gaps(_ds(bad), max_gap=2)
    assert report.filled == 2
    assert np.isnan(_xy(out)[0, :2, 0]).all()


def test_left_right_filter_undoes_swaps_and_leaves_clean_tracks():
    truth = _truth()
    swapped = truth.copy()
    swapped[0, 10:15, [1, 2]] = truth[0, 10:15, [2, 1]]
    swapped[1, 50, [1, 2]] = truth[1, 50, [2, 1]]
    out, report = left_right_filter(_ds(swapped), [("paw_l", "paw_r")])
    np.testing.assert_allclose(_xy(out), truth)
    assert report.changed == 2 * (5 + 1)
    assert report.per_keypoint == {"nose": 0, "paw_l": 6, "paw_r": 6}
    _, clean = left_right_filter(_ds(truth), [("paw_l", "paw_r")])
    assert clean.changed == 0
    with pytest.raises(InputError, match="not in data"):
        left_right_filter(_ds(truth), [("paw_l", "hind_r")])


def test_left_right_filter_when_the_first_frames_are_swapped():
    truth = _truth()
    swapped = truth.copy()
    swapped[:, :3, [1, 2]] = truth[:, :3, [2, 1]]
    conf = np.ones(truth.shape[:3])
    conf[:, :3] = 0.6  # the swapped frames are the less confident ones
    out, report = left_right_filter(_ds(swapped, conf), [("paw_l", "paw_r")])
    np.testing.assert_allclose(_xy(out), truth)
    assert report.changed == 2 * 3 * 2
