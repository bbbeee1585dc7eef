"""2D tracks placed at their true times; cameras on different exposure channels; errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mocap3d.datasets import make_poses2d
from mocap3d.errors import InputError
from mocap3d.io.frames import FrameLog
from mocap3d.sync.frames import map_frames
from mocap3d.sync.pulses import clean_pulses
from mocap3d.sync.report import sync_report, write_sync_report
from mocap3d.sync.tracks import common_slots, place_tracks

FPS = 500.0


def _map(t0, n_slots, dropped=(), camera="c"):
    t = t0 + np.arange(n_slots) / FPS
    keep = np.setdiff1d(np.arange(n_slots), dropped)
    log = FrameLog(100 + keep, 50.0 + keep / FPS)
    return map_frames(clean_pulses(t, fps=FPS), keep.size, frame_log=log, camera=camera)


def _poses(maps):
    views = list(maps)
    n = max(m.n_frames for m in maps.values())
    pos = np.full((len(views), n, 2, 1, 1), np.nan)
    for i, v in enumerate(views):
        pos[i, : maps[v].n_frames, 0, 0, 0] = np.arange(maps[v].n_frames)
        pos[i, : maps[v].n_frames, 1, 0, 0] = i
    return make_poses2d(pos, views=views, keypoints=["hip"], fps=FPS)


def test_cameras_with_their_own_exposure_phase_share_one_time_base():
    # b is exposed 40 µs after a and starts 3 triggers later; a drops slot 5
    maps = {"a": _map(1.0, 20, dropped=[5], camera="a"), "b": _map(1.0 + 3 / FPS + 4e-5, 17)}
    grid = common_slots(maps)
    assert grid.size == 20
    out = place_tracks(_poses(maps), maps)
    assert out.attrs["time_reference"] == "session" and out.attrs["clock"] == "master"
    x = out["position"].sel(space="x", keypoint="hip").squeeze("individual")
    a, b = x.sel(view="a").values, x.sel(view="b").values
    assert np.isnan(a[5]) and np.isfinite(a).sum() == 19 and a[6] == 5  # row 5 is slot 6
    assert np.isnan(b[:3]).all() and b[3] == 0 and b[-1] == 16
    exp = out["exposure_time"].sel(view="b").values
    np.testing.assert_allclose(exp[3:], 1.0 + (3 + np.arange(17)) / FPS + 4e-5)
    np.testing.assert_array_equal(out["frame_index"].sel(view="a").values[4:7], [4, -1, 5])


def test_errors_name_the_view():
    maps = {"a": _map(0.0, 10)}
    with pytest.raises(InputError, match=r"no frame map for view\(s\) \['b'\]"):
        place_tracks(_poses({"a": maps["a"], "b": _map(0.0, 10)}), maps)
    poses = _poses(maps)
    longer = make_poses2d(
        np.concatenate([poses["position"].values, np.ones((1, 2, 2, 1, 1))], axis=1),
        views=["a"], keypoints=["hip"], fps=FPS,
    )  # fmt: skip
    with pytest.raises(InputError, match="row 10 but the video has 10 frames"):
        place_tracks(longer, maps)


def test_report_json_and_figure(tmp_path):
    maps = {"t1": {"a": _map(1.0, 200, dropped=[50, 51], camera="a"), "b": _map(1.0, 200)}}
    rep = sync_report(maps, meta={"daq": "x.h5"})
    assert rep["cameras"]["a"]["n_dropped"] == 2 and rep["cameras"]["b"]["n_dropped"] == 0
    assert rep["trials"]["t1"]["a"]["dropped_slots"] == [50, 51]
    assert rep["trials"]["t1"]["a"]["dropped_after_frame"] == [49, 49]
    assert "t1/a" in rep["clocks"] and rep["clocks"]["t1/a"]["residual_rms_us"] < 1
    js, png = write_sync_report(rep, maps, tmp_path)
    assert json.loads(js.read_text())["meta"]["daq"] == "x.h5"
    assert png.read_bytes()[:4] == b"\x89PNG"
