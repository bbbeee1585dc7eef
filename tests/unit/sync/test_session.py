"""A whole session: DAQ file + videos + frame logs → frame maps, session file, report, CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from mocap3d.datasets import make_poses2d
from mocap3d.errors import InputError
from mocap3d.io.frames import frames_path
from mocap3d.sync.daqfile import read_edges
from mocap3d.sync.session import SyncOptions, sync_project_session
from mocap3d.sync.store import read_frame_maps, write_session_sync
from mocap3d.sync.tracks import place_tracks

from .recording import make_recording
from .signals import RATE


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mocap3d", *args], capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def recording(tmp_path, rng):
    return make_recording(tmp_path, rng, drops={"front": 3, "overhead": 1})


def test_session_frame_times_drops_and_session_file(recording, tmp_path):
    rec = recording
    res = sync_project_session(rec.project, rec.session)
    assert list(res.maps) == ["trial_001", "trial_002"]
    for trial, cams in res.maps.items():
        for cam, fm in cams.items():
            err = np.abs(fm.frame_time - rec.frame_time[trial][cam])
            assert err.max() < 1 / RATE, (trial, cam)
            np.testing.assert_array_equal(fm.dropped_slots, rec.dropped[trial][cam])
    paths = write_session_sync(res, rec.session.derived_path, rec.session.outputs_dir / "sync")
    back = read_frame_maps(paths["session"], "trial_002")
    np.testing.assert_allclose(back["front"].frame_time, res.maps["trial_002"]["front"].frame_time)
    np.testing.assert_array_equal(
        back["front"].slot_status, res.maps["trial_002"]["front"].slot_status
    )
    report = json.loads(paths["report_json"].read_text())
    assert report["cameras"]["front"]["n_dropped"] == 6
    assert report["cameras"]["side_left"]["n_dropped"] == 0
    assert (
        report["trials"]["trial_001"]["overhead"]["dropped_slots"]
        == rec.dropped["trial_001"]["overhead"].tolist()
    )
    assert paths["report_png"].stat().st_size > 10_000


def test_tracks_placed_at_true_times_not_cut_to_the_shortest(recording):
    rec = recording
    res = sync_project_session(rec.project, rec.session)
    maps = res.maps["trial_001"]
    views = list(maps)
    n_max = max(m.n_frames for m in maps.values())
    pos = np.full((len(views), n_max, 2, 1, 1), np.nan)
    for iv, v in enumerate(views):
        pos[iv, : maps[v].n_frames, 0, 0, 0] = np.arange(maps[v].n_frames)  # x = video row
        pos[iv, : maps[v].n_frames, 1, 0, 0] = 1.0
    ds = make_poses2d(pos, views=views, keypoints=["toe"], fps=500.0)
    placed = place_tracks(ds, maps)
    assert placed.sizes["time"] == 400  # every trigger, although 'front' has 397 frames
    front = placed["position"].sel(view="front", space="x", keypoint="toe").squeeze()
    dropped = rec.dropped["trial_001"]["front"]
    assert np.isnan(front.values[dropped]).all()
    assert np.isfinite(front.values).sum() == 397
    np.testing.assert_allclose(
        placed["time"].values, rec.frame_time["trial_001"]["side_left"], atol=1 / RATE
    )
    row = placed["frame_index"].sel(view="front").values
    np.testing.assert_array_equal(front.values[row >= 0], row[row >= 0])


def test_channel_without_pulses_and_missing_channel(tmp_path, rng):
    rec = make_recording(tmp_path, rng, n_trials=1, n_slots=100, exposure=False)
    with pytest.raises(InputError, match=r"cam_exposure.*no pulses"):
        sync_project_session(rec.project, rec.session)
    with pytest.raises(InputError, match=r"no channel 'cam_exposure_2'.*the file has"):
        read_edges(rec.session.raw_daq_path, ["cam_exposure_2"])


def test_more_trials_than_bursts_is_an_error_listing_both(recording):
    rec = recording
    (rec.session.videos_dir / "trial_003").mkdir()
    for cam in rec.rig.camera_names:
        src = rec.session.trial_dir("trial_001") / f"{cam}.mp4"
        (rec.session.videos_dir / "trial_003" / f"{cam}.mp4").write_bytes(src.read_bytes())
    with pytest.raises(InputError, match=r"2 burst\(s\) of exposure pulses but there are 3") as e:
        sync_project_session(rec.project, rec.session)
    assert "burst 1:" in str(e.value) and "trial trial_003" in str(e.value)


def test_missing_frame_logs_and_drops_refused_then_explicit_anchor(tmp_path, rng):
    rec = make_recording(
        tmp_path, rng, n_trials=1, n_slots=200, drops={"front": 2}, with_logs=False
    )
    with pytest.raises(InputError, match=r"'front'.*frames\.csv"):
        sync_project_session(rec.project, rec.session)
    res = sync_project_session(rec.project, rec.session, options=SyncOptions(anchor="start"))
    assert res.maps["trial_001"]["front"].anchor == "start"
    assert any("without a frame after the last frame" in w for w in res.report()["warnings"])


def test_barcode_device_clock_in_session(recording):
    rec = recording
    dev = (rec.barcode - 2.5) / (1 + 12e-6)  # a device 12 ppm slow, started 2.5 s later
    res = sync_project_session(rec.project, rec.session, devices={"amp": dev})
    assert res.clocks["amp"].drift_ppm == pytest.approx(12.0, abs=1.0)
    assert res.clocks["amp"].offset_s == pytest.approx(2.5, abs=1e-4)


@pytest.mark.slow
def test_cli_project_and_explicit_files(recording, tmp_path):
    rec = recording
    out = run_cli("sync", "--project", str(rec.project.root))
    assert out.returncode == 0, out.stderr
    assert "front" in out.stdout and "sync_report.json" in out.stdout
    assert (rec.session.outputs_dir / "sync" / "sync_report.png").is_file()
    video = rec.session.trial_dir("trial_002") / "front.mp4"
    explicit = run_cli(
        "sync", "--daq", str(rec.session.raw_daq_path), "--rig", str(rec.project.rig_path),
        "--video", f"front={video}", "--burst", "1", "--out", str(tmp_path / "x" / "s.h5"),
    )  # fmt: skip
    assert explicit.returncode == 0, explicit.stderr
    assert (tmp_path / "x" / "sync_report.json").is_file()
    # bad input: two bursts, one trial, no --burst → exit 2 with the list, no traceback
    bad = run_cli(
        "sync", "--daq", str(rec.session.raw_daq_path), "--rig", str(rec.project.rig_path),
        "--video", f"front={video}", "--out", str(tmp_path / "y.h5"),
    )  # fmt: skip
    assert bad.returncode == 2 and "burst 1:" in bad.stderr and "Traceback" not in bad.stderr
    frames_path(video).unlink()
    bad = run_cli(
        "sync", "--daq", str(rec.session.raw_daq_path), "--rig", str(rec.project.rig_path),
        "--frames", "front=100", "--burst", "0", "--out", str(tmp_path / "y.h5"),
    )  # fmt: skip
    assert bad.returncode == 2 and "far more exposure pulses than frames" in bad.stderr
    assert not (tmp_path / "y.h5").exists()
    assert run_cli("sync").returncode == 2
    ignored = run_cli("sync", "--project", str(rec.project.root), "--burst", "1")
    assert ignored.returncode == 2 and "--burst: nothing to do with --project" in ignored.stderr


def test_file_read_in_blocks_equals_one_read(recording):
    path = recording.session.raw_daq_path
    one = read_edges(path, ["cam_exposure", "sync_ttl"])
    blocks = read_edges(path, ["cam_exposure", "sync_ttl"], block_samples=7_777)
    for ch in one:  # levels come from a sample of the file: a few µs apart at most
        np.testing.assert_allclose(blocks[ch].rising, one[ch].rising, atol=5e-6)
        np.testing.assert_allclose(blocks[ch].falling, one[ch].falling, atol=5e-6)
        assert blocks[ch].levels.low == pytest.approx(one[ch].levels.low, abs=0.05)
    fixed = read_edges(path, ["cam_exposure"], levels={"cam_exposure": (1.0, 4.0)})
    assert fixed["cam_exposure"].levels.low == 1.0
    np.testing.assert_allclose(fixed["cam_exposure"].rising, one["cam_exposure"].rising, atol=2e-5)
