"""A small synthetic project session: raw DAQ file, trial videos and frame logs, with truth."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mocap3d.io.frames import FrameLog, frames_path, write_frame_log
from mocap3d.io.project import Project, Session, create_project
from mocap3d.io.rawdaq import ChannelInfo, RawDaqWriter, StreamInfo
from mocap3d.resources import builtin_rig_path
from mocap3d.rig import Rig
from mocap3d.sync.barcode import make_barcode

from .signals import FPS, RATE, camera_trial, ttl_channel

FAST = ["emg_ga", "emg_ta", "emg_vl", "emg_bf", "cam_exposure", "sync_ttl"]


@dataclass
class Recording:
    project: Project
    session: Session
    rig: Rig
    frame_time: dict[str, dict[str, np.ndarray]]  # trial -> camera -> true frame times
    dropped: dict[str, dict[str, np.ndarray]]  # trial -> camera -> dropped slots
    barcode: np.ndarray  # true barcode onsets (master clock)


def write_video(path: Path, n_frames: int) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (16, 16), False)
    for i in range(n_frames):
        w.write(np.full((16, 16), i % 250, np.uint8))
    w.release()


def make_recording(
    root: Path,
    rng: np.random.Generator,
    *,
    n_trials: int = 2,
    n_slots: int = 400,
    drops: dict[str, int] | None = None,
    with_logs: bool = True,
    exposure: bool = True,
) -> Recording:
    """Trials of ``n_slots`` triggers 1.5 s apart; camera ``c`` drops ``drops[c]`` frames."""
    project = create_project(root / "project", builtin_rig_path("demo"), name="synctest")
    session = project.new_session("s1", subject="m1")
    rig = project.rig()
    cams = rig.camera_names
    drops = drops or {}
    starts = 0.5 + np.arange(n_trials) * (n_slots / FPS + 1.5)
    duration = float(starts[-1] + n_slots / FPS + 0.5)
    n = int(duration * RATE)
    rising, falling = [], []
    truth_t: dict[str, dict[str, np.ndarray]] = {}
    truth_d: dict[str, dict[str, np.ndarray]] = {}
    for i, t0 in enumerate(starts):
        trial = f"trial_{i + 1:03d}"
        base = camera_trial(rng, t_start=float(t0) + rng.uniform(0, 1 / RATE), n_slots=n_slots)
        rising.append(base.rising)
        falling.append(base.falling)
        truth_t[trial], truth_d[trial] = {}, {}
        for cam in cams:
            drop = np.sort(rng.choice(np.arange(2, n_slots - 2), drops.get(cam, 0), replace=False))
            keep = np.setdiff1d(np.arange(n_slots), drop)
            video = session.trial_dir(trial) / f"{cam}.mp4"
            write_video(video, keep.size)
            if with_logs:
                log = FrameLog(5000 + keep, base.log.timestamp_s[0] + keep / FPS)
                write_frame_log(frames_path(video), log)
            truth_t[trial][cam] = base.slot_time[keep]
            truth_d[trial][cam] = drop
    barcode = make_barcode(
        duration - 0.5, seed=rng, t_start_s=0.1, min_interval_s=0.05, max_interval_s=0.25
    )
    signals = {c: rng.normal(0, 0.01, n) for c in FAST}
    if exposure:
        signals["cam_exposure"] = ttl_channel(
            np.concatenate(rising), np.concatenate(falling), n_samples=n, rng=rng
        )
    signals["sync_ttl"] = ttl_channel(barcode, barcode + 0.01, n_samples=n, rng=rng)
    streams = [
        StreamInfo("fast", RATE, tuple(ChannelInfo(c) for c in FAST)),
        StreamInfo("slow", 10_000.0, (ChannelInfo("force_z", "N", 0.05),)),
    ]
    with RawDaqWriter(session.raw_daq_path, streams, master_stream="fast") as w:
        block = np.stack([signals[c] for c in FAST], axis=1).astype(np.float32)
        for start in range(0, n, 1 << 16):
            w.append("fast", block[start : start + (1 << 16)])
        w.append("slow", np.zeros((n // 2, 1), np.float32))
    return Recording(project, session, rig, truth_t, truth_d, barcode)
