"""The recorder: every DAQ block into the raw HDF5 file, the sync box driven and checked.

:class:`Recorder` starts the DAQ backend (whose counter triggers the cameras), the sync box and
the cameras, appends every block to a :class:`~mocap3d.io.rawdaq.RawDaqWriter` (SWMR, flushed
at least every ``flush_interval_s``: a crash or SIGKILL leaves every flushed sample
readable), reports a :class:`~mocap3d.acquisition.status.RecordingStatus` through
``on_status`` and stops cleanly on the duration, on ``stop`` (an event), on Ctrl-C
(KeyboardInterrupt), on a DAQ fault, or when the disk is full — always keeping what was
recorded. Blocks arrive on the backend's thread and are written on the caller's thread.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mocap3d.acquisition.cameras import CameraRecording, CameraResult
from mocap3d.acquisition.daq import Block, DaqBackend, DaqConfig, DaqFault
from mocap3d.acquisition.status import (
    CLEAN_STOPS,
    EdgeCounter,
    RecordingResult,
    RecordingStatus,
    StopReason,
    base_manifest,
    count_warnings,
    final_manifest,
    manifest_path_for,
    syncbox_meta,
    trigger_meta,
    utc_now,
    write_manifest,
)
from mocap3d.acquisition.syncbox import SyncBox, SyncBoxError
from mocap3d.io.rawdaq import ChannelInfo, RawDaqWriter, StreamInfo
from mocap3d.rig import Rig

log = logging.getLogger(__name__)

StatusCallback = Callable[[RecordingStatus], None]
WriterFactory = Callable[..., RawDaqWriter]


def is_disk_full(exc: BaseException) -> bool:
    """True for 'no space left' / 'quota exceeded', also as HDF5 reports them in text."""
    if getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(exc)
    return "No space left on device" in text or "errno = 28" in text or "Disk quota" in text


def stream_infos(config: DaqConfig) -> list[StreamInfo]:
    """The raw file's stream descriptions (names, rates, channels with units and scaling)."""
    return [
        StreamInfo(
            s.name,
            s.rate_hz,
            tuple(ChannelInfo(c.name, c.unit, c.scale, c.offset, c.terminal) for c in s.channels),
        )
        for s in config.streams
    ]


class Recorder:
    """Record one session's DAQ streams (and sync box, cameras) into a new raw file.

    Parameters
    ----------
    rig : Rig
    backend : DaqBackend
        Not yet configured; :meth:`run` configures it from the rig.
    path : path-like
        The raw DAQ file to create (never overwritten).
    syncbox : SyncBox, optional
        Connected sync box; started after the DAQ at ``syncbox_fps`` (default: camera fps),
        stopped before it, its count checked against pulses on ``rig.syncbox.ttl_channel``.
    cameras : sequence of CameraRecording
        Started before the DAQ, stopped after it.
    block_s, buffer_s : float
        DAQ block length and device buffer (see :meth:`DaqConfig.from_rig`).
    flush_interval_s : float
        Longest time between flushes to disk.
    on_status : callable, optional
        Called with a :class:`RecordingStatus` every ``status_interval_s`` and at the end.
    metadata : mapping
        Extra JSON-serialisable metadata for the raw file (operator, subject …).
    writer_factory : callable
        Makes the writer (``RawDaqWriter`` or a subclass: tests inject faults there).
    """

    def __init__(
        self,
        rig: Rig,
        backend: DaqBackend,
        path: str | Path,
        *,
        syncbox: SyncBox | None = None,
        syncbox_fps: float | None = None,
        cameras: Sequence[CameraRecording] = (),
        block_s: float = 0.1,
        buffer_s: float = 10.0,
        flush_interval_s: float = 1.0,
        on_status: StatusCallback | None = None,
        status_interval_s: float = 0.5,
        metadata: Mapping[str, Any] | None = None,
        writer_factory: WriterFactory = RawDaqWriter,
    ) -> None:
        self.rig = rig
        self.backend = backend
        self.path = Path(path)
        self.manifest_path = manifest_path_for(self.path)
        self.syncbox = syncbox
        self.cameras = list(cameras)
        self.config = DaqConfig.from_rig(rig, block_s=block_s, buffer_s=buffer_s)
        self.syncbox_fps = syncbox_fps or (
            self.config.trigger.fps if self.config.trigger else 100.0
        )
        self.flush_interval_s = flush_interval_s
        self.on_status = on_status
        self.status_interval_s = status_interval_s
        self.metadata = dict(metadata or {})
        self.writer_factory = writer_factory
        master = self.config.master
        self.tail_samples = math.ceil((2 * block_s + 0.05) * master.rate_hz)
        blocks = max(4, math.ceil(2.0 / block_s)) * len(self.config.streams)
        self._queue: queue.Queue[Block | DaqFault] = queue.Queue(maxsize=blocks)
        self._delivered = dict.fromkeys([s.name for s in self.config.streams], 0)
        self._closing = threading.Event()
        self._counters = self._make_counters()
        self._warnings: list[str] = []
        self._overflows = 0
        self._flushed = 0
        self._t_start = 0.0
        self._last_flush = 0.0
        self._prepared = False

    def _make_counters(self) -> dict[str, EdgeCounter]:
        wanted: dict[str, str] = {}
        triggered = self.config.trigger.cameras if self.config.trigger else self.rig.camera_names
        for cam in self.rig.cameras:
            if cam.exposure_channel and cam.name in triggered:
                wanted[cam.exposure_channel] = "exposure"
        if self.syncbox is not None and self.rig.syncbox and self.rig.syncbox.ttl_channel:
            wanted[self.rig.syncbox.ttl_channel] = "sync"
        counters = {}
        for ch in wanted:
            stream = next(s for s in self.config.streams if ch in s.channel_names)
            counters[ch] = EdgeCounter(ch, stream.name, stream.channel_index(ch))
        return counters

    def attach_syncbox(self, box: SyncBox | None) -> None:
        """Use ``box`` (connected) in the next :meth:`run`."""
        self.syncbox = box
        self._counters = self._make_counters()

    def frames_triggered_now(self) -> int:
        """Camera triggers emitted up to the last block the DAQ delivered (0 without counter)."""
        m = self.config.master
        t = self.config.trigger
        return t.frames_by(self._delivered[m.name], m.rate_hz) if t is not None else 0

    # ---------------------------------------------------------------- backend side
    def _on_block(self, block: Block) -> None:
        self._put(block)
        self._delivered[block.stream] = block.start_sample + block.n_samples

    def _on_fault(self, fault: DaqFault) -> None:
        self._put(fault)

    def _put(self, item: Block | DaqFault) -> None:
        while not self._closing.is_set():  # back-pressure: the device buffer absorbs the wait
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    # ----------------------------------------------------------------------- run
    def prepare(self) -> None:
        """Configure the DAQ backend (checks the hardware); :meth:`run` does it if needed.

        Call it before creating anything on disk so that a missing driver or device leaves
        nothing behind.
        """
        if not self._prepared:
            self.backend.configure(self.config)
            self._prepared = True

    def run(
        self, *, duration_s: float | None = None, stop: threading.Event | None = None
    ) -> RecordingResult:
        """Record until ``duration_s`` of session clock (at least), ``stop``, Ctrl-C or a fault.

        Returns a :class:`RecordingResult` however the recording ended, once the data are
        safely closed; internal errors are re-raised after the file is marked ``aborted``.

        Raises
        ------
        AcquisitionError
            Before anything is recorded, if the DAQ cannot be set up (no file is created).
        """
        stop = stop or threading.Event()
        master = self.config.master
        target = math.ceil(duration_s * master.rate_hz) if duration_s is not None else None
        self.prepare()
        started = utc_now()
        try:
            writer = self._open_writer(started)
        except BaseException:
            self.backend.close()
            raise
        manifest = base_manifest(self.path, rig_name=self.rig.name, backend=self.backend.name)
        manifest["recording"]["started_utc"] = started
        outcome: tuple[StopReason, str] = ("error", "")
        box_on = False
        try:
            write_manifest(self.manifest_path, manifest)
            for cam in self.cameras:
                cam.start()
            self._t_start = self._last_flush = time.monotonic()
            self.backend.start(self._on_block, self._on_fault)
            writer.add_event("start", sample=0, stream=master.name, message=utc_now())
            box_on = self._box("start", self._start_box, writer) is not None
            try:
                outcome = self._loop(writer, target, stop)
            except KeyboardInterrupt:
                outcome = ("interrupted", "stopped by Ctrl-C")
            if box_on:
                self._box("stop", lambda b: b.stop(), writer)
                if outcome[0] in CLEAN_STOPS:  # record the box's last pulse, with a margin
                    seen = max(self._delivered[master.name], writer.counts[master.name])
                    outcome = self._drain_until(writer, seen + self.tail_samples) or outcome
            reason, message, writable = self._shutdown(writer, outcome)
        except BaseException:  # a bug or a second Ctrl-C: keep the data, mark it, re-raise
            with contextlib.suppress(Exception):
                self._shutdown(writer, ("error", ""), writable=False)
            for cam in self.cameras:
                with contextlib.suppress(Exception):
                    cam.stop()
            with contextlib.suppress(Exception):
                writer.close("aborted")
            raise
        box_count = self._box("count", lambda b: b.count(), writer) if box_on else None
        cams = [c.stop() for c in self.cameras]
        status = self._status(writer)
        self._check_counts(status, box_count, cams)
        file_status = "closed" if reason in CLEAN_STOPS else "aborted"
        try:
            if writable:
                writer.add_event(
                    "stop", sample=writer.counts[master.name], stream=master.name, message=reason
                )
            writer.close(file_status)
        except OSError as exc:
            file_status = "recording"
            message += (
                f"; the file could not be closed ({exc}) — every flushed sample is readable; "
                f"free space and run `mocap3d record --recover {self.path}`"
            )
        result = RecordingResult(
            self.path,
            self.manifest_path,
            reason,
            message,
            file_status,
            started,
            utc_now(),
            status,
            None if box_count is None else int(box_count),
            tuple(self._warnings),
            tuple(cams),
        )
        self._final_manifest(manifest, result)
        if self.on_status is not None:
            self.on_status(status)  # the final status, once the file is closed
        return result

    def _open_writer(self, started: str) -> RawDaqWriter:
        meta = {
            "rig": self.rig.model_dump(mode="json"),
            "rig_path": str(self.rig.path) if self.rig.path else "",
            "backend": self.backend.name,
            "start_utc": started,
            "trigger": trigger_meta(self.config),
            "syncbox": syncbox_meta(self.syncbox, self.syncbox_fps),
            "block_samples": {s.name: s.samples_per_block for s in self.config.streams},
            **self.metadata,
        }
        return self.writer_factory(
            self.path,
            stream_infos(self.config),
            self.config.master_stream,
            meta,
            self.flush_interval_s,
        )

    def _loop(
        self, writer: RawDaqWriter, target: int | None, stop: threading.Event
    ) -> tuple[StopReason, str]:
        master = self.config.master_stream
        next_status = time.monotonic()
        while True:
            if stop.is_set():
                return "stopped", "stopped on request"
            if target is not None and writer.counts[master] >= target:
                return (
                    "duration",
                    f"recorded the requested {target / self.config.master.rate_hz:g} s",
                )
            now = time.monotonic()
            if now >= next_status:
                self._emit(writer)
                next_status = now + self.status_interval_s
            try:
                item = self._queue.get(timeout=0.05)
            except queue.Empty:
                continue
            outcome = self._consume(writer, item)
            if outcome is not None:
                return outcome

    def _consume(
        self, writer: RawDaqWriter, item: Block | DaqFault
    ) -> tuple[StopReason, str] | None:
        if isinstance(item, DaqFault):
            if item.kind == "overflow":
                self._overflows += 1
            writer.add_event(
                item.kind, sample=item.sample, stream=item.stream, message=item.message
            )
            if item.fatal:
                reason: StopReason = "overflow" if item.kind == "overflow" else "daq_error"
                where = f"at sample {item.sample} of stream {item.stream!r}"
                return reason, f"DAQ {item.kind} {where}: {item.message}" + (
                    "; samples before it are kept. Use a larger buffer (--buffer), longer "
                    "blocks, or a faster disk"
                    if item.kind == "overflow"
                    else ""
                )
            return None
        have = writer.counts[item.stream]
        if item.start_sample != have:
            writer.add_event(
                "gap",
                sample=have,
                stream=item.stream,
                message=f"block starts at {item.start_sample}, expected {have}",
            )
            return "daq_error", (
                f"stream {item.stream!r}: block starts at sample {item.start_sample}, expected "
                f"{have} — samples lost; the recording stopped to keep the clock exact"
            )
        try:
            writer.append(item.stream, item.data.astype(np.float32, copy=False))
            if time.monotonic() - self._last_flush >= self.flush_interval_s:
                self._flush(writer)
        except OSError as exc:
            if is_disk_full(exc):
                return "disk_full", (
                    f"disk full while writing {self.path} ({exc}); recording stopped — every "
                    f"sample flushed before is kept ({self._flushed} samples of "
                    f"{self.config.master_stream!r}). Free space before the next recording"
                )
            raise
        for c in self._counters.values():
            if c.stream == item.stream:
                c.update(item.start_sample, item.data)
        return None

    def _flush(self, writer: RawDaqWriter) -> None:
        writer.flush()
        self._flushed = writer.counts[self.config.master_stream]
        self._last_flush = time.monotonic()

    def _drain_until(self, writer: RawDaqWriter, n_master: int) -> tuple[StopReason, str] | None:
        """Keep writing until the master stream holds ``n_master`` samples (or a fault)."""
        master = self.config.master_stream
        deadline = time.monotonic() + 5.0 + n_master / self.config.master.rate_hz
        while writer.counts[master] < n_master and time.monotonic() < deadline:
            try:
                item = self._queue.get(timeout=0.05)
            except queue.Empty:
                continue
            fault = self._consume(writer, item)
            if fault is not None:
                return fault
        return None

    def _shutdown(
        self, writer: RawDaqWriter, outcome: tuple[StopReason, str], *, writable: bool = True
    ) -> tuple[StopReason, str, bool]:
        """Stop the backend while writing the blocks it still delivers; flush.

        Returns the final (reason, message) — a fault while draining replaces a clean stop —
        and whether the file can still be written (not after a full disk).
        """
        reason, message = outcome
        writable = writable and reason != "disk_full"
        stopper = threading.Thread(target=self.backend.stop, name="daq-stop")
        stopper.start()
        while stopper.is_alive() or not self._queue.empty():
            try:
                item = self._queue.get(timeout=0.02)
            except queue.Empty:
                continue
            if not writable:
                continue
            fault = self._consume(writer, item)
            if fault is not None and (reason in CLEAN_STOPS or fault[0] == "disk_full"):
                reason, message = fault
                writable = fault[0] != "disk_full"
        stopper.join()
        self._closing.set()
        self.backend.close()
        if writable:
            try:
                self._flush(writer)
            except OSError as exc:
                if not is_disk_full(exc):
                    raise
                reason, message, writable = "disk_full", f"disk full while flushing: {exc}", False
        return reason, message, writable

    # -------------------------------------------------------------- sync box, status
    def _start_box(self, box: SyncBox) -> bool:
        box.start(self.syncbox_fps)
        return True

    def _box(self, what: str, call: Callable[[SyncBox], Any], writer: RawDaqWriter) -> Any:
        """Call the sync box; a failure is a warning (and an event), never the end of the
        recording: the DAQ data matter more."""
        if self.syncbox is None:
            return None
        try:
            return call(self.syncbox)
        except SyncBoxError as exc:
            text = f"sync box {what} failed: {exc}"
            self._warnings.append(text)
            log.warning(text)
            with contextlib.suppress(OSError):
                sample = writer.counts[self.config.master_stream]
                writer.add_event("syncbox", sample=sample, message=text[:190])
            return None

    def _status(self, writer: RawDaqWriter) -> RecordingStatus:
        m = self.config.master
        n = writer.counts[m.name]
        trig = self.config.trigger.frames_by(n, m.rate_hz) if self.config.trigger else -1
        sync = next((c.count for c in self._counters.values() if self._is_sync(c)), -1)
        backlog = (self._delivered[m.name] - n) / m.rate_hz
        return RecordingStatus(
            elapsed_s=n / m.rate_hz,
            wall_s=time.monotonic() - self._t_start,
            samples=dict(writer.counts),
            flushed_samples=self._flushed,
            frames_triggered=trig,
            exposures_seen={k: c.count for k, c in self._counters.items() if not self._is_sync(c)},
            sync_pulses_seen=sync,
            overflows=self._overflows,
            backlog_s=max(0.0, backlog),
            camera_frames={c.camera.name: c.n_frames for c in self.cameras},
        )

    def _is_sync(self, c: EdgeCounter) -> bool:
        return bool(self.syncbox and self.rig.syncbox and c.channel == self.rig.syncbox.ttl_channel)

    def _emit(self, writer: RawDaqWriter) -> None:
        if self.on_status is not None:
            self.on_status(self._status(writer))

    def _check_counts(
        self, status: RecordingStatus, box_count: int | None, cams: list[CameraResult]
    ) -> None:
        sync = self.rig.syncbox.ttl_channel if self.rig.syncbox else None
        again = bool(self.syncbox and self.syncbox.reconnections)
        self._warnings += count_warnings(status, box_count, cams, sync, reconnected=again)

    def _final_manifest(self, manifest: dict[str, Any], result: RecordingResult) -> None:
        box = syncbox_meta(self.syncbox, self.syncbox_fps)
        if box is not None and self.syncbox is not None:
            box["reconnections"] = self.syncbox.reconnections
        try:
            write_manifest(self.manifest_path, final_manifest(manifest, result, self.config, box))
        except OSError as exc:
            log.error("could not write the recording manifest %s: %s", self.manifest_path, exc)
