"""Spatiotemporal triangulation: beats per-frame methods, keeps bones rigid, has no seams."""

from __future__ import annotations

import numpy as np
import pytest

from mocap3d.errors import InputError
from mocap3d.triangulation.dlt import triangulate_dlt
from mocap3d.triangulation.pipeline import triangulate_frames
from mocap3d.triangulation.robust import triangulate_robust
from mocap3d.triangulation.spatiotemporal import (
    SpatiotemporalOptions,
    estimate_bones,
    fill_gaps,
    refine,
)
from tests.fixtures.synthetic_tracks import observe


def _bones(motion):
    idx = {k: i for i, k in enumerate(motion.keypoints)}
    return [(idx[a], idx[b]) for a, b in motion.bones]


def _err(points, truth):
    return np.linalg.norm(points - truth, axis=-1)


@pytest.fixture(scope="module")
def noisy(demo_group, motion):
    """1 px noise, 5 % missing, 5 % outliers (20–80 px) whose scores are *not* used."""
    return observe(demo_group, motion.points, seed=11)


def test_beats_dlt_and_keeps_bones(demo_group, motion, noisy):
    uv = noisy.uv
    init = triangulate_robust(demo_group, uv)
    res = refine(demo_group, uv, init.position, fps=motion.fps, bones=_bones(motion))
    e_st = _err(res.position, motion.points)
    clean = np.where(noisy.outlier[..., None], np.nan, uv)  # DLT given the outliers' truth
    e_dlt = _err(triangulate_dlt(demo_group, clean).position, motion.points)
    assert np.isfinite(e_st).all()
    # unfiltered outliers: still far below a per-frame DLT that was told where they are
    assert np.median(e_st) < 0.2 < 0.5 * np.nanmedian(e_dlt)
    assert np.percentile(e_st, 95) < 0.5 * np.nanpercentile(e_dlt, 95)
    # bones: the true lengths, nearly constant
    b = np.array(_bones(motion))
    lengths = np.linalg.norm(res.position[:, b[:, 0]] - res.position[:, b[:, 1]], axis=-1)
    dlt_pts = triangulate_dlt(demo_group, clean).position
    dlt_lengths = np.linalg.norm(dlt_pts[:, b[:, 0]] - dlt_pts[:, b[:, 1]], axis=-1)
    np.testing.assert_allclose(np.median(lengths, axis=0), motion.bone_lengths, atol=0.15)
    assert (lengths.std(axis=0) < 0.25 * np.nanstd(dlt_lengths, axis=0)).all()
    # outliers are not used
    assert res.used[noisy.outlier].mean() < 0.01


def test_given_bone_lengths_are_respected(demo_group, motion, noisy):
    init = triangulate_robust(demo_group, noisy.uv).position
    wrong = motion.bone_lengths * 1.1
    res = refine(
        demo_group,
        noisy.uv,
        init,
        fps=motion.fps,
        bones=_bones(motion),
        bone_lengths=wrong,
        options=SpatiotemporalOptions(bone_sd_mm=0.05),
    )
    b = np.array(_bones(motion))
    lengths = np.linalg.norm(res.position[:, b[:, 0]] - res.position[:, b[:, 1]], axis=-1)
    np.testing.assert_allclose(np.median(lengths, axis=0), wrong, rtol=0.01)


def test_chunks_leave_no_seams(demo_group, motion, noisy):
    """Solved in 100-frame chunks, the trajectory equals the one solved in one piece."""
    uv, conf = noisy.uv, noisy.confidence

    def read(a, b):
        return uv[:, a:b], conf[:, a:b]

    kwargs = dict(method="spatiotemporal", fps=motion.fps, bones=_bones(motion), min_score=0)
    whole = np.concatenate(
        [
            c.result.position
            for c in triangulate_frames(demo_group, read, 600, chunk_frames=600, **kwargs)
        ]
    )
    chunks = list(triangulate_frames(demo_group, read, 600, chunk_frames=100, **kwargs))
    assert [c.start for c in chunks] == list(range(0, 600, 100))
    pieces = np.concatenate([c.result.position for c in chunks])
    # equal up to the solvers' tolerance (5 % of the method's 0.2 mm error)...
    assert np.abs(pieces - whole).max() < 0.01
    # ...and no step where one chunk hands over to the next (1 % of the error)
    seams = np.arange(100, 600, 100)
    step = np.abs(np.diff(pieces - whole, axis=0)).max(axis=(1, 2))
    assert step[seams - 1].max() < 0.002
    # no jump in velocity at the seams either
    accel = np.linalg.norm(np.diff(pieces, 2, axis=0), axis=-1)
    assert accel[seams - 1].max() < 3 * np.percentile(accel, 99)


def test_gaps_are_bridged_or_dropped(demo_group, motion):
    obs = observe(demo_group, motion.points, seed=2, outliers=0.0, missing=0.0)
    uv = obs.uv.copy()
    uv[:, 100:105, 0] = np.nan  # nose unseen for 5 frames: bridged
    uv[:, 300:340, 1] = np.nan  # eye unseen for 40 frames: dropped
    chunk = next(
        triangulate_frames(
            demo_group,
            lambda a, b: (uv[:, a:b], obs.confidence[:, a:b]),
            600,
            method="spatiotemporal",
            fps=motion.fps,
            bones=_bones(motion),
            chunk_frames=600,
            max_gap=10,
        )
    )
    pos = chunk.result.position
    assert _err(pos[100:105, 0], motion.points[100:105, 0]).max() < 1.0
    assert np.isnan(pos[300:340, 1]).all() and np.isfinite(pos[299, 1]).all()
    assert (chunk.result.n_views[300:340, 1] == 0).all()


def test_needs_a_frame_rate(demo_group, noisy):
    with pytest.raises(InputError, match="frame rate"):
        next(
            triangulate_frames(
                demo_group, lambda a, b: (noisy.uv[:, a:b], noisy.confidence[:, a:b]), 600
            )
        )


def test_options_are_checked():
    with pytest.raises(InputError, match="accel_sd"):
        SpatiotemporalOptions(accel_sd=-1)


def test_fill_gaps_and_bone_lengths():
    X = np.full((5, 2, 3), np.nan)
    X[[0, 4], 0] = [[0, 0, 0], [4, 8, 0]]
    out = fill_gaps(X)
    np.testing.assert_allclose(out[:, 0, 1], [0, 2, 4, 6, 8])
    np.testing.assert_allclose(out[:, 1], out[:, 0])  # no data: follows the other points
    Y = np.zeros((3, 2, 3))
    Y[:, 1, 0] = [1.0, 2.0, np.nan]
    np.testing.assert_allclose(estimate_bones(Y, np.array([[0, 1]]))[0], [1.5])


def test_simulated_mouse_jump(demo_group, demo_rig):
    """The simulator's jump (push-off and landing up to ~700 m/s² at the toes; the eye–forepaw
    "bone" stretches by several mm): smoothing and bones must not blur or bend it."""
    from mocap3d.simulate.jump import Jump
    from mocap3d.simulate.jump_params import CONTROL, draw_trial

    jump = Jump(draw_trial(CONTROL, seed=3))
    t = np.arange(0.0, 0.85, 1 / 500)
    truth = jump.keypoints(t, demo_rig.keypoints)
    obs = observe(demo_group, truth, seed=4)
    idx = {k: i for i, k in enumerate(demo_rig.keypoints)}
    bones = [(idx[a], idx[b]) for a, b in demo_rig.skeleton.bones]
    kwargs = dict(fps=500.0, min_score=0.0, weighted=False, chunk_frames=len(t))

    def run(method):
        read = lambda a, b: (obs.uv[:, a:b], obs.confidence[:, a:b])  # noqa: E731
        ch = next(
            triangulate_frames(demo_group, read, len(t), method=method, bones=bones, **kwargs)
        )
        return _err(ch.result.position, truth)

    st, rob = run("spatiotemporal"), run("robust")
    assert np.median(st) < 0.25 and np.nanmedian(rob) > 2 * np.median(st)
    assert np.percentile(st, 95) < 0.6 * np.nanpercentile(rob, 95)
    events = (np.abs(t - jump.events.takeoff) < 0.02) | (np.abs(t - jump.events.landing) < 0.02)
    assert np.percentile(st[events], 95) < 0.8  # mm, around takeoff and landing
