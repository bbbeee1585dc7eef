"""`mocap3d record` as users run it: a simulated session, Ctrl-C, bad input, --recover."""

from __future__ import annotations

import datetime
import signal
import subprocess
import sys
import time
import tomllib

import pytest

from mocap3d.errors import InputError
from mocap3d.io.frames import read_frame_log
from mocap3d.io.rawdaq import read_raw_daq_info


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """The CLI in a new process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "mocap3d", "record", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def record(capsys, *args: str) -> tuple[int, str, str]:
    """The CLI in this process (faster): exit code, stdout, stderr."""
    from mocap3d.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["record", *args])
    out = capsys.readouterr()
    return int(exit_.value.code or 0), out.out, out.err


@pytest.mark.slow
def test_simulated_session_with_cameras_end_to_end(demo_rig_path, tmp_path):
    project = tmp_path / "proj"
    out = run(
        "--rig", str(demo_rig_path), "--project", str(project), "--session", "s1", "--sim",
        "--duration", "1", "--speed", "0", "--cameras", "sim", "--subject", "m7",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "duration: recorded the requested 1 s" in out.stdout
    assert "sync box count / seen" in out.stdout and "warning" not in out.stdout
    session = project / "sessions" / "s1"
    info = read_raw_daq_info(session / "raw" / "daq.h5")
    assert info.status == "closed" and info.master.n_samples >= 20_000
    manifest = tomllib.loads((session / "raw" / "daq.recording.toml").read_text())
    rec = manifest["recording"]
    assert rec["status"] == "closed" and rec["stop_reason"] == "duration"
    assert manifest["syncbox"]["count"] == manifest["syncbox"]["pulses_seen"] > 0
    frames = manifest["trigger"]["frames_triggered"]
    assert manifest["trigger"]["exposures_seen"]["cam_exposure"] == frames
    assert tomllib.loads((session / "session.toml").read_text())["session"]["subject"] == "m7"
    for cam in ("side_left", "side_right", "front", "overhead"):
        log = read_frame_log(session / "raw" / "videos" / "trial_001" / f"{cam}.frames.csv")
        assert list(log.counter) == list(range(frames))  # one frame per trigger, none dropped
        assert manifest["cameras"][cam]["frames"] == frames


def test_ctrl_c_stops_cleanly_and_keeps_the_data(demo_rig_path, tmp_path):
    project = tmp_path / "proj"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mocap3d", "record", "--rig", str(demo_rig_path),
         "--project", str(project), "--session", "s1", "--sim"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    daq = project / "sessions" / "s1" / "raw" / "daq.h5"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
        try:
            if read_raw_daq_info(daq).master.n_samples >= 10_000:
                break
        except InputError:  # not there yet, or being created
            continue
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "stopping… (Ctrl-C again to abort)" in stderr
    assert "stopped: stopped by Ctrl-C" in stdout and "Traceback" not in stderr
    info = read_raw_daq_info(daq)
    assert info.status == "closed" and info.master.n_samples >= 10_000
    assert [e["kind"] for e in info.events] == [b"start", b"stop"]


def test_bad_input_exits_2_and_leaves_nothing_behind(
    demo_rig_path, seed_rig_path, tmp_path, capsys
):
    project = str(tmp_path / "proj")
    code, _, err = record(capsys, "--project", project)
    assert code == 2 and "needs --project DIR and --session NAME" in err
    code, _, err = record(capsys, "--project", project, "--session", "s1")
    assert code == 2 and "give --rig RIG.toml" in err
    rig = ("--rig", str(demo_rig_path), "--project", project)
    code, _, err = record(capsys, *rig, "--session", "a/b", "--sim")
    assert code == 2 and "invalid session name" in err
    code, _, err = record(capsys, *rig, "--session", "s1", "--sim", "--date", "2025-02-30")
    assert code == 2 and "invalid session date '2025-02-30': use YYYY-MM-DD" in err
    code, _, err = record(capsys, *rig, "--session", "s1", "--sim", "--date", "14.03.2025")
    assert code == 2 and "invalid session date" in err
    code, _, err = record(capsys, *rig, "--session", "s1", "--sim", "--syncbox", "/dev/ttyNOPE")
    assert code == 2 and "'/dev/ttyNOPE' cannot be opened" in err
    assert "Traceback" not in err
    # the seed rig uses NI hardware, and there is no driver here
    code, _, err = record(
        capsys, "--rig", str(seed_rig_path), "--project", project, "--session", "s1"
    )
    if "NI-DAQmx driver not found" not in err:
        pytest.skip("an NI-DAQmx driver is installed here")
    assert code == 2 and "install NI-DAQmx" in err and "--sim" in err
    assert not (tmp_path / "proj").exists()  # every check runs before anything is created


def test_existing_session_and_recover_of_a_closed_file(demo_rig_path, tmp_path, capsys):
    project = tmp_path / "proj"
    args = ("--rig", str(demo_rig_path), "--project", str(project), "--session", "s1", "--sim")
    before = datetime.date.today().isoformat()
    code, out, err = record(capsys, *args, "--duration", "0.2", "--speed", "0", "--no-syncbox")
    after = datetime.date.today().isoformat()
    assert code == 0, err
    manifest = tomllib.loads((project / "sessions" / "s1" / "session.toml").read_text())
    assert manifest["session"]["date"] in (before, after)  # the local date it was recorded
    assert "duration: recorded the requested 0.2 s" in out and "sync box" not in out
    code, _, err = record(capsys, *args, "--duration", "0.2")
    assert code == 2 and "session 's1' already exists" in err
    code, _, err = record(capsys, "--recover", str(project / "sessions" / "s1" / "raw" / "daq.h5"))
    assert code == 2 and "it was closed, nothing to recover" in err


def test_hardware_path_through_grpc_with_a_pty_sync_box(seed_rig_path, tmp_path, capsys):
    """The seed rig (NI backend) via `--grpc` to the fake device service, box on a real pty."""
    pytest.importorskip("grpc", reason="needs nidaqmx[grpc]")
    from mocap3d.acquisition.syncbox_emulator import SyncBoxEmulator
    from tests.unit.acquisition.fake_nidaqmx import FakeDaqServer

    devices = {"Dev1": ("PCIe-6353", 32, 4), "Dev2": ("USB-6002", 8, 1)}
    emulator = SyncBoxEmulator(serial_number="HW1")
    with FakeDaqServer(devices) as server, emulator.serve_pty() as box:
        target = server.address
        code, out, err = record(
            capsys, "--rig", str(seed_rig_path), "--project", str(tmp_path / "p"),
            "--session", "s1", "--grpc", target, "--syncbox", box.port, "--duration", "0.3",
        )  # fmt: skip
    assert code == 0, err
    said = " ".join(err.split())
    assert f"NI-DAQmx via {target}" in said and f"sync box {box.port}" in said
    info = read_raw_daq_info(tmp_path / "p" / "sessions" / "s1" / "raw" / "daq.h5")
    assert info.status == "closed" and info.master.n_samples >= 6000
    assert info.metadata["syncbox"]["ident"] == "mocap3d-syncbox 1 HW1"
    assert emulator.commands[-3:] == ["START 500", "STOP", "COUNT?"]
    # the fake DAQ's test signal is not the box's pulses: the check says so
    assert "sync box emitted" in " ".join(out.split())


def test_cameras_replaying_videos(demo_rig_path, tmp_path, capsys):
    import cv2

    from mocap3d.acquisition.cameras import code_image

    src = tmp_path / "footage"
    src.mkdir()
    for cam in ("side_left", "side_right", "front", "overhead"):
        w = cv2.VideoWriter(str(src / f"{cam}.mp4"), cv2.VideoWriter.fourcc(*"mp4v"), 500.0,
                            (160, 96), False)  # fmt: skip
        for k in range(12):
            w.write(code_image(k, (160, 96)))
        w.release()
    code, out, err = record(
        capsys, "--rig", str(demo_rig_path), "--project", str(tmp_path / "p"), "--session", "s",
        "--sim", "--speed", "0", "--duration", "0.1", "--no-syncbox", "--cameras", f"video:{src}",
        "--trial", "t7", "--date", "2025-03-14",
    )  # fmt: skip
    assert code == 0, err
    manifest = tomllib.loads((tmp_path / "p" / "sessions" / "s" / "session.toml").read_text())
    assert manifest["session"]["date"] == "2025-03-14"  # the date given wins
    videos = tmp_path / "p" / "sessions" / "s" / "raw" / "videos" / "t7"
    for cam in ("side_left", "side_right", "front", "overhead"):
        log = read_frame_log(videos / f"{cam}.frames.csv")
        assert list(log.counter) == list(range(12))  # the 12 frames the footage has
    assert "12 frames, 0 dropped" in out
    code, _, err = record(
        capsys, "--rig", str(demo_rig_path), "--project", str(tmp_path / "p"), "--session", "s2",
        "--sim", "--cameras", "video:/nonexistent",
    )  # fmt: skip
    assert code == 2 and "no video for camera 'side_left'" in err
    assert not (tmp_path / "p" / "sessions" / "s2").exists()
