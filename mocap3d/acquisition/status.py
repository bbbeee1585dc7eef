"""Live status of a recording, its final result, and the session's recording manifest.

The manifest (``<daq file stem>.recording.toml`` beside the raw file, e.g.
``raw/daq.recording.toml``) says what was recorded, by what, how it ended and what to check:
written atomically when the recording starts (status ``recording``), at its end, and by
:func:`mocap3d.acquisition.recovery.recover`.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import tomli_w

from mocap3d._version import __version__
from mocap3d.acquisition.daq import DaqConfig
from mocap3d.io.atomic import write_text_atomic

StopReason = Literal[
    "duration", "stopped", "interrupted", "overflow", "daq_error", "disk_full", "error"
]
CLEAN_STOPS: tuple[str, ...] = ("duration", "stopped", "interrupted")
TTL_THRESHOLD_V = 1.5  # between TTL low (< 0.8 V) and high (> 2 V), 3.3 V and 5 V logic


def utc_now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")


def manifest_path_for(daq_path: str | Path) -> Path:
    """``raw/daq.h5`` → ``raw/daq.recording.toml``."""
    p = Path(daq_path)
    return p.with_name(p.stem + ".recording.toml")


@dataclass
class EdgeCounter:
    """Count rising edges of a TTL channel across consecutive blocks.

    A rising edge is a sample above ``threshold`` volts after one at or below it; the sample
    before the first block counts as low, so a pulse at sample 0 counts.
    """

    channel: str
    stream: str
    column: int
    threshold: float = TTL_THRESHOLD_V
    count: int = 0
    last_edge_sample: int = -1
    _high: bool = False

    def update(self, start_sample: int, data: np.ndarray) -> None:
        """``data``: (n_samples, n_channels) volts of this counter's stream."""
        x = data[:, self.column] > self.threshold
        if not len(x):
            return
        prev = np.empty_like(x)
        prev[0] = self._high
        prev[1:] = x[:-1]
        rises = np.flatnonzero(x & ~prev)
        if len(rises):
            self.count += len(rises)
            self.last_edge_sample = start_sample + int(rises[-1])
        self._high = bool(x[-1])


@dataclass(frozen=True)
class RecordingStatus:
    """A snapshot of a running recording (handed to the ``on_status`` callback).

    Attributes
    ----------
    elapsed_s : float
        Session-clock seconds recorded (master stream samples / rate).
    wall_s : float
        Wall-clock seconds since the start.
    samples : dict of str → int
        Samples written per stream.
    flushed_samples : int
        Master-stream samples known to be on disk (flushed): what survives a crash.
    frames_triggered : int
        Camera trigger pulses the counter emitted by now (−1 without a trigger counter).
    exposures_seen : dict of str → int
        Rising edges on each camera exposure channel (pulses the cameras answered with).
    sync_pulses_seen : int
        Rising edges on the sync box's TTL channel (−1 if not recorded).
    overflows : int
        DAQ buffer overflows so far.
    backlog_s : float
        Seconds of samples waiting to be written (should stay near one block).
    """

    elapsed_s: float
    wall_s: float
    samples: dict[str, int]
    flushed_samples: int
    frames_triggered: int
    exposures_seen: dict[str, int]
    sync_pulses_seen: int
    overflows: int
    backlog_s: float
    camera_frames: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordingResult:
    """How a recording ended, with everything the summary shows.

    ``stop_reason`` is ``duration`` / ``stopped`` / ``interrupted`` (clean stops, file
    ``closed``) or ``overflow`` / ``daq_error`` / ``disk_full`` / ``error`` (file ``aborted``,
    every sample before the fault kept). ``message`` says what happened and what to do.
    """

    path: Path
    manifest_path: Path
    stop_reason: StopReason
    message: str
    file_status: str
    started_utc: str
    stopped_utc: str
    status: RecordingStatus
    syncbox_count: int | None = None
    warnings: tuple[str, ...] = ()
    cameras: tuple[Any, ...] = ()

    @property
    def ok(self) -> bool:
        return self.stop_reason in CLEAN_STOPS


def write_manifest(path: Path, doc: dict[str, Any]) -> None:
    """Write the recording manifest atomically (None values are left out)."""
    write_text_atomic(path, tomli_w.dumps(_drop_none(doc)))


def _drop_none(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _drop_none(v) for k, v in node.items() if v is not None}
    if isinstance(node, list | tuple):
        return [_drop_none(v) for v in node if v is not None]
    if isinstance(node, np.generic):
        return node.item()
    if isinstance(node, Path):
        return str(node)
    return node


def base_manifest(daq_path: Path, *, rig_name: str, backend: str) -> dict[str, Any]:
    return {
        "recording": {
            "daq_file": daq_path.name,
            "status": "recording",
            "rig": rig_name,
            "backend": backend,
            "mocap3d_version": __version__,
            "host": platform.node(),
            "pid": os.getpid(),
        }
    }


def count_warnings(
    status: RecordingStatus,
    box_count: int | None,
    cameras: Sequence[Any],
    sync_channel: str | None,
    *,
    reconnected: bool = False,
) -> list[str]:
    """Compare what was emitted with what was seen: triggers vs exposure pulses, sync box
    count vs pulses on its TTL channel, camera frame counters."""
    out = []
    for ch, seen in status.exposures_seen.items():
        if status.frames_triggered >= 0 and seen != status.frames_triggered:
            out.append(
                f"{ch}: {seen} exposure pulses for {status.frames_triggered} triggers — "
                "check the camera trigger and exposure-output wiring"
            )
    seen = status.sync_pulses_seen
    if box_count is not None and seen >= 0 and box_count != seen:
        again = " (the box reconnected, so its count restarted)" if reconnected else ""
        out.append(
            f"sync box emitted {box_count} pulses but the DAQ saw {seen} on {sync_channel}{again}"
        )
    for cam in cameras:
        if cam.error:
            out.append(f"camera {cam.name}: {cam.error}")
        if cam.dropped:
            out.append(f"camera {cam.name}: {cam.dropped} dropped frame(s)")
    return out


def trigger_meta(config: DaqConfig) -> dict[str, Any] | None:
    """The camera trigger settings, as stored in the raw file and the manifest."""
    t = config.trigger
    if t is None:
        return None
    return {
        "counter": f"{t.device}/{t.counter}",
        "output_terminal": f"/{t.device}/{t.output_terminal}",
        "fps": t.fps,
        "duty_cycle": t.duty_cycle,
        "start_trigger": t.start_trigger,
        "cameras": list(t.cameras),
    }


def syncbox_meta(box: Any, fps: float) -> dict[str, Any] | None:
    if box is None:
        return None
    return {"port": box.url, "ident": box.info.ident if box.info else "", "fps": fps}


def final_manifest(
    manifest: dict[str, Any],
    r: RecordingResult,
    config: DaqConfig,
    box: dict[str, Any] | None,
) -> dict[str, Any]:
    """The manifest at the end of a recording: how it ended, what it holds, what to check."""
    s = r.status
    manifest["recording"].update(
        status=r.file_status,
        stopped_utc=r.stopped_utc,
        stop_reason=r.stop_reason,
        message=r.message,
        duration_s=round(s.elapsed_s, 6),
        overflows=s.overflows,
        warnings=list(r.warnings),
    )
    manifest["streams"] = {
        st.name: {
            "rate_hz": st.rate_hz,
            "samples": s.samples[st.name],
            "channels": st.channel_names,
        }
        for st in config.streams
    }
    if config.trigger is not None:
        manifest["trigger"] = {
            **(trigger_meta(config) or {}),
            "frames_triggered": s.frames_triggered,
            "exposures_seen": s.exposures_seen,
        }
    if box is not None:
        manifest["syncbox"] = {**box, "count": r.syncbox_count, "pulses_seen": s.sync_pulses_seen}
    if r.cameras:
        manifest["cameras"] = {
            c.name: {"video": str(c.video), "frames": c.n_frames, "dropped": c.dropped}
            for c in r.cameras
        }
    return manifest
