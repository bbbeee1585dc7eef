"""Detection in footage: accuracy vs the simulator's truth, stride, cache, bad footage."""

from __future__ import annotations

import os

import numpy as np
import pytest

from mocap3d.calibration import detect as detect_module
from mocap3d.calibration.detect import BoardDetector, detect_cameras
from mocap3d.calibration.footage import open_footage
from mocap3d.calibration.observations import board_observations, frame_keys_from_sync_table
from mocap3d.errors import InputError
from tests.unit.calibration.helpers import board_images, write_images


def test_detections_match_truth(demo_footage, demo_rig):
    dets = detect_cameras(demo_footage["paths"], demo_rig.board)
    truth = demo_footage["truth"]
    errs = []
    for c, (name, det) in enumerate(dets.items()):
        assert det.camera == name and det.image_size == (320, 256)
        assert det.n_examined == 80
        t = truth.corners[c][det.frames]
        found = np.isfinite(det.corners[..., 0])
        assert not np.any(found & ~np.isfinite(t[..., 0])), "a corner the camera cannot see"
        assert np.all(found.sum(axis=1) >= 6)
        errs.append(np.linalg.norm(det.corners - t, axis=-1)[found])
    errs = np.concatenate(errs)
    assert errs.size > 400
    assert np.median(errs) < 0.1
    assert np.percentile(errs, 95) < 0.5


def test_stride_and_video_input(demo_footage, demo_rig, tmp_path):
    from mocap3d.simulate.board_footage import write_frames

    name = "side_left"
    video = write_frames(demo_footage["frames"][name], tmp_path / name, fmt="mp4")
    det = detect_cameras({name: video}, demo_rig.board, stride=3)[name]
    assert det.n_examined == 27  # frames 0, 3, …, 78
    assert np.all(det.frames % 3 == 0) and det.n_views > 0
    png = detect_cameras({name: demo_footage["paths"][name]}, demo_rig.board)[name]
    common = np.intersect1d(det.frames, png.frames)
    assert common.size > 0
    # mp4 compression moves corners a little
    a = det.corners[np.searchsorted(det.frames, common)]
    b = png.corners[np.searchsorted(png.frames, common)]
    both = np.isfinite(a[..., 0]) & np.isfinite(b[..., 0])
    assert np.median(np.linalg.norm(a - b, axis=-1)[both]) < 0.25


def test_second_run_reads_the_cache(demo_footage, demo_rig, tmp_path, monkeypatch):
    paths = dict(list(demo_footage["paths"].items())[:2])
    first = detect_cameras(paths, demo_rig.board, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 2

    def boom(self, gray):
        raise AssertionError("detected again instead of reading the cache")

    monkeypatch.setattr(BoardDetector, "detect", boom)
    second = detect_cameras(paths, demo_rig.board, cache_dir=tmp_path)
    for name in paths:
        np.testing.assert_array_equal(first[name].corners, second[name].corners)
        np.testing.assert_array_equal(first[name].frames, second[name].frames)
    # another stride is another cache entry: detects again
    with pytest.raises(AssertionError, match="detected again"):
        detect_cameras(paths, demo_rig.board, cache_dir=tmp_path, stride=2)


def test_changed_footage_invalidates_the_cache(demo_rig, tmp_path):
    folder = tmp_path / "cam"
    write_images(folder, board_images(demo_rig.board, n=3))
    cache = tmp_path / "cache"
    a = detect_cameras({"cam": folder}, demo_rig.board, cache_dir=cache)["cam"]
    assert a.n_views == 3
    first = sorted(folder.iterdir())[0]
    first.unlink()
    b = detect_cameras({"cam": folder}, demo_rig.board, cache_dir=cache)["cam"]
    assert b.n_examined == 2 and b.n_views == 2
    assert len(list(cache.glob("*.npz"))) == 2


def test_parallel_equals_serial(demo_footage, demo_rig):
    paths = dict(list(demo_footage["paths"].items())[:2])
    one = detect_cameras(paths, demo_rig.board, workers=1)
    two = detect_cameras(paths, demo_rig.board, workers=3)
    for name in paths:
        np.testing.assert_array_equal(one[name].corners, two[name].corners)


def test_inverted_board(demo_rig, tmp_path):
    spec = demo_rig.board.model_copy(update={"inverted": True})
    write_images(tmp_path / "cam", board_images(spec, n=2))
    det = detect_cameras({"cam": tmp_path / "cam"}, spec)["cam"]
    assert det.n_views == 2


def test_observations_pair_frames_by_keys(demo_footage, demo_rig):
    dets = detect_cameras(demo_footage["paths"], demo_rig.board)
    obs = board_observations(dets)
    assert obs.dims == ("view", "frame", "corner", "space")
    assert list(obs.coords["view"].values) == list(dets)
    # shift one camera's keys: its frames no longer line up with the others
    name = "front"
    keys = {name: np.arange(80) + 1000}
    shifted = board_observations(dets, frame_keys=keys)
    cam = shifted.sel(view=name)
    seen = np.isfinite(cam.values[..., 0]).any(axis=1)
    assert np.all(shifted.coords["frame"].values[seen] >= 1000)
    with pytest.raises(InputError, match="frame keys cover 5 frames"):
        board_observations(dets, frame_keys={name: np.arange(5)})


def test_sync_table_keys(tmp_path):
    table = tmp_path / "timestamps.csv"
    table.write_text(
        "sync_index,cam_id,frame_time\n7,0,1.00\n7,1,1.01\n8,1,1.20\n8,0,1.21\n9,0,1.40\n9,1,1.38\n"
    )
    keys = frame_keys_from_sync_table(table, {"a": 0, "b": 1})
    np.testing.assert_array_equal(keys["a"], [7, 8, 9])
    np.testing.assert_array_equal(keys["b"], [7, 8, 9])
    with pytest.raises(InputError, match="no rows for camera 'c'"):
        frame_keys_from_sync_table(table, {"c": 5})


# ---------------------------------------------------------------------------- bad footage


def test_corrupted_video_names_camera_and_fix(demo_rig, tmp_path):
    bad = tmp_path / "side_left.mp4"
    bad.write_bytes(os.urandom(4000))
    with pytest.raises(InputError, match=r"camera 'side_left': cannot read video .*re-export"):
        detect_cameras({"side_left": bad}, demo_rig.board)


def test_missing_and_empty_footage(demo_rig, tmp_path):
    with pytest.raises(InputError, match=r"camera 'a': footage .* does not exist"):
        open_footage("a", tmp_path / "nope.mp4")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"camera 'b': folder .* holds no images"):
        open_footage("b", tmp_path / "empty")


def test_mixed_image_sizes_name_camera_and_file(demo_rig, tmp_path):
    import cv2

    folder = tmp_path / "front"
    write_images(folder, board_images(demo_rig.board, n=3))
    odd = cv2.imread(str(folder / "img_001.png"), 0)
    cv2.imwrite(str(folder / "img_001.png"), cv2.resize(odd, (200, 160)))
    with pytest.raises(InputError, match=r"camera 'front': image .*img_001.png is 200×160 but"):
        detect_cameras({"front": folder}, demo_rig.board)


def test_unreadable_image(demo_rig, tmp_path):
    folder = tmp_path / "cam"
    write_images(folder, board_images(demo_rig.board, n=2))
    (folder / "img_009.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match=r"camera 'cam': cannot read image .*img_009.png"):
        detect_cameras({"cam": folder}, demo_rig.board)


def test_camera_without_board_fails_and_writes_no_cache(demo_rig, tmp_path):
    good, blank = tmp_path / "good", tmp_path / "blank"
    write_images(good, board_images(demo_rig.board, n=2))
    write_images(blank, [np.full((256, 320), 90, np.uint8)] * 3)
    cache = tmp_path / "cache"
    with pytest.raises(InputError, match=r"camera 'blank' .*no ChArUco corners .*3 frames"):
        detect_cameras({"good": good, "blank": blank}, demo_rig.board, cache_dir=cache)
    assert not cache.exists() or not any(cache.iterdir())


def test_chunking_covers_every_frame(demo_rig, tmp_path, monkeypatch):
    monkeypatch.setattr(detect_module, "_CHUNK", 2)
    write_images(tmp_path / "cam", board_images(demo_rig.board, n=5))
    det = detect_cameras({"cam": tmp_path / "cam"}, demo_rig.board)["cam"]
    np.testing.assert_array_equal(det.frames, np.arange(5))
