"""The raw DAQ file: append-only HDF5 that the recorder writes and the simulator produces.

Layout (``layout_version`` 1)::

    /                        attrs: layout = "mocap3d.raw_daq", layout_version, created_utc,
                                    master_stream, metadata (JSON: rig, trigger settings …)
    /streams/<name>          (sample, channel) array, chunked, growable along samples
                             attrs: rate_hz, t0_s (time of sample 0 on the master clock),
                                    channel_names, units, scale, offset, terminals,
                                    raw_unit ("V": physical = raw · scale + offset)
    /events                  compound (sample, stream, kind, message): overflows, markers …
    /status                  int8 (1,): 0 recording, 1 closed, 2 recovered, 3 aborted

The writer keeps the file in HDF5's single-writer/multiple-reader (SWMR) mode and flushes at
least every ``flush_interval_s``, so a crash or SIGKILL leaves every flushed sample readable
and a live reader can follow the recording. Files are never rewritten in place.
"""

from __future__ import annotations

import datetime as _dt
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import xarray as xr

from mocap3d.errors import InputError, LayoutVersionError

LAYOUT = "mocap3d.raw_daq"
LAYOUT_VERSION = 1
STATUS = {0: "recording", 1: "closed", 2: "recovered", 3: "aborted"}
_STATUS_CODE = {v: k for k, v in STATUS.items()}
EVENT_DTYPE = np.dtype([("sample", "<i8"), ("stream", "S32"), ("kind", "S32"), ("message", "S192")])


@dataclass(frozen=True)
class ChannelInfo:
    """One analog channel: physical value = raw · scale + offset, in ``unit``."""

    name: str
    unit: str = "V"
    scale: float = 1.0
    offset: float = 0.0
    terminal: str = ""


@dataclass(frozen=True)
class StreamInfo:
    """A group of channels sampled together at ``rate_hz``."""

    name: str
    rate_hz: float
    channels: tuple[ChannelInfo, ...]
    t0_s: float = 0.0
    dtype: str = "float32"
    n_samples: int = 0

    @property
    def channel_names(self) -> list[str]:
        return [c.name for c in self.channels]

    def __post_init__(self) -> None:
        if not self.rate_hz > 0:
            raise InputError(f"stream {self.name!r}: rate_hz must be > 0, found {self.rate_hz}")
        if not self.channels:
            raise InputError(f"stream {self.name!r} has no channels")
        names = self.channel_names
        if len(set(names)) != len(names):
            raise InputError(f"stream {self.name!r}: channel names repeat: {names}")


@dataclass
class RawDaqWriter:
    """Append blocks of samples to a new raw DAQ file.

    Use as a context manager; leaving the block normally marks the file ``closed``, leaving it
    by an exception marks it ``aborted`` (all data written so far stays).

    Parameters
    ----------
    path : path-like
        The file to create; an existing file is never overwritten.
    streams : sequence of StreamInfo
    master_stream : str
        The stream whose sample clock is the session clock.
    metadata : mapping
        JSON-serialisable description (rig, trigger settings, operator …).
    flush_interval_s : float
        Longest time between flushes to disk.
    created_utc : str, optional
        ISO time stored as ``created_utc``; default now. Give a fixed value for files that
        must be byte-identical across runs (the simulator does).
    """

    path: Path
    streams: Sequence[StreamInfo]
    master_stream: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    flush_interval_s: float = 1.0
    created_utc: str | None = None
    _file: h5py.File | None = field(init=False, default=None, repr=False)
    _last_flush: float = field(init=False, default=0.0, repr=False)
    counts: dict[str, int] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        names = [s.name for s in self.streams]
        if self.master_stream not in names:
            raise InputError(f"master stream {self.master_stream!r} is not one of {names}")
        if self.path.exists():
            raise InputError(
                f"{self.path} already exists; raw files are never overwritten — "
                "choose a new session or file name"
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = h5py.File(self.path, "w", libver="latest")
        try:
            self._create(f)
            f.swmr_mode = True
        except BaseException:
            f.close()
            self.path.unlink(missing_ok=True)
            raise
        self._file = f
        self._last_flush = time.monotonic()
        self.counts = {s.name: 0 for s in self.streams}

    def _create(self, f: h5py.File) -> None:
        f.attrs["layout"] = LAYOUT
        f.attrs["layout_version"] = LAYOUT_VERSION
        f.attrs["created_utc"] = self.created_utc or _dt.datetime.now(_dt.UTC).isoformat()
        f.attrs["master_stream"] = self.master_stream
        f.attrs["metadata"] = json.dumps(dict(self.metadata), default=str)
        group = f.create_group("streams")
        for s in self.streams:
            n_ch = len(s.channels)
            rows = max(1024, 2**16 // n_ch)
            d = group.create_dataset(
                s.name, shape=(0, n_ch), maxshape=(None, n_ch), dtype=s.dtype, chunks=(rows, n_ch)
            )
            d.attrs["rate_hz"] = float(s.rate_hz)
            d.attrs["t0_s"] = float(s.t0_s)
            d.attrs["raw_unit"] = "V"
            d.attrs["channel_names"] = [c.name for c in s.channels]
            d.attrs["units"] = [c.unit for c in s.channels]
            d.attrs["terminals"] = [c.terminal for c in s.channels]
            d.attrs["scale"] = np.array([c.scale for c in s.channels], dtype=np.float64)
            d.attrs["offset"] = np.array([c.offset for c in s.channels], dtype=np.float64)
        f.create_dataset("events", shape=(0,), maxshape=(None,), dtype=EVENT_DTYPE, chunks=(256,))
        f.create_dataset("status", data=np.array([0], dtype=np.int8))

    # ------------------------------------------------------------------ writing
    def append(self, stream: str, block: Any) -> None:
        """Append ``block`` (n_samples, n_channels) raw values (volts) to ``stream``."""
        f = self._require_open()
        if stream not in self.counts:
            raise InputError(f"unknown stream {stream!r}; streams are {list(self.counts)}")
        d = f["streams"][stream]
        block = np.asarray(block)
        if block.ndim != 2 or block.shape[1] != d.shape[1]:
            raise InputError(
                f"stream {stream!r} takes blocks of shape (n, {d.shape[1]}), found {block.shape}"
            )
        n0 = self.counts[stream]
        d.resize(n0 + len(block), axis=0)
        d[n0:] = block
        self.counts[stream] = n0 + len(block)
        self._maybe_flush()

    def add_event(
        self, kind: str, *, sample: int = -1, stream: str = "", message: str = ""
    ) -> None:
        """Record an event (overflow, marker, trial start …) at a master-clock sample."""
        d = self._require_open()["events"]
        n = d.shape[0]
        d.resize(n + 1, axis=0)
        d[n] = (sample, stream.encode()[:32], kind.encode()[:32], message.encode()[:192])
        self._maybe_flush()

    def flush(self) -> None:
        self._require_open().flush()
        self._last_flush = time.monotonic()

    def _maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush >= self.flush_interval_s:
            self.flush()

    def close(self, status: str = "closed") -> None:
        """Mark the file ``status`` and close it. Safe to call twice."""
        if self._file is None:
            return
        self._file["status"][0] = _STATUS_CODE[status]
        self._file.flush()
        self._file.close()
        self._file = None

    def _require_open(self) -> h5py.File:
        if self._file is None:
            raise InputError(f"{self.path} is closed; open a new writer to record more")
        return self._file

    def __enter__(self) -> RawDaqWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.close("closed" if exc_type is None else "aborted")


# ---------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class RawDaqInfo:
    """What a raw DAQ file holds, without its samples."""

    path: Path
    streams: dict[str, StreamInfo]
    master_stream: str
    status: str
    metadata: dict[str, Any]
    events: np.ndarray
    created_utc: str

    @property
    def master(self) -> StreamInfo:
        return self.streams[self.master_stream]

    def stream_of(self, channel: str) -> StreamInfo:
        """The stream that holds ``channel``."""
        for s in self.streams.values():
            if channel in s.channel_names:
                return s
        have = [c for s in self.streams.values() for c in s.channel_names]
        raise InputError(f"{self.path}: no channel {channel!r}; the file has {have}")


def _open(path: Path) -> h5py.File:
    if not path.is_file():
        raise InputError(f"raw DAQ file {path} does not exist")
    try:
        return h5py.File(path, "r")
    except OSError:
        pass
    try:  # a writer that crashed leaves the SWMR-write flag set; SWMR readers may still open it
        return h5py.File(path, "r", libver="latest", swmr=True, locking=False)
    except OSError as exc:
        raise InputError(
            f"{path} cannot be opened as HDF5 ({exc}); is it a raw DAQ file?"
        ) from None


def _check_layout(f: h5py.File, path: Path) -> None:
    layout = f.attrs.get("layout")
    if layout != LAYOUT:
        raise InputError(
            f"{path} is not a mocap3d raw DAQ file (layout {layout!r}, expected {LAYOUT!r})"
        )
    version = int(f.attrs.get("layout_version", -1))
    if version != LAYOUT_VERSION:
        raise LayoutVersionError(
            f"{path} has raw DAQ layout version {version}; this mocap3d reads version "
            f"{LAYOUT_VERSION} — upgrade mocap3d (or convert the file with the version that "
            "wrote it)"
        )


def _stream_info(name: str, d: h5py.Dataset) -> StreamInfo:
    a = d.attrs
    chans = tuple(
        ChannelInfo(str(n), str(u), float(s), float(o), str(t))
        for n, u, s, o, t in zip(
            a["channel_names"], a["units"], a["scale"], a["offset"], a["terminals"], strict=True
        )
    )
    return StreamInfo(
        name, float(a["rate_hz"]), chans, float(a["t0_s"]), str(d.dtype), int(d.shape[0])
    )


def read_raw_daq_info(path: str | Path) -> RawDaqInfo:
    """Read a raw DAQ file's description (streams, channels, status, events)."""
    path = Path(path)
    with _open(path) as f:
        _check_layout(f, path)
        streams = {n: _stream_info(n, d) for n, d in f["streams"].items()}
        return RawDaqInfo(
            path=path,
            streams=streams,
            master_stream=str(f.attrs["master_stream"]),
            status=STATUS.get(int(f["status"][0]), "unknown"),
            metadata=json.loads(f.attrs.get("metadata", "{}")),
            events=f["events"][...],
            created_utc=str(f.attrs.get("created_utc", "")),
        )


def read_stream(
    path: str | Path,
    stream: str,
    *,
    channels: Sequence[str] | None = None,
    start: int = 0,
    stop: int | None = None,
    physical: bool = True,
) -> xr.DataArray:
    """Read samples of one stream as a DataArray ``signal`` (time, channel).

    Parameters
    ----------
    channels : sequence of str, optional
        Subset of channels (default all).
    start, stop : int
        Sample range.
    physical : bool
        Apply each channel's scale and offset (units in the ``unit`` coordinate); else volts.

    Returns
    -------
    xarray.DataArray, float64
        ``time`` in seconds on the master clock (``t0_s + sample / rate_hz``), attribute
        ``rate_hz``.
    """
    path = Path(path)
    with _open(path) as f:
        _check_layout(f, path)
        if stream not in f["streams"]:
            raise InputError(f"{path}: no stream {stream!r}; streams are {list(f['streams'])}")
        d = f["streams"][stream]
        info = _stream_info(stream, d)
        names = info.channel_names
        wanted = list(channels) if channels is not None else names
        missing = [c for c in wanted if c not in names]
        if missing:
            raise InputError(
                f"{path}: stream {stream!r} has no channel(s) {missing}; it has {names}"
            )
        idx = [names.index(c) for c in wanted]
        stop = info.n_samples if stop is None else min(stop, info.n_samples)
        data = np.asarray(d[start:stop], dtype=np.float64)[:, idx]
    chans = [info.channels[i] for i in idx]
    if physical:
        data = data * np.array([c.scale for c in chans]) + np.array([c.offset for c in chans])
    t = info.t0_s + np.arange(start, start + len(data)) / info.rate_hz
    return xr.DataArray(
        data,
        dims=("time", "channel"),
        coords={
            "time": t,
            "channel": wanted,
            "unit": ("channel", [c.unit if physical else "V" for c in chans]),
        },
        name="signal",
        attrs={"rate_hz": info.rate_hz, "stream": stream, "time_unit": "s", "first_sample": start},
    )
