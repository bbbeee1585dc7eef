"""Blocks into the raw file: in order, flushed on time, TTL edges counted, faults turned into
outcomes (the recorder's consumer side)."""

from __future__ import annotations

import contextlib
import errno
import time
from pathlib import Path

import numpy as np

from mocap3d.acquisition.daq import Block, DaqConfig, DaqFault
from mocap3d.acquisition.status import EdgeCounter, StopReason
from mocap3d.io.rawdaq import ChannelInfo, RawDaqWriter, StreamInfo

Outcome = tuple[StopReason, str]
"""Why a recording must stop, and the message that says so."""


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


def merge_runs(items: list[Block | DaqFault]) -> list[Block | DaqFault]:
    """Concatenate runs of contiguous blocks of the same stream; faults keep their place."""
    out: list[Block | DaqFault] = []
    pending: dict[str, list[Block]] = {}

    def flush(name: str) -> None:
        run = pending.pop(name, [])
        if len(run) == 1:
            out.append(run[0])
        elif run:
            out.append(Block(name, run[0].start_sample, np.concatenate([b.data for b in run])))

    for item in items:
        if isinstance(item, DaqFault):
            for name in list(pending):
                flush(name)
            out.append(item)
            continue
        run = pending.get(item.stream)
        if run and run[-1].start_sample + run[-1].n_samples != item.start_sample:
            flush(item.stream)
        pending.setdefault(item.stream, []).append(item)
    for name in list(pending):
        flush(name)
    return out


class BlockWriter:
    """Append blocks to a :class:`RawDaqWriter` in order and watch them.

    Checks that each block starts where its stream ended (a gap stops the recording), stores
    float32 volts, flushes at least every ``flush_interval_s`` (``flushed`` = master samples
    known to be on disk), counts rising edges on the ``counters``' channels, records faults
    as events, and turns a full disk into an outcome instead of an exception.
    """

    def __init__(
        self,
        writer: RawDaqWriter,
        config: DaqConfig,
        counters: dict[str, EdgeCounter],
        *,
        flush_interval_s: float,
    ) -> None:
        self.writer = writer
        self.config = config
        self.counters = counters
        self.flush_interval_s = flush_interval_s
        self.flushed = 0
        self.overflows = 0
        self._last_flush = time.monotonic()

    @property
    def path(self) -> Path:
        return self.writer.path

    @property
    def counts(self) -> dict[str, int]:
        return self.writer.counts

    @property
    def master_samples(self) -> int:
        return self.writer.counts[self.config.master_stream]

    def write_all(self, items: list[Block | DaqFault]) -> Outcome | None:
        """Write items in order, merging consecutive blocks (fewer HDF5 calls when behind).
        Stops at the first item that ends the recording: nothing after a fault is written."""
        for item in merge_runs(items):
            outcome = self.write(item)
            if outcome is not None:
                return outcome
        return None

    def write(self, item: Block | DaqFault) -> Outcome | None:
        if isinstance(item, DaqFault):
            return self._fault(item)
        have = self.writer.counts[item.stream]
        if item.start_sample != have:
            self.event("gap", sample=have, stream=item.stream,
                       message=f"block starts at {item.start_sample}, expected {have}")  # fmt: skip
            return "daq_error", (
                f"stream {item.stream!r}: block starts at sample {item.start_sample}, expected "
                f"{have} — samples lost; the recording stopped to keep the clock exact"
            )
        try:
            self.writer.append(item.stream, item.data.astype(np.float32, copy=False))
            if time.monotonic() - self._last_flush >= self.flush_interval_s:
                self.flush()
        except OSError as exc:
            if is_disk_full(exc):
                return "disk_full", (
                    f"disk full while writing {self.path} ({exc}); recording stopped — every "
                    f"sample flushed before is kept ({self.flushed} samples of "
                    f"{self.config.master_stream!r}). Free space before the next recording"
                )
            raise
        for c in self.counters.values():
            if c.stream == item.stream:
                c.update(item.start_sample, item.data)
        return None

    def _fault(self, fault: DaqFault) -> Outcome | None:
        if fault.kind == "overflow":
            self.overflows += 1
        self.event(fault.kind, sample=fault.sample, stream=fault.stream, message=fault.message)
        if not fault.fatal:
            return None
        where = f"at sample {fault.sample} of stream {fault.stream!r}"
        if fault.kind == "overflow":
            return "overflow", (
                f"DAQ buffer overflow {where}: {fault.message}; samples before it are kept. "
                "Use a larger buffer (--buffer), longer blocks (--block), or a faster disk"
            )
        return "daq_error", f"DAQ error {where}: {fault.message}"

    def flush(self) -> None:
        self.writer.flush()
        self.flushed = self.master_samples
        self._last_flush = time.monotonic()

    def event(self, kind: str, *, sample: int, stream: str = "", message: str = "") -> None:
        """Record an event; on a full disk it is dropped (the data matter more)."""
        with contextlib.suppress(OSError):
            self.writer.add_event(kind, sample=sample, stream=stream, message=message[:190])
