"""A simulated DAQ: the same blocks a hardware DAQ delivers, from a deterministic source.

:class:`SimDaqBackend` takes a :data:`~mocap3d.acquisition.daq.BlockSource` (e.g. the
simulator's mouse-jump streams, or :func:`pattern_source`) and delivers its samples in
blocks, stream by stream in time order, either on a real-time clock (``speed=1``, or ``k``
times faster) or as fast as the consumer takes them (``speed=None``). On a clock it behaves
like hardware: if the consumer blocks it for longer than the buffer holds, it reports an
overflow and stops. Other devices can be wired into a channel (``wires``), e.g. the sync box
emulator's TTL output, and see the same session clock (:meth:`SimDaqBackend.now_s`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from mocap3d.acquisition.daq import (
    AcquisitionError,
    Block,
    BlockCallback,
    BlockSource,
    DaqConfig,
    DaqFault,
    FaultCallback,
)

log = logging.getLogger(__name__)

Wire = Callable[[int, int, float], np.ndarray]
"""A signal wired into a DAQ channel: ``wire(start_sample, n_samples, rate_hz)`` → volts (n,)."""

_CHUNK = 1 << 14
_NOISE_V = {"emg": 0.02, "force": 0.005, "displacement": 0.002, "ttl": 0.01, "analog": 0.01}
_OFFSET_V = {"force": 0.1}
TTL_HIGH_V = 5.0


def pattern_source(
    config: DaqConfig,
    *,
    exposure_channels: Sequence[str] = (),
    fps: float | None = None,
    exposure_s: float | None = None,
    seed: int = 0,
) -> BlockSource:
    """A small deterministic source: noise on every channel, exposure pulses on TTL channels.

    Each channel gets Gaussian noise whose size depends on its kind (EMG 20 mV, force
    5 mV around 0.1 V …); the ``exposure_channels`` carry 5 V pulses of ``exposure_s`` rising
    at ``k / fps`` s (the camera trigger), other TTL channels stay low. Samples depend only on
    ``(stream, sample index)``, never on how the blocks are cut.

    Parameters
    ----------
    config : DaqConfig
    exposure_channels : sequence of str
        Channels that record the cameras' exposure output.
    fps : float, optional
        Trigger rate; default the config's trigger fps (no pulses if neither is given).
    exposure_s : float, optional
        Pulse length; default 20 % of the frame period.
    seed : int
    """
    fps = fps if fps is not None else (config.trigger.fps if config.trigger else None)
    high_s = exposure_s if exposure_s is not None else (0.2 / fps if fps else 0.0)
    index = {s.name: i for i, s in enumerate(config.streams)}
    sigma = {
        s.name: np.array([_NOISE_V.get(c.kind, 0.01) for c in s.channels], np.float32)
        for s in config.streams
    }
    offset = {
        s.name: np.array([_OFFSET_V.get(c.kind, 0.0) for c in s.channels], np.float32)
        for s in config.streams
    }
    pulsed = {
        s.name: [i for i, c in enumerate(s.channels) if c.name in exposure_channels]
        for s in config.streams
    }
    rates = {s.name: s.rate_hz for s in config.streams}

    def source(stream: str, start: int, n: int) -> np.ndarray:
        first, last = start // _CHUNK, (start + n - 1) // _CHUNK
        noise = np.concatenate(
            [
                np.random.default_rng([seed, index[stream], c]).standard_normal(
                    (_CHUNK, len(sigma[stream])), dtype=np.float32
                )
                for c in range(first, last + 1)
            ]
        )
        lo = start - first * _CHUNK
        out = noise[lo : lo + n] * sigma[stream] + offset[stream]
        if fps and pulsed[stream]:
            ttl = pulse_train(start, n, rates[stream], t0_s=0.0, fps=fps, high_s=high_s)
            out[:, pulsed[stream]] += ttl[:, None]
        return out.astype(np.float64)

    return source


def pulse_train(
    start: int,
    n: int,
    rate_hz: float,
    *,
    t0_s: float,
    fps: float,
    high_s: float,
    stop_s: float = np.inf,
    n_pulses: int | None = None,
) -> np.ndarray:
    """Volts (n,) of a pulse train sampled at ``rate_hz`` from sample ``start``.

    Pulse ``k`` is high during ``[t0 + k/fps, t0 + k/fps + high_s)`` for every ``k ≥ 0``
    with ``t0 + k/fps < stop_s`` and ``k < n_pulses``; pulses started before ``stop_s`` are
    completed.
    """
    t = np.arange(start, start + n, dtype=np.float64) / rate_hz
    phase = (t - t0_s) * fps + 1e-9
    k = np.floor(phase)
    high = (phase >= 0) & ((phase - k) < high_s * fps) & (t0_s + k / fps < stop_s)
    if n_pulses is not None:
        high &= k < n_pulses
    return np.where(high, TTL_HIGH_V, 0.0)


class SimDaqBackend:
    """Deliver a :data:`BlockSource` in blocks like a hardware DAQ.

    Parameters
    ----------
    source : BlockSource, optional
        Default: :func:`pattern_source` of the config (no exposure channels).
    speed : float or None
        ``1.0`` real time, ``k`` k times faster on a clock; ``None``: as fast as the consumer
        takes blocks (never overflows).
    wires : mapping of channel name → Wire, optional
        Replace a channel's signal by another device's output (e.g. the sync box emulator's
        :meth:`~mocap3d.acquisition.syncbox.SyncBoxEmulator.ttl`).
    inject_overflow_at_s : float, optional
        Report a buffer overflow (and stop) once the session clock reaches this time: a knob
        to exercise fault handling.
    """

    name = "sim"

    def __init__(
        self,
        source: BlockSource | None = None,
        *,
        speed: float | None = 1.0,
        wires: Mapping[str, Wire] | None = None,
        inject_overflow_at_s: float | None = None,
    ) -> None:
        if speed is not None and not speed > 0:
            raise AcquisitionError(f"simulated DAQ speed must be > 0 or None, found {speed}")
        self.source = source
        self.speed = speed
        self.wires = dict(wires or {})
        self.inject_overflow_at_s = inject_overflow_at_s
        self.config: DaqConfig | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._t0 = 0.0
        self._virtual_s = 0.0
        self.delivered: dict[str, int] = {}

    def configure(self, config: DaqConfig) -> None:
        known = {c.name for s in config.streams for c in s.channels}
        unknown = sorted(set(self.wires) - known)
        if unknown:
            raise AcquisitionError(
                f"simulated DAQ: wires to unknown channel(s) {unknown}; "
                f"channels are {sorted(known)}"
            )
        self.config = config
        if self.source is None:
            self.source = pattern_source(config)
        self.delivered = {s.name: 0 for s in config.streams}

    def now_s(self) -> float:
        """The session clock (seconds since the start trigger); 0 before the start."""
        if self._thread is None:
            return 0.0
        if self.speed is None:
            with self._lock:
                return self._virtual_s
        return (time.monotonic() - self._t0) * self.speed

    def start(self, on_block: BlockCallback, on_fault: FaultCallback) -> None:
        if self.config is None:
            raise AcquisitionError("configure() the simulated DAQ before start()")
        if self._thread is not None:
            raise AcquisitionError("the simulated DAQ is already running")
        self._stop.clear()
        self._t0 = time.monotonic()
        self._thread = threading.Thread(
            target=self._run, args=(on_block, on_fault), name="sim-daq", daemon=True
        )
        self._thread.start()

    def _run(self, on_block: BlockCallback, on_fault: FaultCallback) -> None:
        cfg = self.config
        assert cfg is not None and self.source is not None
        nxt = dict.fromkeys(self.delivered, 0)
        try:
            while not self._stop.is_set():
                s = min(cfg.streams, key=lambda s: (nxt[s.name] + s.samples_per_block) / s.rate_hz)
                start, n = nxt[s.name], s.samples_per_block
                t_end = (start + n) / s.rate_hz
                if self.speed is not None:
                    wait = t_end / self.speed - (time.monotonic() - self._t0)
                    if wait > 0 and self._stop.wait(wait):
                        break
                    lag = self.now_s() - t_end
                    if lag > cfg.buffer_s:
                        on_fault(self._overflow(s.name, start, lag * s.rate_hz, "consumer"))
                        return
                if self.inject_overflow_at_s is not None and t_end > self.inject_overflow_at_s:
                    on_fault(self._overflow(s.name, start, None, "injected"))
                    return
                with self._lock:
                    self._virtual_s = max(self._virtual_s, t_end)
                data = np.array(self.source(s.name, start, n), dtype=np.float64)
                if data.shape != (n, len(s.channels)):
                    raise AcquisitionError(
                        f"simulated DAQ source returned shape {data.shape} for stream "
                        f"{s.name!r}; expected ({n}, {len(s.channels)}) (samples, channels)"
                    )
                for i, c in enumerate(s.channels):
                    if c.name in self.wires:
                        data[:, i] = self.wires[c.name](start, n, s.rate_hz)
                on_block(Block(s.name, start, data))
                nxt[s.name] = start + n
                self.delivered[s.name] = start + n
        except Exception as exc:  # reported to the recorder, which stops cleanly
            log.exception("simulated DAQ failed")
            on_fault(DaqFault("error", cfg.master_stream, nxt[cfg.master_stream], str(exc)))

    def _overflow(self, stream: str, sample: int, lost: float | None, why: str) -> DaqFault:
        text = (
            "buffer overflow injected by the simulator"
            if why == "injected"
            else "buffer overflow: the recorder did not take samples in time "
            f"(more than {self.config.buffer_s if self.config else 0:g} s behind)"
        )
        return DaqFault("overflow", stream, sample, text, None if lost is None else int(lost))

    def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def close(self) -> None:
        self.stop()
