"""A tiny simulated project: layout, determinism, and every fault where the truth says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mocap3d.camera import CameraGroup
from mocap3d.errors import InputError
from mocap3d.io.dlc import read_collected_data, read_dlc_tracks
from mocap3d.io.frames import read_frame_log
from mocap3d.io.project import open_project
from mocap3d.io.rawdaq import read_stream
from mocap3d.simulate.faults import FAULT_MISSING, FAULT_OUTLIER, FAULT_SWAP, Faults
from mocap3d.simulate.project import simulate_project
from mocap3d.simulate.render import RenderOptions, read_video
from mocap3d.simulate.session import SessionOptions
from mocap3d.simulate.truth import read_truth

FAULTS = Faults(
    dropped_frames=2,
    ttl_missing=1,
    ttl_extra=1,
    syncbox_offset_s=3.0,
    syncbox_drift_ppm=-50.0,
    track_outliers=0.05,
    track_swaps=0.1,
    track_missing=0.05,
)
OPTIONS = SessionOptions(
    duration_s=0.04,
    gap_s=0.3,
    lead_in_s=0.3,
    n_labelled=4,
    dlc_tracks=True,
    render=RenderOptions(supersample=1),
)


def _simulate(root: Path, seed: int = 7, **kw) -> Path:
    simulate_project(
        root,
        rig="demo",
        groups=["control"],
        trials_per_subject=2,
        seed=seed,
        scale=0.2,
        options=kw.pop("options", OPTIONS),
        faults=FAULTS,
        **kw,
    )
    return root


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory) -> Path:
    return _simulate(tmp_path_factory.mktemp("sim") / "proj")


def _files(root: Path) -> dict[str, bytes]:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


def test_layout_is_a_valid_project(project_dir):
    project = open_project(project_dir)
    rig = project.rig()
    assert rig.cameras[0].resolution == (64, 52)
    (session,) = project.sessions()
    assert session.group == "control" and session.trials() == ["trial_001", "trial_002"]
    assert session.raw_daq_path.is_file()
    truth_cal = CameraGroup.load(project_dir / "truth" / "calibration.toml")
    truth = read_truth(session.root / "truth" / "truth.h5")
    assert truth_cal.allclose(truth.cameras)
    assert truth_cal.names == rig.camera_names
    tt = truth.trials["trial_001"]
    assert tt.poses3d().position.shape == (20, 3, 10, 1)
    assert tt.poses2d().position.shape == (4, 20, 2, 10, 1)
    assert set(tt.events) >= {"onset", "takeoff", "landing"}
    assert tt.attrs["jump_height_mm"] > 10
    assert set(tt.emg_onsets()) == {"emg_ga", "emg_vl", "emg_bf"}  # TA bursts only on landing


def test_dropped_frames_are_missing_from_video_and_frame_log(project_dir):
    project = open_project(project_dir)
    session = project.sessions()[0]
    truth = read_truth(session.root / "truth" / "truth.h5")
    cam = truth.attrs["dropped_camera"]
    v = truth.cameras.index(cam)
    for trial, tt in truth.trials.items():
        dropped = np.flatnonzero(tt["video_frame"][v] < 0)
        assert len(dropped) == 2
        video = session.video_path(trial, cam)
        assert len(read_video(video)) == 18
        log = read_frame_log(video.with_name(f"{cam}.frames.csv"))
        jumps = np.flatnonzero(np.diff(log.counter) != 1)
        assert len(log) == 18 and len(jumps) >= 1
        assert np.array_equal(np.setdiff1d(np.arange(20), dropped), log.counter - log.counter[0])
        other = truth.cameras.names[0]
        assert len(read_video(session.video_path(trial, other))) == 20


def test_daq_shows_every_pulse_but_the_missing_plus_the_extra(project_dir):
    session = open_project(project_dir).sessions()[0]
    truth = read_truth(session.root / "truth" / "truth.h5")
    ttl = read_stream(session.raw_daq_path, "fast", channels=["cam_exposure"]).values[:, 0]
    edges = np.flatnonzero((ttl[1:] > 2.5) & (ttl[:-1] <= 2.5)) + 1
    expected = []
    for tt in truth.trials.values():
        keep = np.setdiff1d(np.arange(20), tt["ttl_missing"])
        expected += tt["frame_sample"][keep].tolist()
    assert sum(len(tt["ttl_missing"]) for tt in truth.trials.values()) == 1
    assert len(truth.ttl_extra) == 1
    assert len(edges) == len(expected) + 1
    assert set(expected) < set(edges.tolist())
    sync = read_stream(session.raw_daq_path, "fast", channels=["sync_ttl"]).values[:, 0]
    sync_edges = np.flatnonzero((sync[1:] > 2.5) & (sync[:-1] <= 2.5)) + 1
    master = 3.0 + truth.syncbox_box_time_s * (1 - 50e-6)
    np.testing.assert_allclose(truth.syncbox_master_time_s, master)
    np.testing.assert_allclose(sync_edges / 20_000, master, atol=1 / 20_000)


def test_tracking_faults_are_where_the_truth_says(project_dir):
    session = open_project(project_dir).sessions()[0]
    truth = read_truth(session.root / "truth" / "truth.h5")
    tt = truth.trials["trial_002"]
    fault, tracks, uv = tt["track_fault"], tt["tracks"], tt["uv"]
    assert {FAULT_OUTLIER, FAULT_SWAP, FAULT_MISSING} <= set(np.unique(fault).tolist())
    out = fault == FAULT_OUTLIER
    assert np.all(np.linalg.norm(tracks[out] - uv[out], axis=-1) >= 15.0 - 5.0)
    assert np.all(np.isnan(tracks[fault == FAULT_MISSING]))
    clean = (fault == 0) & tt["visible"].astype(bool)
    assert np.median(np.linalg.norm(tracks[clean] - uv[clean], axis=-1)) < 2.0
    # the DeepLabCut-format copy holds the same numbers
    cam = truth.cameras.names[0]
    dlc = read_dlc_tracks(session.root / "truth" / "tracks" / "trial_002" / f"{cam}.h5", view=cam)
    np.testing.assert_allclose(
        dlc.position.sel(view=cam, individual="individual_0").transpose(
            "time", "keypoint", "space"
        ),
        tracks[0],
    )


def test_labelled_frames_match_the_truth(project_dir):
    session = open_project(project_dir).sessions()[0]
    truth = read_truth(session.root / "truth" / "truth.h5")
    tt = truth.trials["trial_001"]
    cam = truth.cameras.names[0]
    folder = session.root / "truth" / "labeled-data" / f"{session.name}_trial_001_{cam}"
    labels = read_collected_data(folder / "CollectedData_sim.h5")
    frames = [int(Path(p).stem[3:]) for p in labels.images]
    assert frames == tt["labelled_frames"].tolist() and len(frames) == 4
    assert all((folder / Path(p).name).is_file() for p in labels.images)
    vis = tt["visible"][0][frames].astype(bool)
    np.testing.assert_allclose(labels.xy[vis], tt["uv"][0][frames][vis])
    assert np.all(np.isnan(labels.xy[~vis]))


def test_same_seed_same_bytes_other_seed_other_bytes(project_dir, tmp_path):
    again = _files(_simulate(tmp_path / "proj"))
    first = _files(project_dir)
    assert again.keys() == first.keys()
    different = [k for k in first if first[k] != again[k]]
    assert different == [], different
    other = _files(_simulate(tmp_path / "other", seed=8))
    for key in (
        "sessions/mouse01/raw/daq.h5",
        "sessions/mouse01/raw/videos/trial_001/front.mp4",
        "sessions/mouse01/truth/truth.h5",
        "truth/calibration.toml",
    ):
        assert other[key] != first[key], key


def test_cli_simulate_trial(tmp_path):
    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "mocap3d", "simulate", *args],
            capture_output=True,
            text=True,
            timeout=300,
        )

    quick = ("--scale", "0.2", "--duration", "0.02", "--no-video")
    out = run("trial", str(tmp_path / "p"), *quick, "--faults", "clock,ttl", "--board-frames", "0")
    assert out.returncode == 0, out.stderr
    assert "mouse01 (control)" in out.stdout
    assert (tmp_path / "p" / "sessions" / "mouse01" / "raw" / "daq.h5").is_file()
    assert list((tmp_path / "p" / "calibration" / "footage").iterdir()) == []
    again = run("trial", str(tmp_path / "p"))
    assert again.returncode == 2 and "already a project" in again.stderr
    bad = run("project", str(tmp_path / "q"), "--faults", "dropped,gremlins")
    assert bad.returncode == 2 and "gremlins" in bad.stderr
    bad_group = run("project", str(tmp_path / "r"), "--groups", "control,sleepy", "--no-video")
    assert bad_group.returncode == 2 and "sleepy" in bad_group.stderr
    assert not (tmp_path / "r").exists()  # nothing half-made
    bad_frames = run("trial", str(tmp_path / "r"), "--board-frames", "-1")
    assert bad_frames.returncode == 2 and "--board-frames must be ≥ 0" in bad_frames.stderr
    # a wrong group leaves nothing behind, so the corrected command just works
    sham = run("trial", str(tmp_path / "s"), *quick, "--group", "sham")
    assert sham.returncode == 2 and "unknown jump group 'sham'" in sham.stderr
    assert not (tmp_path / "s").exists()
    fixed = run("trial", str(tmp_path / "s"), *quick, "--group", "perturbed", "--board-frames", "2")
    assert fixed.returncode == 0, fixed.stderr
    assert "mouse01 (perturbed)" in fixed.stdout and "calibrate --project" in fixed.stdout
    footage = tmp_path / "s" / "calibration" / "footage"
    assert len(list((footage / "front").glob("frame_*.png"))) == 2
    assert (footage / "board_truth.npz").is_file()


def test_a_failed_simulation_removes_what_it_made(tmp_path):
    def broken_hook(folder, rig, cameras, seed):
        (folder / "side_left.mp4").write_bytes(b"half a video")
        raise RuntimeError("renderer crashed")

    quick = SessionOptions(duration_s=0.02, videos=False, n_labelled=0)
    new = tmp_path / "new"
    with pytest.raises(RuntimeError, match="renderer crashed"):
        simulate_project(new, groups=["control"], trials_per_subject=1, scale=0.2,
                         options=quick, board_footage=broken_hook)  # fmt: skip
    assert not new.exists()
    # a folder that was there before stays, with what it held, and only that
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(RuntimeError, match="renderer crashed"):
        simulate_project(mine, groups=["control"], trials_per_subject=1, scale=0.2,
                         options=quick, board_footage=broken_hook)  # fmt: skip
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    # bad input is refused before anything is created
    with pytest.raises(InputError, match="unknown jump group"):
        simulate_project(new, groups=["sham"], options=quick)
    with pytest.raises(InputError, match="scale must be > 0"):
        simulate_project(new, scale=0.0, options=quick)
    assert not new.exists()
