"""Frame ↔ master-clock mapping of one camera in one trial.

Inputs: the camera's exposure pulse train (:class:`~mocap3d.sync.pulses.PulseTrain`: trigger
slots with times on the master clock), the number of frames in its video, and — when the
recorder wrote one — its frame log (``<camera>.frames.csv``: the camera's frame counter and
timestamp of every frame in the video). Output: a :class:`FrameMap` giving every video frame
its exposure slot and time, and every slot its status.

Which slot holds frame ``k``:

1. camera timestamps, when present: ``round((ts_k - ts_0) / T)`` slots after the first frame;
2. else frame counters: ``counter_k - counter_0``;
3. else the frame order (no drop can be placed).

Counters and timestamps are checked against each other. The frames' relative slots are then
laid on the pulse train. When the video spans fewer slots than there are pulses the surplus
pulses lie before the first or after the last frame: with a frame log the first frame is taken
as the first pulse (``anchor="start"``: cameras are armed before the trigger starts) and a
warning gives the numbers; without a frame log the surplus could equally be frames dropped
anywhere, so an :class:`~mocap3d.errors.InputError` asks for the frame log or an explicit
``anchor``. Nothing is ever cut to the shorter stream silently.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mocap3d.errors import InputError
from mocap3d.io.frames import FrameLog
from mocap3d.sync.clock import ClockFit, fit_clock
from mocap3d.sync.pulses import PulseTrain, fit_grid

log = logging.getLogger(__name__)

Anchor = Literal["auto", "start", "end"]

#: Slot status codes (``FrameMap.slot_status``).
OK, NO_PULSE, DROPPED, GAP, OUTSIDE = 0, 1, 2, 3, 4
STATUS_NAMES = {
    OK: "frame, pulse",
    NO_PULSE: "frame, pulse missing (time interpolated)",
    DROPPED: "dropped frame (pulse, no frame)",
    GAP: "no pulse and no frame (trigger skipped)",
    OUTSIDE: "pulse before the first or after the last frame",
}


@dataclass(frozen=True)
class FrameMap:
    """Where each video frame of one camera sits on the master clock.

    Attributes
    ----------
    frame_time : (n_frames,) ndarray
        Exposure time of each video frame, s on the master clock.
    frame_slot : (n_frames,) int ndarray
        Trigger slot of each frame (index into ``slot_time``).
    slot_time : (n_slots,) ndarray
        Time of every trigger slot of the pulse train (s).
    slot_status : (n_slots,) int8 ndarray
        ``OK``, ``NO_PULSE``, ``DROPPED``, ``GAP`` or ``OUTSIDE`` (see ``STATUS_NAMES``).
    slot_frame : (n_slots,) int ndarray
        Video frame in each slot, -1 where none.
    period_s : float
        Trigger period (s).
    extra_pulse_times : ndarray
        Spurious pulses removed from the train (s).
    method : str
        How frames were assigned to slots: "timestamps", "counters", "counters+timestamps",
        or "order".
    anchor : str
        "start", "end" or "exact" (video and pulses cover the same slots).
    camera_clock : ClockFit or None
        Camera timestamps fitted to the frame times (drift of the camera's clock).
    warnings : tuple of str
    """

    frame_time: np.ndarray
    frame_slot: np.ndarray
    slot_time: np.ndarray
    slot_status: np.ndarray
    slot_frame: np.ndarray
    period_s: float
    extra_pulse_times: np.ndarray
    method: str
    anchor: str
    camera: str = ""
    trial: str = ""
    camera_clock: ClockFit | None = None
    warnings: tuple[str, ...] = field(default=())

    @property
    def n_frames(self) -> int:
        return int(self.frame_time.size)

    @property
    def n_slots(self) -> int:
        return int(self.slot_time.size)

    @property
    def dropped_slots(self) -> np.ndarray:
        """Slots inside the recording without a frame (dropped frames and skipped triggers)."""
        return np.flatnonzero((self.slot_status == DROPPED) | (self.slot_status == GAP))

    @property
    def n_dropped(self) -> int:
        return int(self.dropped_slots.size)

    @property
    def missing_pulse_frames(self) -> np.ndarray:
        """Video frames whose pulse is missing (their time is interpolated)."""
        return self.slot_frame[self.slot_status == NO_PULSE]

    @property
    def frame_measured(self) -> np.ndarray:
        """(n_frames,) bool: the frame's time is a measured pulse edge."""
        return self.slot_status[self.frame_slot] == OK

    def summary(self) -> dict[str, Any]:
        """JSON-ready description (positions as slot indices, frame indices and times)."""
        drops = self.dropped_slots
        before = np.searchsorted(self.frame_slot, drops)  # frames recorded before each drop
        return {
            "camera": self.camera,
            "trial": self.trial,
            "n_frames": self.n_frames,
            "n_slots": self.n_slots,
            "n_pulses": int(np.isin(self.slot_status, (OK, DROPPED, OUTSIDE)).sum()),
            "fps": 1.0 / self.period_s,
            "t_first_s": float(self.frame_time[0]) if self.n_frames else None,
            "t_last_s": float(self.frame_time[-1]) if self.n_frames else None,
            "method": self.method,
            "anchor": self.anchor,
            "n_dropped": self.n_dropped,
            "dropped_slots": drops.tolist(),
            "dropped_after_frame": (before - 1).tolist(),
            "dropped_times_s": self.slot_time[drops].tolist(),
            "n_skipped_triggers": int((self.slot_status == GAP).sum()),
            "n_missing_pulses": int((self.slot_status == NO_PULSE).sum()),
            "missing_pulse_frames": self.missing_pulse_frames.tolist(),
            "n_extra_pulses": int(self.extra_pulse_times.size),
            "extra_pulse_times_s": self.extra_pulse_times.tolist(),
            "n_unrecorded_pulses": int((self.slot_status == OUTSIDE).sum()),
            "camera_clock": self.camera_clock.summary() if self.camera_clock else None,
            "warnings": list(self.warnings),
        }


def count_video_frames(path: str | Path, *, exact: bool = False) -> int:
    """Number of frames in a video (OpenCV).

    Parameters
    ----------
    exact : bool
        Count by grabbing every frame (slow, always right) instead of trusting the container's
        frame count (fast; exact for well-formed MP4, approximate for some AVI/MKV).
    """
    import cv2

    path = Path(path)
    if not path.is_file():
        raise InputError(f"video {path} does not exist")
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise InputError(f"{path}: OpenCV cannot open this video; is it a video file?")
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        if exact or n <= 0:
            n = 0
            while cap.grab():
                n += 1
    finally:
        cap.release()
    if n <= 0:
        raise InputError(f"{path}: the video has no frames")
    return n


def _unwrap_counter(c: np.ndarray) -> np.ndarray:
    """Undo wraps of a 16/24/32-bit hardware counter (a drop from near the top to near 0)."""
    d = np.diff(c)
    neg = d < 0
    if not neg.any():
        return c
    for bits in (16, 24, 32):
        wrap = 1 << bits
        step = d[neg] + wrap
        if c.max() < wrap and ((step > 0) & (step <= 1000)).all():
            return np.concatenate(([0], np.cumsum(np.where(neg, d + wrap, d)))) + c[0]
    return c


def _relative_slots(
    log_: FrameLog | None, n_frames: int, period_s: float, name: str
) -> tuple[np.ndarray, str, list[str]]:
    """Slot of every frame relative to the first one, and how it was found.

    Timestamps win over counters; :func:`_check_counters` compares them once the slots are
    known (a camera that skipped a trigger did not count an exposure there).
    """
    warns: list[str] = []
    if log_ is None:
        return np.arange(n_frames), "order", warns
    if len(log_) != n_frames:
        raise InputError(
            f"{name}: the frame log has {len(log_)} rows but the video has {n_frames} frames; "
            "the log must list every frame of the video (was the video cut or re-encoded?)"
        )
    c = _unwrap_counter(log_.counter.astype(np.int64))
    rel_c = c - c[0]
    if np.any(np.diff(rel_c) <= 0):
        k = int(np.flatnonzero(np.diff(rel_c) <= 0)[0])
        raise InputError(
            f"{name}: frame counter does not increase at frame {k + 1} ({c[k]} → {c[k + 1]}); "
            "the frame log is out of order or from another video"
        )
    ts = log_.timestamp_s
    if n_frames < 3 or not np.isfinite(ts).all():
        return rel_c, "counters", warns
    d = np.diff(ts)
    near = d[(d > 0.8 * period_s) & (d < 1.2 * period_s)]
    if near.size < 0.5 * d.size:
        warns.append(
            f"{name}: camera timestamps do not step by the trigger period "
            f"({1e3 * period_s:.3f} ms; median step {1e3 * float(np.median(d)):.3f} ms) — "
            "using the frame counters"
        )
        return rel_c, "counters", warns
    _, T_cam, kt, r = fit_grid(ts, float(np.median(near)), 0.3)
    rel_t = kt - kt[0]
    if np.any(np.diff(rel_t) <= 0) or np.max(np.abs(r)) > 0.3 * T_cam:
        warns.append(f"{name}: camera timestamps are irregular — using the frame counters")
        return rel_c, "counters", warns
    return rel_t, "timestamps", warns


def _check_counters(
    log_: FrameLog, frame_slot: np.ndarray, status: np.ndarray, name: str
) -> str | None:
    """Compare the frame counters with the exposures the slots imply; a warning or None."""
    c = _unwrap_counter(log_.counter.astype(np.int64))
    exposed = np.cumsum(status != GAP)  # skipped triggers were not exposed, so not counted
    expect = exposed[frame_slot] - exposed[frame_slot[0]]
    rel_c = c - c[0]
    if np.array_equal(expect, rel_c):
        return None
    bad = np.flatnonzero(expect != rel_c)
    return (
        f"{name}: frame counters and camera timestamps disagree from frame {int(bad[0])} on "
        f"({bad.size} frames; the counters span {int(rel_c[-1]) + 1} exposures, the timestamps "
        f"{int(expect[-1]) + 1}); the counter probably counts delivered frames — the timestamps "
        "were used"
    )


def map_frames(
    train: PulseTrain,
    n_frames: int,
    *,
    frame_log: FrameLog | None = None,
    anchor: Anchor = "auto",
    max_unmatched: int | None = None,
    camera: str = "",
    trial: str = "",
) -> FrameMap:
    """Place every video frame of one camera on the master clock.

    Parameters
    ----------
    train : PulseTrain
        The camera's exposure pulses in this trial (:func:`~mocap3d.sync.pulses.clean_pulses`).
    n_frames : int
        Frames in the video.
    frame_log : FrameLog, optional
        Counters/timestamps of the video's frames (``mocap3d.io.frames.read_frame_log``).
    anchor : {"auto", "start", "end"}
        Where the video sits when the pulses cover more slots than the video: "start" (the
        first frame is the first pulse), "end" (the last frame is the last pulse). "auto" is
        "start" with a frame log and an error without one (the surplus could be dropped frames
        anywhere). Only the surplus up to ``max_unmatched`` is accepted.
    max_unmatched : int, optional
        Most pulses allowed without a frame outside the video; default max(5, 1 % of pulses).
    camera, trial : str
        Names for messages and the report.

    Returns
    -------
    FrameMap

    Raises
    ------
    InputError
        Far more or fewer pulses than frames, or a frame log that contradicts the video.
    """
    name = f"camera {camera!r}" + (f", trial {trial!r}" if trial else "")
    if n_frames < 1:
        raise InputError(f"{name}: the video has no frames")
    rel, method, warns = _relative_slots(frame_log, n_frames, train.period_s, name)
    n_slots = len(train)
    span = int(rel[-1]) + 1
    detected = np.flatnonzero(train.measured)
    target = np.arange(n_slots)
    if method in ("counters", "order") and span != n_slots and span == detected.size:
        target = detected
        warns.append(
            f"{name}: {n_slots - detected.size} trigger slot(s) have neither a pulse nor a "
            f"frame (slots {train.missing_slots[:10].tolist()}…); the camera skipped them"
        )
    limit = max_unmatched if max_unmatched is not None else max(5, math.ceil(0.01 * n_slots))
    surplus = target.size - span
    counts = f"{train.n_detected} pulses on {n_slots} trigger slots, video {n_frames} frames"
    if method != "order":
        counts += f" spanning {span} exposures by its {method}"
    if surplus < 0:
        raise InputError(
            f"{name}: more frames than exposure pulses ({counts}); the DAQ stopped recording "
            "before the camera, or the wrong channel/burst is used for this camera"
        )
    if surplus > limit:
        raise InputError(
            f"{name}: far more exposure pulses than frames ({counts}; {surplus} pulses "
            f"unaccounted for, at most {limit} accepted); "
            + (
                "provide the camera's frame log (<camera>.frames.csv) so that dropped frames "
                "can be placed, or check that this video belongs to this trial"
                if method == "order"
                else "check that this video belongs to this trial"
            )
        )
    used = "exact"
    if surplus > 0:
        used = anchor
        if anchor == "auto" and method == "counters" and train.missing_slots.size:
            raise InputError(
                f"{name}: {surplus} more trigger slot(s) than exposures counted ({counts}) and "
                f"{train.missing_slots.size} slot(s) without a pulse: the camera may have "
                "skipped some of those triggers, or the trigger ran on after the camera "
                "stopped — the frame counters cannot tell which. Provide camera timestamps in "
                "the frame log, or pass anchor='start'/'end' (--anchor) if the surplus pulses "
                "are at the end/start"
            )
        if anchor == "auto":
            if method == "order":
                raise InputError(
                    f"{name}: {surplus} more exposure pulse(s) than frames ({counts}) and no "
                    "frame log to tell whether frames were dropped or the trigger ran on after "
                    "the camera stopped; provide <camera>.frames.csv, or pass anchor='start' "
                    "(--anchor start) if the surplus pulses are after the last frame"
                )
            used = "start"
        where = "after the last" if used == "start" else "before the first"
        warns.append(
            f"{name}: {surplus} pulse(s) without a frame {where} frame ({counts}); video "
            f"anchored at the {used} of the pulse train"
        )
    s0 = 0 if used in ("start", "exact") else surplus
    frame_slot = target[s0 + rel]
    slot_frame = np.full(n_slots, -1, dtype=np.int64)
    slot_frame[frame_slot] = np.arange(n_frames)
    status = np.full(n_slots, OUTSIDE, dtype=np.int8)
    inside = np.zeros(n_slots, dtype=bool)
    inside[frame_slot[0] : frame_slot[-1] + 1] = True
    has = slot_frame >= 0
    status[has & train.measured] = OK
    status[has & ~train.measured] = NO_PULSE
    status[inside & ~has & train.measured] = DROPPED
    status[inside & ~has & ~train.measured] = GAP
    frame_time = train.slot_time[frame_slot]
    if method == "timestamps" and frame_log is not None:
        mismatch = _check_counters(frame_log, frame_slot, status, name)
        if mismatch is None:
            method = "counters+timestamps"
        else:
            warns.append(mismatch)
    clock = None
    if frame_log is not None and np.isfinite(frame_log.timestamp_s).all() and n_frames >= 3:
        good = status[frame_slot] == OK
        if good.sum() >= 3:
            clock = fit_clock(
                frame_log.timestamp_s[good], frame_time[good], name=f"{camera} timestamps"
            )
            if clock.max_abs_us > 0.25e6 * train.period_s:
                warns.append(
                    f"{name}: camera timestamps disagree with the exposure pulses by up to "
                    f"{clock.max_abs_us:.0f} µs — check the frame log"
                )
    for w in warns:
        log.warning(w)
    return FrameMap(
        frame_time=frame_time,
        frame_slot=frame_slot,
        slot_time=train.slot_time,
        slot_status=status,
        slot_frame=slot_frame,
        period_s=train.period_s,
        extra_pulse_times=train.extra_times,
        method=method,
        anchor=used,
        camera=camera,
        trial=trial,
        camera_clock=clock,
        warnings=tuple(list(train.warnings) + warns),
    )
