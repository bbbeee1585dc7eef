"""Sync a recording: DAQ file + rig + videos → frame maps per trial and camera, clocks, report.

:func:`sync_recording` does the work on explicit inputs; :func:`sync_project_session` finds
them in a project folder (``sessions/<s>/raw/daq.h5``, ``raw/videos/<trial>/<camera>.mp4`` and
the frame logs beside them). The camera trigger runs once per trial, so each exposure channel
holds one burst of pulses per trial: bursts are matched to trials in time order (or chosen
explicitly), and a count that does not match is an error that lists both.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mocap3d.errors import InputError
from mocap3d.io.frames import FrameLog, frames_path, read_frame_log
from mocap3d.io.project import Project, Session
from mocap3d.io.rawdaq import read_raw_daq_info
from mocap3d.progress import Progress, report
from mocap3d.rig import Rig
from mocap3d.sync.barcode import barcode_pulses, match_barcode
from mocap3d.sync.clock import ClockFit
from mocap3d.sync.daqfile import read_edges
from mocap3d.sync.edges import Edges, split_bursts
from mocap3d.sync.frames import Anchor, FrameMap, count_video_frames, map_frames
from mocap3d.sync.pulses import PulseTrain, clean_pulses
from mocap3d.sync.report import sync_report

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VideoInput:
    """What sync needs from one video: its frame count and, if any, its frame log."""

    n_frames: int
    frame_log: FrameLog | None = None
    path: Path | None = None


def video_input(path: str | Path, *, exact: bool = False) -> VideoInput:
    """Count a video's frames and read the frame log beside it (``<camera>.frames.csv``)."""
    path = Path(path)
    n = count_video_frames(path, exact=exact)
    log_path = frames_path(path)
    return VideoInput(n, read_frame_log(log_path) if log_path.is_file() else None, path)


@dataclass(frozen=True)
class SyncOptions:
    """Options of :func:`sync_recording` (see ``docs/sync.md``)."""

    anchor: Anchor = "auto"
    trial_gap_s: float | None = None  # default: max(0.5 s, 50 frame periods)
    max_unmatched: int | None = None
    thresholds: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    edge: Literal["rising", "falling"] = "rising"
    tolerance: float = 0.2


@dataclass
class SessionSync:
    """Result of syncing one recording."""

    daq_path: Path
    master_stream: str
    master_rate_hz: float
    master_t0_s: float
    maps: dict[str, dict[str, FrameMap]]  # trial -> camera -> FrameMap
    edges: dict[str, Edges]
    bursts: dict[str, list[dict[str, float]]]
    clocks: dict[str, ClockFit] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        meta = {
            "daq": str(self.daq_path),
            "master_stream": self.master_stream,
            "master_rate_hz": self.master_rate_hz,
            "bursts": self.bursts,
        }
        return sync_report(self.maps, clocks=self.clocks, warnings=self.warnings, meta=meta)


def _burst_table(times: np.ndarray, bursts: list[slice]) -> list[dict[str, float]]:
    return [
        {"t_first_s": float(times[b][0]), "t_last_s": float(times[b][-1]),
         "n_pulses": int(times[b].size)}
        for b in bursts
    ]  # fmt: skip


def _assign_bursts(
    channel: str,
    table: list[dict[str, float]],
    trials: Mapping[str, Mapping[str, VideoInput]],
    chosen: Mapping[str, int] | None,
) -> dict[str, int]:
    names = list(trials)
    if chosen:
        bad = {t: b for t, b in chosen.items() if not 0 <= b < len(table)}
        if bad:
            raise InputError(
                f"channel {channel!r} has {len(table)} burst(s) of pulses (0…{len(table) - 1}); "
                f"cannot use {bad}"
            )
        return {t: chosen[t] for t in names if t in chosen}
    if len(table) == len(names):
        return {t: i for i, t in enumerate(names)}
    lines = [
        f"  burst {i}: {b['t_first_s']:.3f}–{b['t_last_s']:.3f} s, {b['n_pulses']} pulses"
        for i, b in enumerate(table)
    ]
    lines += [
        f"  trial {t}: " + ", ".join(f"{c} {v.n_frames} frames" for c, v in trials[t].items())
        for t in names
    ]
    raise InputError(
        f"channel {channel!r} holds {len(table)} burst(s) of exposure pulses but there are "
        f"{len(names)} trial(s); each trial must be one burst of the camera trigger:\n"
        + "\n".join(lines)
        + "\nfix: remove trials that were not recorded by this DAQ file, choose the burst "
        "(--burst), or change --trial-gap if one trial was split by a pause in the trigger"
    )


def sync_recording(
    rig: Rig,
    daq_path: str | Path,
    trials: Mapping[str, Mapping[str, VideoInput]],
    *,
    devices: Mapping[str, np.ndarray] | None = None,
    bursts: Mapping[str, int] | None = None,
    options: SyncOptions | None = None,
    progress: Progress | None = None,
) -> SessionSync:
    """Map every video frame of every trial onto the DAQ master clock.

    Parameters
    ----------
    rig : Rig
        Names each camera's ``exposure_channel`` and ``fps``, and the sync box's channel.
    daq_path : path-like
        Raw DAQ file of the session.
    trials : mapping of trial to (mapping of camera to VideoInput)
        In time order.
    devices : mapping of device name to (n,) or (n, 2) ndarray, optional
        Barcode pulse onsets (and offsets) recorded by devices on their own clocks (s); each
        is matched to the sync box channel (``rig.syncbox.ttl_channel``) and fitted
        (offset + drift), with both edges of each pulse when offsets are given.
    bursts : mapping of trial to burst index, optional
        Which burst of pulses belongs to which trial (default: in order, counts must match).

    Raises
    ------
    InputError
        Missing channels, channels without pulses, burst/trial counts that differ, or a
        camera whose frames cannot be reconciled with its pulses.
    """
    opts = options or SyncOptions()
    daq_path = Path(daq_path)
    info = read_raw_daq_info(daq_path)
    cams = list(dict.fromkeys(c for t in trials.values() for c in t))
    channel_of: dict[str, str] = {}
    for cam in cams:
        spec = rig.camera(cam)
        if not spec.exposure_channel:
            raise InputError(
                f"rig {rig.name!r}: camera {cam!r} has no exposure_channel; name the DAQ "
                "channel that records its exposure (or trigger) pulses"
            )
        channel_of[cam] = spec.exposure_channel
    channels = list(dict.fromkeys(channel_of.values()))
    sync_ch = rig.syncbox.ttl_channel if rig.syncbox else None
    edges = read_edges(daq_path, channels, levels=opts.thresholds, progress=progress)
    warnings: list[str] = []
    if sync_ch and devices:
        edges.update(read_edges(daq_path, [sync_ch], levels=opts.thresholds, progress=progress))
    fps = {ch: rig.camera(next(c for c in cams if channel_of[c] == ch)).fps for ch in channels}
    trains: dict[tuple[str, str], PulseTrain] = {}
    tables: dict[str, list[dict[str, float]]] = {}
    for ch in channels:
        e = edges[ch]
        times = e.rising if opts.edge == "rising" else e.falling
        widths = e.widths(polarity=opts.edge)
        gap = opts.trial_gap_s if opts.trial_gap_s is not None else max(0.5, 50.0 / fps[ch])
        slices = split_bursts(times, min_gap_s=gap)
        tables[ch] = _burst_table(times, slices)
        chosen = _assign_bursts(ch, tables[ch], trials, bursts)
        for trial, b in chosen.items():
            trains[(ch, trial)] = clean_pulses(
                times[slices[b]], fps=fps[ch], widths=widths[slices[b]],
                tolerance=opts.tolerance, name=f"channel {ch!r}, trial {trial!r}",
            )  # fmt: skip
    maps: dict[str, dict[str, FrameMap]] = {}
    done, total = 0, sum(len(v) for v in trials.values())
    for trial, videos in trials.items():
        maps[trial] = {}
        for cam, video in videos.items():
            train = trains.get((channel_of[cam], trial))
            if train is None:
                raise InputError(f"trial {trial!r}: no burst of pulses chosen for it")
            maps[trial][cam] = map_frames(
                train, video.n_frames, frame_log=video.frame_log, anchor=opts.anchor,
                max_unmatched=opts.max_unmatched, camera=cam, trial=trial,
            )  # fmt: skip
            done += 1
            report(progress, done, total, "map frames")
    clocks: dict[str, ClockFit] = {}
    if devices:
        if not sync_ch:
            raise InputError(
                f"rig {rig.name!r} has no syncbox.ttl_channel: devices cannot be matched to "
                "the master clock; name the DAQ channel that records the sync box's barcode"
            )
        box = barcode_pulses(edges[sync_ch])
        for name, pulses in devices.items():
            dev = np.asarray(pulses, dtype=np.float64)
            if dev.ndim == 1:
                dev = np.stack([dev, np.full(dev.size, np.nan)], axis=1)
            if dev.ndim != 2 or dev.shape[1] != 2:
                raise InputError(
                    f"device {name!r}: give pulse onsets (n,) or onsets and offsets (n, 2), "
                    f"found shape {dev.shape}"
                )
            clocks[name] = match_barcode(
                dev[:, 0], box[:, 0], device_offsets=dev[:, 1], master_offsets=box[:, 1],
                name=name,
            ).clock  # fmt: skip
    master = info.master
    return SessionSync(
        daq_path=daq_path,
        master_stream=master.name,
        master_rate_hz=master.rate_hz,
        master_t0_s=master.t0_s,
        maps=maps,
        edges=edges,
        bursts=tables,
        clocks=clocks,
        warnings=warnings,
    )


def session_inputs(
    rig: Rig, session: Session, *, exact: bool = False, progress: Progress | None = None
) -> dict[str, dict[str, VideoInput]]:
    """Every trial's videos of a project session (all rig cameras), counted and with logs."""
    trials = session.trials()
    if not trials:
        raise InputError(
            f"session {session.name!r} has no trials: no folders in {session.videos_dir}"
        )
    out: dict[str, dict[str, VideoInput]] = {}
    for i, trial in enumerate(trials):
        out[trial] = {
            cam: video_input(p, exact=exact)
            for cam, p in session.trial_videos(trial, rig.camera_names).items()
        }
        report(progress, i + 1, len(trials), "count frames")
    return out


def sync_project_session(
    project: Project,
    session: Session,
    *,
    devices: Mapping[str, np.ndarray] | None = None,
    options: SyncOptions | None = None,
    exact_count: bool = False,
    progress: Progress | None = None,
) -> SessionSync:
    """:func:`sync_recording` on a project session's DAQ file and videos."""
    rig = project.rig()
    if not session.raw_daq_path.is_file():
        raise InputError(
            f"session {session.name!r}: no raw DAQ file at {session.raw_daq_path}; sync "
            "needs the DAQ recording of the exposure pulses"
        )
    inputs = session_inputs(rig, session, exact=exact_count, progress=progress)
    return sync_recording(
        rig, session.raw_daq_path, inputs, devices=devices, options=options, progress=progress
    )
