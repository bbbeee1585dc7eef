"""DAQ streams of a simulated session on the DAQ clock, and the raw DAQ file they make.

The session's master clock is the master stream's sample clock (sample 0 = 0 s). Trials follow
each other with gaps; in each trial the cameras are triggered at the rig's fps from the trial's
first sample, and the camera exposure TTL goes high for ``exposure_us`` at every frame.
Between trials the mouse stands quietly on the platform.

Channels are filled by their ``kind`` in the rig: ``emg`` (bursts of the channel's ``muscle``,
see :mod:`mocap3d.simulate.emg`), ``force`` (vertical ground reaction force of the jump +
noise + slow drift), ``displacement`` (platform deflection under that force, with its
resonance), ``ttl`` (camera exposure if a camera names it as ``exposure_channel``, the sync
box's pulses if ``syncbox.ttl_channel`` names it), ``analog`` (noise). Values are the raw volts
the DAQ would record (physical = volts · scale + offset), clipped to ``range_v`` and quantised
as a 16-bit converter does.

The block source (:meth:`SessionSignals.block`, also returned by :func:`stream_source`) is a
pure function of ``(stream, start_sample, n_samples)``: samples are computed in fixed chunks
whose noise is seeded by the chunk index, so any partition into blocks gives the very same
samples.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mocap3d.errors import InputError
from mocap3d.rig import ChannelSpec, Rig
from mocap3d.simulate.emg import Burst, carrier_filter, envelope
from mocap3d.simulate.jump import G, Jump

CHUNK = 4096
TOL_S = 1e-9  # a sample at t is "at or after" an edge at t_e when t + TOL_S ≥ t_e


def first_sample(times_s: np.ndarray, rate_hz: float) -> np.ndarray:
    """Index of the first sample at or after each time (the sample where a pulse is first high)."""
    return np.ceil((np.asarray(times_s, dtype=np.float64) - TOL_S) * rate_hz).astype(np.int64)


BlockSource = Callable[[str, int, int], np.ndarray]


@dataclass(frozen=True)
class DaqOptions:
    """Noise and hardware knobs of the simulated DAQ signals.

    Attributes
    ----------
    emg_noise_v : float
        Baseline EMG noise at the muscle, V rms.
    mains_hz : float or None
        Mains hum frequency (50 or 60) on the EMG channels; None for none.
    mains_v : float
        Mains hum amplitude at the muscle, V.
    force_noise_n, force_drift_n_per_s : float
        Load-cell white noise (N rms) and slow drift rate (N/s).
    platform_stiffness_n_per_mm, platform_resonance_hz : float
        Platform deflection = force / stiffness, through a resonance of this frequency.
    displacement_noise_mm : float
    ttl_high_v, ttl_noise_v : float
    sync_interval_s : (float, float)
        The sync box's pulse intervals are drawn uniformly from this range (box clock).
    sync_pulse_s : float
    quantise_bits : int or None
        Quantise raw volts over each channel's range (None: no quantisation).
    """

    emg_noise_v: float = 5e-6
    mains_hz: float | None = None
    mains_v: float = 20e-6
    force_noise_n: float = 1e-3
    force_drift_n_per_s: float = 2e-3
    platform_stiffness_n_per_mm: float = 4.0
    platform_resonance_hz: float = 180.0
    displacement_noise_mm: float = 1e-3
    ttl_high_v: float = 5.0
    ttl_noise_v: float = 0.005
    sync_interval_s: tuple[float, float] = (0.4, 0.6)
    sync_pulse_s: float = 0.010
    quantise_bits: int | None = 16


@dataclass(frozen=True)
class Clock:
    """A device clock: ``master_s = offset_s + device_s · (1 + drift_ppm · 1e-6)``."""

    offset_s: float = 0.0
    drift_ppm: float = 0.0

    def to_master(self, device_s: np.ndarray | float) -> np.ndarray:
        return self.offset_s + np.asarray(device_s, dtype=np.float64) * (1 + self.drift_ppm * 1e-6)

    def to_device(self, master_s: np.ndarray | float) -> np.ndarray:
        return (np.asarray(master_s, dtype=np.float64) - self.offset_s) / (
            1 + self.drift_ppm * 1e-6
        )


@dataclass(frozen=True)
class TrialTiming:
    """Where a trial sits on the master clock."""

    name: str
    start_sample: int  # master-stream sample of the trial's first frame
    n_frames: int
    fps: float
    master_rate_hz: float

    @property
    def start_s(self) -> float:
        return self.start_sample / self.master_rate_hz

    @property
    def duration_s(self) -> float:
        return self.n_frames / self.fps

    def frame_times(self) -> np.ndarray:
        """Exposure start of every triggered frame, s on the master clock."""
        return self.start_s + np.arange(self.n_frames) / self.fps

    def frame_samples(self) -> np.ndarray:
        """First master-stream sample at which each frame's exposure pulse is high."""
        return first_sample(self.frame_times(), self.master_rate_hz)


@dataclass
class SessionSignals:
    """The analog world of one simulated session (see the module docstring).

    Parameters
    ----------
    rig : Rig
    trials : sequence of (TrialTiming, Jump)
        In time order, not overlapping.
    bursts : sequence of Burst
        EMG bursts of every trial (master clock).
    duration_s : float
        Length of the recording.
    seed : int
    options : DaqOptions
    syncbox_clock : Clock
        The sync box's own clock.
    stream_clocks : mapping of stream → Clock
        Non-master streams whose sample clock drifts against the master's (a second device).
    ttl_missing : set of (trial, frame)
        Exposure pulses that never reach the DAQ (TTL glitch).
    ttl_extra : sequence of (start_s, width_s)
        Spurious pulses on the exposure channel (master clock).
    """

    rig: Rig
    trials: Sequence[tuple[TrialTiming, Jump]]
    bursts: Sequence[Burst]
    duration_s: float
    seed: int = 0
    options: DaqOptions = DaqOptions()
    syncbox_clock: Clock = Clock()
    stream_clocks: dict[str, Clock] = field(default_factory=dict)
    ttl_missing: frozenset[tuple[str, int]] = frozenset()
    ttl_extra: tuple[tuple[float, float], ...] = ()
    _cache: OrderedDict = field(init=False, repr=False, default_factory=OrderedDict)

    def __post_init__(self) -> None:
        if self.rig.daq is None:
            raise InputError(f"rig {self.rig.name!r} has no [daq] section; nothing to simulate")
        self.streams = list(self.rig.daq.streams)
        self.master = self.rig.daq.master_stream
        self.mass = self.trials[0][1].mass if self.trials else 0.025
        exposure = {c.exposure_channel for c in self.rig.cameras if c.exposure_channel}
        self._exposure_channels = exposure
        self._sync_channel = self.rig.syncbox.ttl_channel if self.rig.syncbox else None
        self._exposure_us = self.rig.cameras[0].exposure_us or 0.5e6 / self.rig.fps
        self._frames = self._exposure_intervals()
        self.syncbox_pulses_device_s = self._syncbox_pulses()

    # ------------------------------------------------------------------ public
    def rate(self, stream: str) -> float:
        return float(self.rig.daq.streams[stream].rate_hz)  # type: ignore[union-attr]

    def n_samples(self, stream: str) -> int:
        """Samples of ``stream`` in the whole recording."""
        clock = self.stream_clocks.get(stream, Clock())
        return int(np.floor(clock.to_device(self.duration_s) * self.rate(stream)))

    def sample_times(self, stream: str, start: int, n: int) -> np.ndarray:
        """Master-clock times of samples ``start … start+n-1`` of ``stream``."""
        clock = self.stream_clocks.get(stream, Clock())
        return clock.to_master((start + np.arange(n)) / self.rate(stream))

    def block(self, stream: str, start: int, n: int) -> np.ndarray:
        """Raw volts ``(n, n_channels)`` float32 of ``stream`` from sample ``start`` (≥ 0)."""
        if stream not in self.streams:
            raise InputError(f"unknown DAQ stream {stream!r}; the rig's streams are {self.streams}")
        if start < 0 or n < 0:
            raise InputError(f"block start and size must be ≥ 0, found {start}, {n}")
        n_ch = len(self.rig.channels_of(stream))
        out = np.empty((n, n_ch), dtype=np.float32)
        pos = 0
        while pos < n:
            c, off = divmod(start + pos, CHUNK)
            take = min(CHUNK - off, n - pos)
            out[pos : pos + take] = self._chunk(stream, c)[off : off + take]
            pos += take
        return out

    def syncbox_pulses_master_s(self) -> np.ndarray:
        """The sync box's pulse onsets on the master clock, s."""
        return self.syncbox_clock.to_master(self.syncbox_pulses_device_s)

    def syncbox_pulse_samples(self) -> np.ndarray:
        """First master-stream sample at which each sync pulse is high."""
        return first_sample(self.syncbox_pulses_master_s(), self.rate(self.master))

    # ------------------------------------------------------------------ chunks
    def _chunk(self, stream: str, c: int) -> np.ndarray:
        key = (stream, c)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        chans = self.rig.channels_of(stream)
        t = self.sample_times(stream, c * CHUNK, CHUNK)
        cols = [self._channel(stream, i, ch, c, t) for i, ch in enumerate(chans)]
        raw = np.stack([self._to_raw(ch, v) for ch, v in zip(chans, cols, strict=True)], axis=1)
        out = raw.astype(np.float32)
        self._cache[key] = out
        if len(self._cache) > 64:
            self._cache.popitem(last=False)
        return out

    def _rng(self, stream: str, channel: int, c: int, what: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.streams.index(stream), channel, what, c])

    def _white(self, stream: str, channel: int, c: int, what: int) -> np.ndarray:
        if c < 0:
            c = 2**40 - c  # before the recording: any fixed noise
        return self._rng(stream, channel, c, what).standard_normal(CHUNK)

    def _filtered_noise(self, stream: str, channel: int, c: int, taps: np.ndarray) -> np.ndarray:
        w = np.concatenate(
            [
                self._white(stream, channel, c - 1, 1)[-(len(taps) - 1) :],
                self._white(stream, channel, c, 1),
            ]
        )
        from scipy.signal import oaconvolve

        return np.asarray(oaconvolve(w, taps, mode="valid"))

    def _channel(self, stream: str, i: int, ch: ChannelSpec, c: int, t: np.ndarray) -> np.ndarray:
        o = self.options
        noise = self._white(stream, i, c, 0)
        if ch.kind == "emg":
            taps = carrier_filter(self.rate(stream))
            mine = [b for b in self.bursts if b.channel == ch.name]
            v = envelope(t, mine) * self._filtered_noise(stream, i, c, taps)
            v = v + o.emg_noise_v * noise
            if o.mains_hz:
                v = v + o.mains_v * (
                    np.sin(2 * np.pi * o.mains_hz * t + 0.3)
                    + 0.3 * np.sin(2 * np.pi * 3 * o.mains_hz * t + 1.1)
                )
            return v
        if ch.kind == "force":
            drift = o.force_drift_n_per_s * t + 0.002 * np.sin(2 * np.pi * t / 37.0 + self.seed)
            return self.force(t) + drift + o.force_noise_n * noise
        if ch.kind == "displacement":
            return self._displacement(stream, t) + o.displacement_noise_mm * noise
        if ch.kind == "ttl":
            if ch.name in self._exposure_channels:
                high = self._exposure_high(t)
            elif ch.name == self._sync_channel:
                high = _in_intervals(t, self.syncbox_pulses_master_s(), o.sync_pulse_s)
            else:
                high = np.zeros(t.shape, bool)
            return o.ttl_high_v * high + o.ttl_noise_v * noise
        return 1e-3 * noise

    def _to_raw(self, ch: ChannelSpec, physical: np.ndarray) -> np.ndarray:
        raw = (physical - ch.offset) / ch.scale if ch.kind != "ttl" else physical
        lo, hi = ch.range_v
        raw = np.clip(raw, lo, hi)
        bits = self.options.quantise_bits
        if bits:
            step = (hi - lo) / 2**bits
            raw = lo + np.round((raw - lo) / step) * step
        return raw

    # ------------------------------------------------------------------ physics
    def force(self, t: np.ndarray) -> np.ndarray:
        """Vertical ground reaction force (N) at master times ``t``; body weight between trials."""
        out = np.full(t.shape, self.mass * G)
        for timing, jump in self.trials:
            inside = (t >= timing.start_s) & (t < timing.start_s + timing.duration_s)
            if inside.any():
                out[inside] = jump.force_z(t[inside] - timing.start_s)
        return out

    def _displacement(self, stream: str, t: np.ndarray) -> np.ndarray:
        """Platform deflection (mm, down negative): force through a damped resonance."""
        rate = self.rate(stream)
        n = int(0.03 * rate)
        tt = np.arange(n) / rate
        w0 = 2 * np.pi * self.options.platform_resonance_hz
        zeta = 0.15
        wd = w0 * np.sqrt(1 - zeta**2)
        h = np.exp(-zeta * w0 * tt) * np.sin(wd * tt)
        h /= h.sum()
        hist = t[0] - np.arange(n - 1, 0, -1) / rate
        f = self.force(np.concatenate([hist, t]))
        from scipy.signal import oaconvolve

        return (
            -np.asarray(oaconvolve(f, h, mode="valid")) / self.options.platform_stiffness_n_per_mm
        )

    def _exposure_intervals(self) -> tuple[np.ndarray, np.ndarray]:
        starts, widths = [], []
        exp_s = self._exposure_us * 1e-6
        for timing, _ in self.trials:
            times = timing.frame_times()
            keep = [k for k in range(timing.n_frames) if (timing.name, k) not in self.ttl_missing]
            starts.append(times[keep])
            widths.append(np.full(len(keep), exp_s))
        for start, width in self.ttl_extra:
            starts.append(np.array([start]))
            widths.append(np.array([width]))
        if not starts:
            return np.zeros(0), np.zeros(0)
        s, w = np.concatenate(starts), np.concatenate(widths)
        order = np.argsort(s)
        return s[order], w[order]

    def _exposure_high(self, t: np.ndarray) -> np.ndarray:
        s, w = self._frames
        if not len(s):
            return np.zeros(t.shape, bool)
        i = np.searchsorted(s, t + 1e-9, side="right") - 1
        ok = i >= 0
        return (
            ok
            & (t + 1e-9 >= s[np.maximum(i, 0)])
            & (t + 1e-9 < s[np.maximum(i, 0)] + w[np.maximum(i, 0)])
        )

    def _syncbox_pulses(self) -> np.ndarray:
        """The sync box's pulse times on its own clock, covering the recording."""
        rng = np.random.default_rng([self.seed, 99])
        lo, hi = self.options.sync_interval_s
        first = float(self.syncbox_clock.to_device(0.2))
        end = float(self.syncbox_clock.to_device(self.duration_s))
        n = int((end - first) / lo) + 2
        times = first + np.concatenate([[0.0], np.cumsum(rng.uniform(lo, hi, n))])
        return times[times < end - self.options.sync_pulse_s]


def _in_intervals(t: np.ndarray, starts: np.ndarray, width: float) -> np.ndarray:
    if not len(starts):
        return np.zeros(t.shape, bool)
    i = np.searchsorted(starts, t + TOL_S, side="right") - 1
    j = np.maximum(i, 0)
    return (i >= 0) & (t + TOL_S < starts[j] + width)


def stream_source(signals: SessionSignals) -> BlockSource:
    """The block source of a simulated session, for a simulated DAQ backend.

    Returns ``source(stream_name, start_sample, n_samples) -> ndarray`` of raw volts, shape
    ``(n_samples, n_channels)`` float32, channels in the rig's order for that stream
    (``rig.channels_of(stream_name)``). Pure and deterministic: the same samples whatever the
    block partition (one block of 20 000 or 1 000 blocks of 20). Valid for any
    ``start_sample ≥ 0``; past ``signals.n_samples(stream)`` the mouse stands still and the
    noise goes on, so a recorder may read a little longer than the planned session.
    """
    return signals.block


def write_raw_daq(
    path: str | Path,
    signals: SessionSignals,
    *,
    block_s: float = 1.0,
    created_utc: str | None = "1970-01-01T00:00:00+00:00",
    metadata: dict | None = None,
) -> None:
    """Write the session's streams into a raw DAQ file (as the recorder would).

    ``created_utc`` is fixed by default so that the same seed gives a byte-identical file.
    Trial starts are recorded as ``trial`` events at their master-stream sample.
    """
    from mocap3d.io.rawdaq import ChannelInfo, RawDaqWriter, StreamInfo

    rig = signals.rig
    infos = []
    for name in signals.streams:
        chans = tuple(
            ChannelInfo(c.name, c.unit, c.scale, c.offset, c.terminal)
            for c in rig.channels_of(name)
        )
        infos.append(StreamInfo(name, signals.rate(name), chans))
    meta = {"rig": rig.name, "source": "mocap3d.simulate", "seed": signals.seed, **(metadata or {})}
    with RawDaqWriter(
        Path(path), infos, signals.master, metadata=meta, created_utc=created_utc
    ) as writer:
        for timing, _ in signals.trials:
            writer.add_event(
                "trial", sample=timing.start_sample, stream=signals.master, message=timing.name
            )
        for name in signals.streams:
            total = signals.n_samples(name)
            step = max(int(block_s * signals.rate(name)), 1)
            for start in range(0, total, step):
                writer.append(name, signals.block(name, start, min(step, total - start)))
