"""The DAQ backend protocol: what the recorder needs from a data acquisition device.

A backend is configured from the rig's ``[daq]`` section (:class:`DaqConfig`), then started
with two callbacks: ``on_block`` receives every block of samples of every stream, in order,
and ``on_fault`` receives buffer overflows and device errors. Two backends implement it:
:class:`mocap3d.acquisition.nidaq.NidaqmxBackend` (an NI DAQ through ``nidaqmx``) and
:class:`mocap3d.acquisition.simdaq.SimDaqBackend` (simulated streams).

Clocks: every stream is hardware-timed; the master stream's sample clock is the session clock.
All streams and the camera-trigger counter start on the master stream's start trigger, so
sample ``i`` of a stream at ``rate_hz`` is at ``i / rate_hz`` seconds on the session clock and
camera trigger ``k`` rises at ``k / fps`` seconds.

Threading: backends call ``on_block`` and ``on_fault`` from their own threads. ``on_block``
may block (the recorder applies back-pressure that way); a backend on a real clock must keep
acquiring meanwhile and report an overflow if its buffer runs out.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from mocap3d.errors import InputError
from mocap3d.rig import Rig

TerminalConfig = Literal["default", "rse", "nrse", "differential", "pseudodifferential"]

BlockSource = Callable[[str, int, int], np.ndarray]
"""A pure, deterministic source of raw samples: ``source(stream, start_sample, n_samples)``
returns volts of shape ``(n_samples, n_channels)``, channels in the rig's order for that
stream. ``mocap3d.simulate.daq`` provides one from simulated mice; any function will do."""


class AcquisitionError(InputError):
    """The DAQ, sync box, cameras or disk are not what the recording needs.

    Raised before anything is recorded (no driver, device or channel missing, port absent),
    so it is reported like bad input: one message that says what to do, exit code 2.
    """


class DaqUnavailableError(AcquisitionError):
    """The DAQ driver or device cannot be reached."""


@dataclass(frozen=True)
class ChannelConfig:
    """One analog input: ``physical = volts · scale + offset`` in ``unit``."""

    name: str
    terminal: str
    range_v: tuple[float, float] = (-10.0, 10.0)
    terminal_config: TerminalConfig = "default"
    unit: str = "V"
    scale: float = 1.0
    offset: float = 0.0
    kind: str = "analog"


@dataclass(frozen=True)
class StreamConfig:
    """Channels sampled together on one device's hardware clock."""

    name: str
    device: str
    rate_hz: float
    channels: tuple[ChannelConfig, ...]
    samples_per_block: int

    @property
    def channel_names(self) -> list[str]:
        return [c.name for c in self.channels]

    @property
    def physical_channels(self) -> list[str]:
        """``Dev1/ai0``-style names, in channel order."""
        return [f"{self.device}/{c.terminal}" for c in self.channels]

    def channel_index(self, name: str) -> int:
        return self.channel_names.index(name)


@dataclass(frozen=True)
class TriggerConfig:
    """A counter-output pulse train that triggers the cameras.

    The counter (``device/counter``) emits ``fps`` pulses per second with ``duty_cycle`` on
    ``/device/output_terminal``, armed to start on ``start_trigger`` (the master stream's
    ``/DevN/ai/StartTrigger``), so trigger ``k`` rises at ``k / fps`` s on the session clock.
    """

    device: str
    counter: str
    output_terminal: str
    fps: float
    duty_cycle: float
    start_trigger: str
    cameras: tuple[str, ...]

    def frames_by(self, n_samples: int, rate_hz: float) -> int:
        """Trigger pulses whose rising edge (at ``k / fps`` s) is sampled within the first
        ``n_samples`` samples at ``rate_hz``, i.e. at or before sample ``n_samples - 1`` — the
        number of edges those samples show on an exposure channel."""
        if n_samples <= 0:
            return 0
        return math.floor((n_samples - 1) * self.fps / rate_hz + 1e-9) + 1


@dataclass(frozen=True)
class DaqConfig:
    """Everything a backend needs to set up an acquisition, built from a rig.

    Attributes
    ----------
    streams : tuple of StreamConfig
        Master stream first, then the others in the rig's order.
    master_stream : str
    trigger : TriggerConfig or None
        The camera trigger counter, if the rig has ``[daq.camera_trigger]``.
    buffer_s : float
        Seconds of samples the backend buffers before it reports an overflow.
    """

    streams: tuple[StreamConfig, ...]
    master_stream: str
    trigger: TriggerConfig | None = None
    buffer_s: float = 10.0
    rig_name: str = ""

    @property
    def master(self) -> StreamConfig:
        return self.stream(self.master_stream)

    def stream(self, name: str) -> StreamConfig:
        for s in self.streams:
            if s.name == name:
                return s
        raise InputError(f"no DAQ stream {name!r}; streams are {[s.name for s in self.streams]}")

    @classmethod
    def from_rig(cls, rig: Rig, *, block_s: float = 0.1, buffer_s: float = 10.0) -> DaqConfig:
        """Build the acquisition settings of a rig's ``[daq]`` section.

        Parameters
        ----------
        rig : Rig
        block_s : float
            Duration of the blocks handed to the recorder, in seconds (each stream's block
            holds ``round(rate_hz · block_s)`` samples).
        buffer_s : float
            Seconds of samples the device buffer holds before it overflows.
        """
        if rig.daq is None:
            raise InputError(
                f"rig {rig.name!r} has no [daq] section; add one (see rigs/mouse-jump-4cam.toml)"
            )
        if not 0.001 <= block_s <= 10 or buffer_s < 2 * block_s:
            raise InputError(
                f"block_s must be in [0.001, 10] s and buffer_s ≥ 2·block_s, found "
                f"block_s={block_s}, buffer_s={buffer_s}"
            )
        daq = rig.daq
        order = [daq.master_stream] + [n for n in daq.streams if n != daq.master_stream]
        streams = []
        for name in order:
            spec = daq.streams[name]
            chans = tuple(
                ChannelConfig(
                    name=c.name,
                    terminal=c.terminal,
                    range_v=(float(c.range_v[0]), float(c.range_v[1])),
                    terminal_config=c.terminal_config,
                    unit=c.unit,
                    scale=c.scale,
                    offset=c.offset,
                    kind=c.kind,
                )
                for c in rig.channels_of(name)
            )
            if not chans:
                raise InputError(
                    f"rig {rig.name!r}: DAQ stream {name!r} has no channels; add channels with "
                    f'stream = "{name}" or remove [daq.streams.{name}]'
                )
            n_block = max(1, round(spec.rate_hz * block_s))
            streams.append(
                StreamConfig(name, spec.device or daq.device, spec.rate_hz, chans, n_block)
            )
        trigger = None
        if daq.camera_trigger is not None:
            ct = daq.camera_trigger
            names = tuple(ct.cameras) or tuple(rig.camera_names)
            rates = sorted({rig.camera(n).fps for n in names})
            if len(rates) != 1:
                raise InputError(
                    f"rig {rig.name!r}: cameras {list(names)} share the trigger counter "
                    f"{ct.counter} but have different fps {rates}; give them one fps or "
                    "list the cameras of the trigger in daq.camera_trigger.cameras"
                )
            master_device = streams[0].device
            trigger = TriggerConfig(
                device=master_device,
                counter=ct.counter,
                output_terminal=ct.output_terminal,
                fps=rates[0],
                duty_cycle=ct.duty_cycle,
                start_trigger=f"/{master_device}/ai/StartTrigger",
                cameras=names,
            )
        return cls(tuple(streams), daq.master_stream, trigger, buffer_s, rig.name)


@dataclass(frozen=True)
class Block:
    """Consecutive samples of one stream.

    Attributes
    ----------
    stream : str
    start_sample : int
        Index of the first sample on the stream's clock (0 = the start trigger).
    data : ndarray, shape (n_samples, n_channels)
        Raw volts, channels in the stream's order.
    """

    stream: str
    start_sample: int
    data: np.ndarray

    @property
    def n_samples(self) -> int:
        return int(self.data.shape[0])


@dataclass(frozen=True)
class DaqFault:
    """Something went wrong while acquiring.

    ``kind`` is ``"overflow"`` when samples were lost because they were not read in time
    (the acquisition stops: a gap would break the clock), ``"error"`` for a device error.
    ``sample`` is the stream's sample count when it happened.
    """

    kind: Literal["overflow", "error"]
    stream: str
    sample: int
    message: str
    lost_samples: int | None = None
    fatal: bool = True


BlockCallback = Callable[[Block], None]
FaultCallback = Callable[[DaqFault], None]


class DaqBackend(Protocol):
    """What the recorder needs from a DAQ."""

    name: str

    def configure(self, config: DaqConfig) -> None:
        """Check the hardware and set up tasks; raises :class:`AcquisitionError` with a fix."""
        ...

    def start(self, on_block: BlockCallback, on_fault: FaultCallback) -> None:
        """Start acquiring (counter first, master stream last). Returns at once."""
        ...

    def stop(self) -> None:
        """Stop acquiring; no callback runs after it returns. Safe to call twice."""
        ...

    def close(self) -> None:
        """Release the hardware. Safe to call twice."""
        ...
