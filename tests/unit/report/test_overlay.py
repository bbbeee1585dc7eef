"""Overlay videos: right frame counts and sizes, and the reprojected skeleton where the truth's
2D projections are — also after a camera dropped frames."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mocap3d.errors import InputError
from mocap3d.report.content import load_calibration, load_trial
from mocap3d.report.overlay import REPROJECTED_BGR, OverlayOptions, draw_overlay, render_overlays
from mocap3d.report.skeleton_view import render_skeleton_view, virtual_camera
from mocap3d.report.video import VideoSink, resolve_codec
from mocap3d.simulate.truth import read_truth
from tests.fixtures.outputs_project import shared_project

SCALE = 2


def read_all(path):
    import cv2

    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return np.array(frames)


def magenta(img: np.ndarray) -> np.ndarray:
    """How magenta each pixel is (0 … 255): min(R, B) − G."""
    b, g, r = (img[..., i].astype(float) for i in range(3))
    return np.clip(np.minimum(r, b) - g, 0, None)


def dot_centre(img: np.ndarray, at: np.ndarray, radius: int = 4) -> np.ndarray | None:
    """Magenta-weighted centroid (x, y) within ``radius`` px of ``at``, None if no magenta."""
    x0, y0 = np.round(at).astype(int)
    ys, xs = np.mgrid[y0 - radius : y0 + radius + 1, x0 - radius : x0 + radius + 1]
    inside = (ys >= 0) & (ys < img.shape[0]) & (xs >= 0) & (xs < img.shape[1])
    w = np.zeros(ys.shape)
    w[inside] = magenta(img)[ys[inside], xs[inside]]
    w[w < 60] = 0
    if w.sum() == 0:
        return None
    return np.array([(w * xs).sum() / w.sum(), (w * ys).sum() / w.sum()])


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    project = shared_project(tmp_path_factory, videos=True)
    session = project.sessions()[0]
    trial = load_trial(project, session, "trial_001")
    out = tmp_path_factory.mktemp("overlay")
    calls = []
    paths = render_overlays(
        out,
        trial,
        bones=[],  # dots only, so that the dots can be measured
        cameras=load_calibration(project),
        options=OverlayOptions(scale=SCALE),
        progress=lambda done, total, what: calls.append((done, total, what)),
    )
    truth = read_truth(session.root / "truth" / "truth.h5").trials["trial_001"]
    return {"paths": paths, "trial": trial, "truth": truth, "calls": calls, "project": project}


@pytest.mark.slow
def test_frame_counts_and_sizes(rendered):
    trial, truth, paths = rendered["trial"], rendered["truth"], rendered["paths"]
    assert set(paths) == {*truth.views, "grid"}
    for i, cam in enumerate(truth.views):
        frames = read_all(paths[cam])
        n_video = int((truth["video_frame"][i] >= 0).sum())
        assert frames.shape == (n_video, 128 * SCALE, 160 * SCALE, 3), cam
    assert (truth["video_frame"][truth.views.index("overhead")] < 0).sum() == 2  # dropped
    grid = read_all(paths["grid"])
    assert grid.shape == (trial.poses2d.sizes["time"], 2 * 128, 2 * 160, 3)
    assert rendered["calls"][-1][0] == rendered["calls"][-1][1] > 0


@pytest.mark.slow
@pytest.mark.parametrize("camera", ["side_left", "overhead"])
def test_reprojected_skeleton_lands_on_the_truth(rendered, camera):
    """Each magenta dot is centred on the keypoint's true projection at the frame's own trigger
    (the overhead camera dropped two frames before the jump: every later frame must still show
    its own trigger's pose, not that of two triggers off)."""
    truth = rendered["truth"]
    v = truth.views.index(camera)
    frames = read_all(rendered["paths"][camera])
    uv, visible = truth["uv"][v], truth["visible"][v].astype(bool)
    video_frame = truth["video_frame"][v]
    at = (uv + 0.5) * SCALE - 0.5  # truth in the magnified overlay's pixels
    errors, moving = [], 0
    for i in range(2, len(video_frame) - 2, 3):
        j = video_frame[i]
        if j < 0:
            continue
        for k in np.flatnonzero(visible[i]):
            others = np.delete(at[i], k, axis=0)[np.delete(visible[i], k)]
            if others.size and np.min(np.linalg.norm(others - at[i, k], axis=1)) < 10:
                continue  # another keypoint's dot nearby would bias the centre
            centre = dot_centre(frames[j], at[i, k])
            assert centre is not None, (camera, i, k)
            errors.append(np.linalg.norm(centre - at[i, k]))
            step = min(np.linalg.norm(at[i + d, k] - at[i, k]) for d in (-2, 2))
            if step > 3:  # fast enough to tell triggers two apart (the drops' offset)
                moving += 1
                for d in (-2, 2):
                    assert errors[-1] < np.linalg.norm(centre - at[i + d, k]), (camera, i, k, d)
    assert len(errors) > 300 and moving > 20
    # Exact without a codec (test_draw_overlay_puts_dots_at_sub_pixel_positions); H.264's
    # half-resolution colour planes move a 5-px dot's colour centre by up to ~1 px here.
    p50, p95, top = np.percentile(errors, [50, 95, 100])
    assert p50 < 0.3 and p95 < 1.0 and top < 2.5, (p50, p95, top)


@pytest.mark.slow
def test_skeleton_view_video(rendered, tmp_path):
    trial = rendered["trial"]
    suffix = ".mp4" if resolve_codec("auto") == "h264" else ".webm"
    bones = rendered["project"].rig().skeleton.bones
    path = render_skeleton_view(tmp_path / f"view{suffix}", trial.poses3d, bones, size=(320, 240))
    frames = read_all(path)
    assert frames.shape == (trial.poses3d.sizes["time"], 240, 320, 3)
    assert frames.std() > 5


def test_draw_overlay_puts_dots_at_sub_pixel_positions():
    frame = np.full((40, 50), 90, np.uint8)
    uv = np.array([[10.25, 12.5], [30.0, 20.75]])
    img = draw_overlay(frame, scale=3, reprojected=uv)
    assert img.shape == (120, 150, 3)
    for p in uv:
        at = (p + 0.5) * 3 - 0.5
        np.testing.assert_allclose(dot_centre(img, at), at, atol=0.15)
    ringed = draw_overlay(frame, tracks=uv, confidence=np.array([0.9, 0.1]))
    assert magenta(ringed).max() == 0  # tracks are never drawn in the skeleton's colour
    assert tuple(REPROJECTED_BGR) == (255, 0, 255)


def test_virtual_camera_frames_every_point(rng):
    pts = rng.normal([0, 0, 30], [40, 20, 15], size=(200, 3))
    cam = virtual_camera(pts, size=(320, 240))
    uv = cam.project(pts)
    assert cam.in_image(uv).all()
    assert np.ptp(uv[:, 0]) > 200 or np.ptp(uv[:, 1]) > 150  # the scene fills the frame
    with pytest.raises(InputError, match="no finite"):
        virtual_camera(np.full((3, 3), np.nan))


def test_video_sink_is_atomic_and_checks_frames(tmp_path):
    suffix = ".mp4" if resolve_codec("auto") == "h264" else ".webm"
    path = tmp_path / f"v{suffix}"
    with pytest.raises(InputError, match="must end in"):
        VideoSink(tmp_path / "v.avi", (32, 32), 10)
    with pytest.raises(RuntimeError, match="stop"), VideoSink(path, (32, 32), 10) as sink:
        sink.write(np.zeros((32, 32, 3), np.uint8))
        raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []
    with VideoSink(path, (32, 32), 10) as sink:
        with pytest.raises(InputError, match="32x32x3 uint8"):
            sink.write(np.zeros((16, 32, 3), np.uint8))
        for k in range(5):
            sink.write(np.full((32, 32, 3), 40 * k, np.uint8))
    assert read_all(path).shape == (5, 32, 32, 3)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_no_videos_is_an_error(tmp_path):
    from mocap3d.datasets import make_poses3d
    from mocap3d.results import TrialResults

    p3 = make_poses3d(np.zeros((3, 3, 1, 1)), keypoints=["a"], fps=100)
    trial = TrialResults("t", 0.0, 1.0, poses3d=p3)
    with pytest.raises(InputError, match="no videos"):
        render_overlays(tmp_path, trial, bones=[])
    assert dataclasses.replace(trial, name="u").name == "u"


@pytest.mark.slow
def test_videos_without_poses(rendered, tmp_path):
    """Before tracking: the cameras side by side, one grid frame per video frame."""
    trial = dataclasses.replace(rendered["trial"], poses2d=None, poses3d=None)
    paths = render_overlays(
        tmp_path, trial, bones=[], options=OverlayOptions(cameras=False, codec="mp4v")
    )
    assert list(paths) == ["grid"] and paths["grid"].suffix == ".mp4"
    n_first = int((rendered["truth"]["video_frame"][0] >= 0).sum())
    assert read_all(paths["grid"]).shape[:2] == (n_first, 2 * 128)
