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
import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mocap3d.acquisition.blockwriter import BlockWriter, Outcome, is_disk_full, stream_infos
from mocap3d.acquisition.cameras import CameraRecording, CameraResult
from mocap3d.acquisition.daq import AcquisitionError, Block, DaqBackend, DaqConfig, DaqFault
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
from mocap3d.io.rawdaq import RawDaqWriter
from mocap3d.rig import Rig

log = logging.getLogger(__name__)

StatusCallback = Callable[[RecordingStatus], None]
WriterFactory = Callable[..., RawDaqWriter]


class Recorder:
    """Record one session's DAQ streams (and sync box, cameras) into a new raw file.

    One recorder records one file: :meth:`run` once.

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
        self._grace_s = 2 * block_s + 1.0  # for the other streams' last blocks
        blocks = max(4, math.ceil(2.0 / block_s)) * len(self.config.streams)
        self._batch = max(1, math.ceil(1.0 / block_s)) * len(self.config.streams)
        self._queue: queue.Queue[Block | DaqFault] = queue.Queue(maxsize=blocks)
        self._delivered = dict.fromkeys([s.name for s in self.config.streams], 0)
        self._closing = threading.Event()
        self._counters = self._make_counters()
        self._warnings: list[str] = []
        self._t_start = 0.0
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
        if self._t_start:
            raise AcquisitionError("a Recorder records one file; make a new one to record again")
        stop = stop or threading.Event()
        master = self.config.master
        targets = (
            {s.name: math.ceil(duration_s * s.rate_hz) for s in self.config.streams}
            if duration_s is not None
            else None
        )
        self.prepare()
        started = utc_now()
        try:
            writer = self._open_writer(started)
        except BaseException:
            self.backend.close()
            raise
        blocks = BlockWriter(
            writer, self.config, self._counters, flush_interval_s=self.flush_interval_s
        )
        manifest = base_manifest(self.path, rig_name=self.rig.name, backend=self.backend.name)
        manifest["recording"]["started_utc"] = started
        outcome: Outcome = ("error", "")
        box_on = False
        try:
            write_manifest(self.manifest_path, manifest)
            for cam in self.cameras:
                cam.start()
            self._t_start = time.monotonic()
            self.backend.start(self._on_block, self._on_fault)
            blocks.event("start", sample=0, stream=master.name, message=utc_now())
            box_on = self._box("start", self._start_box, blocks) is not None
            try:
                outcome = self._loop(blocks, targets, stop)
            except KeyboardInterrupt:
                outcome = ("interrupted", "stopped by Ctrl-C")
            if box_on:
                self._box("stop", lambda b: b.stop(), blocks)
                if outcome[0] in CLEAN_STOPS:  # record the box's last pulse, with a margin
                    seen = max(self._delivered[master.name], blocks.master_samples)
                    outcome = self._drain_until(blocks, seen + self.tail_samples) or outcome
            reason, message, writable = self._shutdown(blocks, outcome)
        except BaseException:  # a bug or a second Ctrl-C: keep the data, mark it, re-raise
            with contextlib.suppress(Exception):
                self._shutdown(blocks, ("error", ""), writable=False)
            for cam in self.cameras:
                with contextlib.suppress(Exception):
                    cam.stop()
            with contextlib.suppress(Exception):
                writer.close("aborted")
            raise
        box_count = self._box("count", lambda b: b.count(), blocks) if box_on else None
        cams = [c.stop() for c in self.cameras]
        status = self._status(blocks)
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
        self, blocks: BlockWriter, targets: dict[str, int] | None, stop: threading.Event
    ) -> Outcome:
        """Write blocks until ``stop``, a fault, or every stream holds its ``targets`` samples.

        The other streams' blocks for the same stretch of time can arrive after the master's;
        they get a grace of two blocks and a second once the master is done, so a duration
        recording covers the duration on every stream (a stream still short after that is
        named in the result's warnings).
        """
        next_status = time.monotonic()
        master = self.config.master
        grace_until: float | None = None
        while True:
            if stop.is_set():
                return "stopped", "stopped on request"
            now = time.monotonic()
            if targets is not None and blocks.master_samples >= targets[master.name]:
                short = {n: t for n, t in targets.items() if blocks.counts[n] < t}
                grace_until = grace_until or now + self._grace_s
                if not short or now >= grace_until:
                    seconds = targets[master.name] / master.rate_hz
                    for name, want in short.items():
                        self._warnings.append(
                            f"stream {name!r} holds {blocks.counts[name]} of the {want} "
                            f"samples of the requested {seconds:g} s when recording stopped"
                        )
                    return "duration", f"recorded the requested {seconds:g} s"
            if now >= next_status:
                if self.on_status is not None:
                    self.on_status(self._status(blocks))
                next_status = now + self.status_interval_s
            try:
                items: list[Block | DaqFault] = [self._queue.get(timeout=0.05)]
            except queue.Empty:
                continue
            while len(items) < self._batch:  # and whatever else is waiting already
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            outcome = blocks.write_all(items)
            if outcome is not None:
                return outcome

    def _drain_until(self, blocks: BlockWriter, n_master: int) -> Outcome | None:
        """Keep writing until the master stream holds ``n_master`` samples (or a fault)."""
        deadline = time.monotonic() + 5.0 + n_master / self.config.master.rate_hz
        while blocks.master_samples < n_master and time.monotonic() < deadline:
            try:
                item = self._queue.get(timeout=0.05)
            except queue.Empty:
                continue
            outcome = blocks.write(item)
            if outcome is not None:
                return outcome
        return None

    def _shutdown(
        self, blocks: BlockWriter, outcome: Outcome, *, writable: bool = True
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
            fault = blocks.write(item)
            if fault is not None and (reason in CLEAN_STOPS or fault[0] == "disk_full"):
                reason, message = fault
                writable = fault[0] != "disk_full"
        stopper.join()
        self._closing.set()
        self.backend.close()
        if writable:
            try:
                blocks.flush()
            except OSError as exc:
                if not is_disk_full(exc):
                    raise
                reason, message, writable = "disk_full", f"disk full while flushing: {exc}", False
        return reason, message, writable

    # -------------------------------------------------------------- sync box, status
    def _start_box(self, box: SyncBox) -> bool:
        box.start(self.syncbox_fps)
        return True

    def _box(self, what: str, call: Callable[[SyncBox], Any], blocks: BlockWriter) -> Any:
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
            blocks.event("syncbox", sample=blocks.master_samples, message=text)
            return None

    def _status(self, blocks: BlockWriter) -> RecordingStatus:
        m = self.config.master
        n = blocks.master_samples
        trig = self.config.trigger.frames_by(n, m.rate_hz) if self.config.trigger else -1
        sync = next((c.count for c in self._counters.values() if self._is_sync(c)), -1)
        backlog = (self._delivered[m.name] - n) / m.rate_hz
        return RecordingStatus(
            elapsed_s=n / m.rate_hz,
            wall_s=time.monotonic() - self._t_start,
            samples=dict(blocks.counts),
            flushed_samples=blocks.flushed,
            frames_triggered=trig,
            exposures_seen={k: c.count for k, c in self._counters.items() if not self._is_sync(c)},
            sync_pulses_seen=sync,
            overflows=blocks.overflows,
            backlog_s=max(0.0, backlog),
            camera_frames={c.camera.name: c.n_frames for c in self.cameras},
        )

    def _is_sync(self, c: EdgeCounter) -> bool:
        return bool(self.syncbox and self.rig.syncbox and c.channel == self.rig.syncbox.ttl_channel)

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
