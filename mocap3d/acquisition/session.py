"""Wire a session recording: project and session folders, DAQ backend, sync box, cameras.

:func:`prepare_recording` is what ``mocap3d record`` calls; it checks everything that can be
checked (rig, session name, DAQ driver and hardware, sync box) *before* it creates the
session folder, so a problem leaves nothing behind.
"""

from __future__ import annotations

import datetime as _dt
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mocap3d.acquisition.cameras import CameraRecording, SimCamera, VideoFileCamera
from mocap3d.acquisition.daq import BlockSource, DaqBackend, DaqConfig
from mocap3d.acquisition.recorder import Recorder
from mocap3d.acquisition.simdaq import SimDaqBackend, Wire, pulse_train
from mocap3d.acquisition.syncbox import SyncBox
from mocap3d.acquisition.syncbox_emulator import SyncBoxEmulator
from mocap3d.errors import InputError
from mocap3d.io.project import VIDEO_SUFFIXES, Project, Session, create_project, open_project
from mocap3d.rig import Rig, load_rig


@dataclass
class SessionRecording:
    """A recorder ready to :meth:`~Recorder.run`, with what it needs closed afterwards."""

    recorder: Recorder
    session: Session
    project: Project
    syncbox: SyncBox | None = None
    emulator: SyncBoxEmulator | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def describe(self) -> str:
        return ", ".join(self.notes)

    def close(self) -> None:
        if self.syncbox is not None:
            self.syncbox.close()


def sim_streams(
    rig: Rig, config: DaqConfig, *, duration_s: float | None = None, seed: int = 0
) -> tuple[BlockSource, dict[str, Wire]]:
    """The simulator's session as the DAQ's source, and exposure channels wired to the counter.

    The source is :func:`mocap3d.simulate.daq.stream_source` of a planned session of ``rig``:
    a mouse jumping (control group) in trials spread over the recording — up to 20 of them,
    1.5 to 10 s apart; after the last one the mouse stands still and the noise goes on — with
    EMG bursts, force and platform displacement. The simulator triggers its cameras trial by
    trial; a recording's counter runs from the start trigger, so each camera exposure channel
    is wired to a pulse of the camera's ``exposure_us`` at every trigger ``k / fps`` instead.
    """
    from mocap3d.simulate import camera_layout
    from mocap3d.simulate.daq import stream_source
    from mocap3d.simulate.jump_params import CONTROL
    from mocap3d.simulate.session import SessionOptions, TrialPlan, plan_session

    span = duration_s if duration_s is not None else 120.0
    n = int(min(20, max(1, (span - 0.5) // 1.5)))
    options = SessionOptions(gap_s=min(9.0, max(0.5, (span - 0.5) / n - 1.0)), videos=False)
    trials = [TrialPlan(f"trial_{i + 1:03d}", CONTROL, seed * 1000 + i) for i in range(n)]
    plan = plan_session(rig, camera_layout(rig), trials, name="sim", seed=seed, options=options)
    wires: dict[str, Wire] = {}
    if config.trigger is not None:
        fps = config.trigger.fps
        for cam in rig.cameras:
            ch = cam.exposure_channel
            if ch and cam.name in config.trigger.cameras and ch not in wires:
                high_s = (cam.exposure_us or 0.2e6 / fps) * 1e-6
                wires[ch] = functools.partial(_exposure, fps=fps, high_s=high_s)
    return stream_source(plan.signals), wires


def _exposure(start: int, n: int, rate_hz: float, *, fps: float, high_s: float) -> np.ndarray:
    return pulse_train(start, n, rate_hz, t0_s=0.0, fps=fps, high_s=high_s)


def _rig_of(project_dir: Path, rig_path: Path | None) -> tuple[Project | None, Rig]:
    """The project (None if it does not exist yet) and the rig to record with."""
    if (project_dir / "project.toml").is_file():
        project = open_project(project_dir)
        rig = project.rig()
        if rig_path is not None:
            given = load_rig(rig_path)
            if given.model_dump(exclude={"calibration"}) != rig.model_dump(exclude={"calibration"}):
                raise InputError(
                    f"--rig {rig_path} differs from the rig of project {project_dir} "
                    f"({project.rig_path}); record with the project's rig (omit --rig), update "
                    "the project's rig.toml, or use a new project"
                )
        return project, rig
    if rig_path is None:
        raise InputError(f"{project_dir} is not a project yet; give --rig RIG.toml to create it")
    return None, load_rig(rig_path)


def prepare_recording(
    *,
    rig_path: Path | None,
    project_dir: Path,
    session: str,
    sim: bool = False,
    speed: float = 1.0,
    syncbox_port: str | None = None,
    no_syncbox: bool = False,
    sync_fps: float | None = None,
    cameras: str = "none",
    trial: str = "trial_001",
    block_s: float = 0.1,
    buffer_s: float = 10.0,
    grpc: str | None = None,
    labels: Mapping[str, str] | None = None,
    source: BlockSource | None = None,
    duration_s: float | None = None,
    seed: int = 0,
) -> SessionRecording:
    """Everything ``mocap3d record`` sets up, checked before the session folder is made.

    ``sim`` (or a rig with ``daq.backend = "sim"``) records simulated streams (``source``,
    default :func:`sim_streams` of a session planned for ``duration_s`` with ``seed``) at
    ``speed`` × real time (0: as fast as possible) with an emulated sync box unless
    ``syncbox_port`` is given. ``cameras`` is ``none``, ``sim`` or ``video:DIR`` (replays
    ``DIR/<camera>.mp4``). ``labels`` (``subject``, ``group``, ``date``, ``notes``) go into
    ``session.toml`` and the raw file's metadata; ``date`` (ISO ``YYYY-MM-DD``) defaults to
    today's local date, the day the recording starts.
    """
    project_dir = Path(project_dir)
    project, rig = _rig_of(project_dir, rig_path)
    if rig.daq is None:
        raise InputError(f"rig {rig.name!r} has no [daq] section: nothing to record")
    _check_name("session", session)
    meta = dict(labels or {})
    meta["date"] = _check_date(meta.get("date") or _dt.date.today().isoformat())
    root = project_dir / "sessions" / session
    if (root / "session.toml").exists():
        raise InputError(f"session {session!r} already exists in {root.parent}")
    sim = sim or rig.daq.backend == "sim"
    notes = [f"rig {rig.name}"]
    config = DaqConfig.from_rig(rig, block_s=block_s, buffer_s=buffer_s)
    emulator = None
    wires: dict[str, Wire] = {}
    use_box = not no_syncbox and (syncbox_port is not None or rig.syncbox is not None)
    if sim and use_box and syncbox_port is None:
        emulator = SyncBoxEmulator(serial_number="SIM")
        if rig.syncbox is not None and rig.syncbox.ttl_channel:
            wires[rig.syncbox.ttl_channel] = emulator.ttl
    backend: DaqBackend
    if sim:
        if source is None:
            source, exposure = sim_streams(rig, config, duration_s=duration_s, seed=seed)
            wires.update(exposure)
        backend = SimDaqBackend(source, speed=None if speed == 0 else speed, wires=wires)
        notes.append("simulated DAQ" + (f" ×{speed:g}" if speed != 1 else ""))
        if emulator is not None:
            emulator.clock = backend.now_s
    else:
        backend = _nidaqmx_backend(grpc)
        notes.append("NI-DAQmx" + (f" via {grpc}" if grpc else ""))
    recorder = Recorder(
        rig, backend, root / "raw" / "daq.h5", syncbox_fps=sync_fps, block_s=block_s,
        buffer_s=buffer_s, metadata={"session": session, **meta},
    )  # fmt: skip
    recorder.prepare()  # the DAQ driver and hardware, before anything is created
    box = None
    try:
        if use_box:
            box = _open_box(rig, syncbox_port, emulator, notes)
            recorder.attach_syncbox(box)
        _check_name("trial", trial)
        recorder.cameras = _cameras(cameras, rig, config, recorder, root / "raw" / "videos" / trial)
        if recorder.cameras:
            notes.append(f"{len(recorder.cameras)} {cameras.split(':')[0]} cameras")
        if project is None:  # only now: every check passed
            assert rig_path is not None
            project = create_project(project_dir, rig_path)
        sess = project.new_session(
            session, subject=meta.get("subject", ""), group=meta.get("group", ""),
            date=meta["date"], notes=meta.get("notes", ""),
        )  # fmt: skip
    except BaseException:
        backend.close()
        if box is not None:
            box.close()
        raise
    return SessionRecording(recorder, sess, project, box, emulator, notes)


def _check_name(kind: str, name: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_\-.]*", name):
        raise InputError(f"invalid {kind} name {name!r}: use letters, digits, '_', '-' or '.'")


def _check_date(text: str) -> str:
    """``text`` if it is a calendar date ``YYYY-MM-DD``, else an :class:`InputError`."""
    ok = re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) is not None
    try:
        _dt.date.fromisoformat(text)
    except ValueError:
        ok = False
    if not ok:
        raise InputError(f"invalid session date {text!r}: use YYYY-MM-DD, e.g. 2025-03-14")
    return text


def _open_box(
    rig: Rig, port: str | None, emulator: SyncBoxEmulator | None, notes: list[str]
) -> SyncBox:
    sb = rig.syncbox
    opts: dict[str, Any] = {"baudrate": sb.baudrate, "timeout_s": sb.timeout_s} if sb else {}
    if emulator is not None:
        notes.append("emulated sync box")
        return SyncBox.open("loop://", port_factory=emulator.loop_factory(), **opts)
    port = port or (sb.port if sb else "")
    notes.append(f"sync box {port}")
    return SyncBox.open(port, **opts)


def _nidaqmx_backend(grpc: str | None) -> DaqBackend:
    from mocap3d.acquisition.nidaq import NidaqmxBackend

    if grpc is None:
        return NidaqmxBackend()
    import grpc as grpc_lib
    import nidaqmx

    channel = grpc_lib.insecure_channel(grpc)
    options = nidaqmx.GrpcSessionOptions(channel, "")
    return NidaqmxBackend(grpc_options=options, owns_channel=True)


def _cameras(
    spec: str, rig: Rig, config: DaqConfig, recorder: Recorder, folder: Path
) -> list[CameraRecording]:
    if spec == "none":
        return []
    names = list(config.trigger.cameras) if config.trigger else rig.camera_names
    if spec == "sim":
        return [
            CameraRecording(
                SimCamera(
                    n, trigger_count=recorder.frames_triggered_now, size=rig.camera(n).resolution
                ),
                folder / f"{n}.mp4",
                rig.camera(n).fps,
            )
            for n in names
        ]
    if spec.startswith("video:"):
        src = Path(spec.removeprefix("video:"))
        out = []
        for n in names:
            video = next(
                (src / f"{n}{s}" for s in VIDEO_SUFFIXES if (src / f"{n}{s}").is_file()), None
            )
            if video is None:
                raise InputError(f"--cameras {spec}: no video for camera {n!r} in {src} ({n}.mp4)")
            cam = VideoFileCamera(n, video, trigger_count=recorder.frames_triggered_now)
            out.append(CameraRecording(cam, folder / f"{n}.mp4", rig.camera(n).fps))
        return out
    raise InputError(f"--cameras must be none, sim or video:DIR, found {spec!r}")
