"""A simulated recording session: jumps of one mouse, the DAQ file, videos and ground truth.

:func:`plan_session` decides everything (jumps, timing on the master clock, faults) without
writing a file — its ``signals`` feed a simulated DAQ (:func:`~mocap3d.simulate.daq.stream_source`).
:func:`simulate_session` writes the session folder::

    <session>/raw/daq.h5                      raw DAQ file (mocap3d.io.rawdaq)
    <session>/raw/videos/<trial>/<camera>.mp4 + <camera>.frames.csv
    <session>/truth/truth.h5                  ground truth (mocap3d.simulate.truth)
    <session>/truth/labeled-data/<session>_<trial>_<camera>/   img*.png + CollectedData_<scorer>.h5
    <session>/truth/tracks/<trial>/<camera>.h5  simulated tracker output, DeepLabCut format
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mocap3d.camera import CameraGroup
from mocap3d.errors import InputError
from mocap3d.io.dlc import LabelledFrames, write_collected_data, write_dlc_tracks
from mocap3d.io.frames import FrameLog, write_frame_log
from mocap3d.progress import Progress, report
from mocap3d.rig import Rig
from mocap3d.simulate.daq import Clock, DaqOptions, SessionSignals, TrialTiming, write_raw_daq
from mocap3d.simulate.emg import Burst, trial_bursts
from mocap3d.simulate.faults import LIMB_KEYPOINTS, Faults, pick_frames, simulate_tracks
from mocap3d.simulate.jump import Jump
from mocap3d.simulate.jump_params import JumpGroup, draw_trial
from mocap3d.simulate.render import CameraJob, RenderOptions, project_truth, render_cameras
from mocap3d.simulate.reproducible import rewrite_without_times
from mocap3d.simulate.skeleton import FLEXION_ANGLES, MouseBody, check_keypoints
from mocap3d.simulate.truth import BURST_DTYPE, read_truth, write_truth


@dataclass(frozen=True)
class TrialPlan:
    """A trial to simulate: its name, its group and its seed."""

    name: str
    group: JumpGroup
    seed: int


@dataclass(frozen=True)
class SessionOptions:
    """Knobs of a simulated session.

    Attributes
    ----------
    duration_s : float
        Video length of each trial (the cameras are triggered this long).
    gap_s, lead_in_s : float
        DAQ time between trials and before the first.
    n_labelled : int
        Labelled frames per camera and trial (DeepLabCut ``CollectedData``); 0 for none.
    scorer : str
        DeepLabCut scorer name of the labels.
    videos : bool
        Render videos (False: DAQ file and truth only, much faster).
    dlc_tracks : bool
        Also write the simulated tracker output as DeepLabCut ``.h5`` files.
    """

    duration_s: float = 1.0
    gap_s: float = 0.5
    lead_in_s: float = 0.5
    render: RenderOptions = field(default_factory=RenderOptions)
    daq: DaqOptions = field(default_factory=DaqOptions)
    n_labelled: int = 10
    scorer: str = "sim"
    videos: bool = True
    dlc_tracks: bool = False


@dataclass
class SessionPlan:
    """Everything about a session before anything is written."""

    name: str
    rig: Rig
    cameras: CameraGroup
    seed: int
    subject: str
    body: MouseBody
    trials: list[TrialPlan]
    timings: list[TrialTiming]
    jumps: list[Jump]
    bursts: list[Burst]
    signals: SessionSignals
    dropped_camera: str
    dropped: dict[str, list[int]] = field(default_factory=dict)
    ttl_missing: dict[str, list[int]] = field(default_factory=dict)
    camera_clocks: dict[str, Clock] = field(default_factory=dict)


def plan_session(
    rig: Rig,
    cameras: CameraGroup,
    trials: Sequence[TrialPlan],
    *,
    name: str = "session",
    subject: str = "",
    seed: int = 0,
    options: SessionOptions = SessionOptions(),
    faults: Faults = Faults(),
) -> SessionPlan:
    """Decide a session's jumps, timing and faults (no files written)."""
    check_keypoints(rig.keypoints, where=f"rig {rig.name!r} skeleton.keypoints")
    if rig.daq is None:
        raise InputError(f"rig {rig.name!r} has no [daq] section; the simulator needs one")
    if not trials:
        raise InputError("simulate at least one trial")
    rng = np.random.default_rng([seed, 1])
    body = MouseBody().scaled(float(rng.uniform(0.96, 1.04)))
    fps = rig.fps
    rate = float(rig.daq.streams[rig.daq.master_stream].rate_hz)
    n_frames = round(options.duration_s * fps)
    if n_frames < 1:
        raise InputError(f"duration {options.duration_s} s gives no frame at {fps:g} fps")
    emg = {c.name: c.muscle or c.name for c in rig.daq.channels if c.kind == "emg"}
    timings, jumps, bursts = [], [], []
    for i, plan in enumerate(trials):
        start = options.lead_in_s + i * (options.duration_s + options.gap_s)
        timing = TrialTiming(plan.name, round(start * rate), n_frames, fps, rate)
        jump = Jump(draw_trial(plan.group, plan.seed), body)
        timings.append(timing)
        jumps.append(jump)
        bursts += trial_bursts(jump, trial=plan.name, start_s=timing.start_s, channels=emg)
    total = options.lead_in_s + len(trials) * (options.duration_s + options.gap_s)
    frng = np.random.default_rng([seed, 2])
    dropped_camera = faults.dropped_camera or cameras.names[-1]
    cameras.index(dropped_camera)  # raises with the camera names if unknown
    dropped = {t.name: pick_frames(frng, n_frames, faults.dropped_frames) for t in timings}
    missing: dict[str, list[int]] = {t.name: [] for t in timings}
    for _ in range(faults.ttl_missing):
        t = timings[int(frng.integers(len(timings)))]
        k = pick_frames(frng, n_frames, 1)
        missing[t.name] = sorted(set(missing[t.name]) | set(k))
    exposure_s = (rig.cameras[0].exposure_us or 0.5e6 / fps) * 1e-6
    extra = []
    for _ in range(faults.ttl_extra):
        t = timings[int(frng.integers(len(timings)))]
        kk = int(frng.integers(2, max(n_frames - 2, 3)))
        # halfway between the end of frame k's exposure and the next frame's
        gap_mid = 0.5 * (exposure_s + 1.0 / fps)
        extra.append((float(t.frame_times()[min(kk, n_frames - 1)] + gap_mid), 3.0 / rate))
    unknown = [s for s in faults.stream_drift_ppm if s not in rig.daq.streams]
    if unknown or rig.daq.master_stream in faults.stream_drift_ppm:
        raise InputError(
            f"faults.stream_drift_ppm names {list(faults.stream_drift_ppm)}; use non-master "
            f"streams of the rig: {[s for s in rig.daq.streams if s != rig.daq.master_stream]}"
        )
    signals = SessionSignals(
        rig,
        list(zip(timings, jumps, strict=True)),
        bursts,
        total,
        seed=seed,
        options=options.daq,
        syncbox_clock=Clock(faults.syncbox_offset_s, faults.syncbox_drift_ppm),
        stream_clocks={s: Clock(0.0, ppm) for s, ppm in faults.stream_drift_ppm.items()},
        ttl_missing=frozenset((n, k) for n, ks in missing.items() for k in ks),
        ttl_extra=tuple(sorted(extra)),
    )
    cam_clocks = {
        c: Clock(float(frng.uniform(10.0, 1000.0)), float(frng.normal(0.0, 10.0)))
        for c in cameras.names
    }
    return SessionPlan(
        name,
        rig,
        cameras,
        seed,
        subject,
        body,
        list(trials),
        timings,
        jumps,
        bursts,
        signals,
        dropped_camera,
        dropped,
        missing,
        cam_clocks,
    )


def simulate_session(
    root: str | Path,
    plan: SessionPlan,
    *,
    options: SessionOptions = SessionOptions(),
    faults: Faults = Faults(),
    progress: Progress | None = None,
) -> Path:
    """Write a planned session into folder ``root`` (see the module docstring).

    Returns the truth file's path. Raw files are never overwritten: ``root/raw/daq.h5`` must
    not exist yet.
    """
    root = Path(root)
    rig, cams = plan.rig, plan.cameras
    keypoints = rig.keypoints
    report(progress, 0, 1, "DAQ file")
    write_raw_daq(root / "raw" / "daq.h5", plan.signals, metadata={"session": plan.name})
    report(progress, 1, 1, "DAQ file")
    exposure_s = (rig.cameras[0].exposure_us or 0.5e6 / rig.fps) * 1e-6
    render_opts = options.render
    if faults.motion_blur > render_opts.motion_blur:
        render_opts = RenderOptions(
            render_opts.supersample, render_opts.noise_dn, faults.motion_blur, render_opts.workers
        )
    jobs, truths = [], []
    counters = {c: 1000 * (i + 1) for i, c in enumerate(cams.names)}
    trng = np.random.default_rng([plan.seed, 3])
    for ti, (timing, jump) in enumerate(zip(plan.timings, plan.jumps, strict=True)):
        report(progress, ti, len(plan.timings), "truth")
        trial = timing.name
        t_frame = timing.frame_times() - timing.start_s
        pose_t = t_frame + exposure_s / 2
        kp, uv, vis = project_truth(cams, jump, pose_t, keypoints)
        limb = [k for k in keypoints if k in LIMB_KEYPOINTS]
        right = jump.points(pose_t, names=[k + "_r" for k in limb])
        swap_uv = np.full_like(uv, np.nan)
        for k in limb:
            swap_uv[:, :, keypoints.index(k)] = cams.project(right[k + "_r"])
        tracks, conf, fault = simulate_tracks(
            uv, vis, keypoints, faults, trng, swap_uv=swap_uv, left_right=rig.skeleton.left_right
        )
        n = timing.n_frames
        video_frame = np.tile(np.arange(n), (len(cams), 1))
        for v, cam_name in enumerate(cams.names):
            if cam_name == plan.dropped_camera and plan.dropped[trial]:
                keep = np.ones(n, bool)
                keep[plan.dropped[trial]] = False
                video_frame[v] = np.where(keep, np.cumsum(keep) - 1, -1)
        ev = jump.events
        window = np.flatnonzero((t_frame >= ev.onset - 0.05) & (t_frame <= ev.recovery_end))
        if len(window) == 0:
            window = np.arange(n)
        n_lab = min(options.n_labelled, len(window))
        labelled = np.sort(trng.choice(window, n_lab, replace=False)) if n_lab else np.zeros(0, int)
        for v, cam in enumerate(cams):
            vid = root / "raw" / "videos" / trial / f"{cam.name}.mp4"
            dropped = plan.dropped[trial] if cam.name == plan.dropped_camera else []
            labels = tuple(int(k) for k in labelled if k not in dropped)
            label_dir = root / "truth" / "labeled-data" / f"{plan.name}_{trial}_{cam.name}"
            if options.videos:
                jobs.append(
                    CameraJob(
                        cam,
                        jump,
                        t_frame,
                        exposure_s,
                        vid,
                        seed=hash_seed(plan.seed, ti, v),
                        options=render_opts,
                        dropped=frozenset(dropped),
                        label_frames=labels,
                        label_dir=label_dir,
                    )
                )
            # frame log: the camera's counter counts every trigger of the session
            kept = np.setdiff1d(np.arange(n), dropped)
            clock = plan.camera_clocks[cam.name]
            stamps = clock.to_device(timing.frame_times()[kept])
            write_frame_log(
                vid.with_name(f"{cam.name}.frames.csv"),
                FrameLog(counters[cam.name] + kept.astype(np.int64), stamps),
            )
            counters[cam.name] += n
            if options.videos and labels:
                xy = np.where(vis[v][list(labels)][..., None], uv[v][list(labels)], np.nan)
                folder = label_dir.name
                images = [f"labeled-data/{folder}/img{k:05d}.png" for k in labels]
                h5 = write_collected_data(
                    label_dir, LabelledFrames(images, list(keypoints), xy, options.scorer)
                )
                rewrite_without_times(h5)
        angles = jump.joint_angles(pose_t)
        angle_names = [a for a in FLEXION_ANGLES if a in rig.angles] or list(FLEXION_ANGLES)
        burst_rows = np.array(
            [
                (
                    b.channel.encode(),
                    b.muscle.encode(),
                    b.phase.encode(),
                    b.onset_s,
                    b.offset_s,
                    b.amplitude_v,
                )
                for b in plan.bursts
                if b.trial == trial
            ],
            dtype=BURST_DTYPE,
        )
        events = {k: v + timing.start_s for k, v in ev.as_dict().items()}
        attrs = {
            "group": jump.params.group,
            "subject": plan.subject,
            "seed": plan.trials[ti].seed,
            "start_s": timing.start_s,
            "start_sample": timing.start_sample,
            "n_frames": n,
            "fps": timing.fps,
            "events": events,
            "takeoff_velocity_m_s": jump.takeoff_velocity,
            "jump_height_mm": jump.jump_height_mm,
            "jump_height_flight_mm": jump.jump_height_flight_mm,
            "flight_time_s": jump.flight_time_s,
            "mass_kg": jump.mass,
            "params": dict(jump.params.__dict__),
        }
        arrays = {
            "frame_time_s": timing.frame_times(),
            "frame_sample": timing.frame_samples(),
            "pose_time_s": pose_t + timing.start_s,
            "keypoints3d": kp,
            "com": jump.com(pose_t),
            "com_velocity": jump.com_velocity(pose_t),
            "angles": np.stack([angles[a] for a in angle_names], axis=1),
            "uv": uv,
            "visible": vis.astype(np.uint8),
            "video_frame": video_frame,
            "tracks": tracks,
            "track_confidence": conf,
            "track_fault": fault,
            "ttl_missing": np.array(plan.ttl_missing[trial], dtype=np.int64),
            "labelled_frames": np.asarray(labelled, dtype=np.int64),
            "emg_bursts": burst_rows,
        }
        truths.append((trial, attrs, arrays))
    report(progress, len(plan.timings), len(plan.timings), "truth")
    if jobs:
        render_cameras(jobs, workers=options.render.workers, progress=progress)
    sig = plan.signals
    truth_path = root / "truth" / "truth.h5"
    write_truth(
        truth_path,
        attrs={
            "rig": rig.name,
            "session": plan.name,
            "subject": plan.subject,
            "seed": plan.seed,
            "fps": rig.fps,
            "master_rate_hz": sig.rate(sig.master),
            "exposure_s": exposure_s,
            "keypoints": list(keypoints),
            "angles": angle_names,
            "views": cams.names,
            "dropped_camera": plan.dropped_camera,
            "faults": faults.as_dict(),
            "camera_clocks": {c: k.__dict__ for c, k in plan.camera_clocks.items()},
            "stream_clocks": {s: k.__dict__ for s, k in sig.stream_clocks.items()},
            "body": dict(plan.body.__dict__),
        },
        cameras=cams,
        trials=truths,
        syncbox=(
            sig.syncbox_pulses_device_s,
            sig.syncbox_pulses_master_s(),
            sig.syncbox_clock.offset_s,
            sig.syncbox_clock.drift_ppm,
        ),
        ttl_extra=np.array(sig.ttl_extra).reshape(-1, 2),
    )
    if options.dlc_tracks:
        truth = read_truth(truth_path)
        for trial, tt in truth.trials.items():
            ds = tt.poses2d(tracks=True)
            for view in cams.names:
                out = root / "truth" / "tracks" / trial / f"{view}.h5"
                write_dlc_tracks(ds.sel(view=[view]), out, scorer=options.scorer)
                rewrite_without_times(out)
    return truth_path


def hash_seed(*parts: int) -> int:
    """A stable non-negative seed from integers."""
    return int(np.random.SeedSequence(list(parts)).generate_state(1)[0])
