"""NI DAQ backend through ``nidaqmx`` (imported only here, only when used).

Tasks, for a rig whose master stream is on ``Dev1`` (see ``docs/acquisition.md``, Wiring):

- one analog-input task per stream (``mocap3d-<stream>``): a voltage channel per rig channel
  (terminal, range, terminal configuration), hardware-timed continuous sampling at the
  stream's rate into a buffer of ``buffer_s`` seconds, an every-N-samples callback that reads
  each block of ``samples_per_block`` samples and hands it to the recorder;
- non-master streams and the camera trigger are armed to start on ``/Dev1/ai/StartTrigger``;
- a counter-output task (``mocap3d-camera-trigger``): a continuous pulse train at the camera
  fps and duty cycle on the rig's output terminal, so trigger ``k`` rises at ``k / fps`` s;
- start order: counter, other streams, master stream last (its start is the trigger).

Reads that fail because samples were overwritten or the device FIFO overflowed are reported
as an ``overflow`` fault; any other DAQmx error as an ``error`` fault. Pass ``grpc_options``
(``nidaqmx.GrpcSessionOptions``) to drive a DAQ behind NI's gRPC device server.
"""

from __future__ import annotations

import logging
import math
import threading
from typing import Any, Literal

import numpy as np

from mocap3d.acquisition.daq import (
    AcquisitionError,
    Block,
    BlockCallback,
    DaqConfig,
    DaqFault,
    DaqUnavailableError,
    FaultCallback,
    StreamConfig,
)
from mocap3d.errors import Problem, ProblemsError

log = logging.getLogger(__name__)

OVERFLOW_CODES = {-200279, -200361, -200010}  # samples no longer available, FIFO overflows
_TERMINAL = {
    "default": "DEFAULT",
    "rse": "RSE",
    "nrse": "NRSE",
    "differential": "DIFF",
    "pseudodifferential": "PSEUDO_DIFF",
}
NO_DRIVER = (
    "NI-DAQmx driver not found ({exc}): install NI-DAQmx (https://www.ni.com/en/support/"
    "downloads/drivers/download.ni-daq-mx.html; on Linux see `python -m nidaqmx installdriver`), "
    "or run with --sim to record simulated streams"
)


def _import_nidaqmx() -> Any:
    try:
        import nidaqmx
        import nidaqmx.system
    except ImportError as exc:  # pragma: no cover - nidaqmx is a core dependency
        raise DaqUnavailableError(
            f"the nidaqmx package is missing ({exc}): pip install nidaqmx"
        ) from None
    return nidaqmx


class NidaqmxBackend:
    """Acquire the rig's streams on NI hardware (see the module docstring).

    Parameters
    ----------
    grpc_options : nidaqmx.GrpcSessionOptions, optional
        Talk to NI's gRPC device server instead of the local driver.
    read_timeout_s : float
        Longest wait for one block once the device said it is there.
    owns_channel : bool
        Close ``grpc_options``' channel in :meth:`close` (when this backend made it).
    """

    name = "nidaqmx"

    def __init__(
        self, *, grpc_options: Any = None, read_timeout_s: float = 2.0, owns_channel: bool = False
    ) -> None:
        self.grpc_options = grpc_options
        self.owns_channel = owns_channel
        self.read_timeout_s = read_timeout_s
        self.config: DaqConfig | None = None
        self.tasks: dict[str, Any] = {}  # stream name → AI task
        self.trigger_task: Any = None
        self._counts: dict[str, int] = {}
        self._failed = threading.Event()  # a read failed: ignore further callbacks
        self._stopping = threading.Event()  # stop() called: reads may fail, say nothing
        self._started = False

    # ------------------------------------------------------------------ configure
    def configure(self, config: DaqConfig) -> None:
        nidaqmx = _import_nidaqmx()
        self.config = config
        try:
            self._check_hardware(nidaqmx, config)
            for stream in config.streams:
                self.tasks[stream.name] = self._ai_task(nidaqmx, config, stream)
            if config.trigger is not None:
                self.trigger_task = self._trigger_task(nidaqmx, config)
        except nidaqmx.errors.DaqNotFoundError as exc:
            self.close()
            raise DaqUnavailableError(NO_DRIVER.format(exc=exc)) from None
        except nidaqmx.errors.RpcError as exc:
            self.close()
            raise DaqUnavailableError(
                f"cannot reach the NI gRPC device server ({exc}); is it running and reachable?"
            ) from None
        except nidaqmx.errors.DaqError as exc:
            self.close()
            raise AcquisitionError(
                f"NI-DAQmx refused the rig's settings (error {exc.error_code}): {exc}"
            ) from None
        self._counts = {s.name: 0 for s in config.streams}

    def _task(self, nidaqmx: Any, name: str) -> Any:
        return nidaqmx.Task(name, grpc_options=self.grpc_options)

    def _check_hardware(self, nidaqmx: Any, config: DaqConfig) -> None:
        """Every device, AI terminal and counter of the rig exists — or one error lists all."""
        system = (
            nidaqmx.system.System.remote(self.grpc_options)
            if self.grpc_options is not None
            else nidaqmx.system.System.local()
        )
        present = list(system.devices.device_names)
        problems: list[Problem] = []
        checked: dict[str, tuple[str, set[str], set[str]]] = {}
        for dev in {s.device for s in config.streams}:
            if dev not in present:
                continue
            d = nidaqmx.system.Device(dev, grpc_options=self.grpc_options)
            ai = {n.split("/")[-1].lower() for n in d.ai_physical_chans.channel_names}
            co = {n.split("/")[-1].lower() for n in d.co_physical_chans.channel_names}
            checked[dev] = (d.product_type, ai, co)
        for s in config.streams:
            if s.device not in checked:
                problems.append(
                    Problem(
                        f"daq.streams.{s.name}.device",
                        f"device {s.device!r} is not present (found {present or 'no devices'})",
                        "check the cable/power and the device name in NI MAX (or "
                        "`nidaqmx.system.System.local().devices`), or run with --sim",
                    )
                )
                continue
            product, ai, _ = checked[s.device]
            for c in s.channels:
                if c.terminal.lower() not in ai:
                    problems.append(
                        Problem(
                            f"daq.channels({c.name}).terminal",
                            f"{s.device} ({product}) has no analog input {c.terminal!r}; "
                            f"it has {_span(ai)}",
                            "wire the channel to an existing terminal and fix the rig",
                        )
                    )
        t = config.trigger
        if t is not None and t.device in checked:
            product, _, co = checked[t.device]
            if t.counter.lower() not in co:
                problems.append(
                    Problem(
                        "daq.camera_trigger.counter",
                        f"{t.device} ({product}) has no counter {t.counter!r}; it has {_span(co)}",
                        "use one of its counters",
                    )
                )
        if problems:
            raise ProblemsError("DAQ hardware check", problems)

    def _ai_task(self, nidaqmx: Any, config: DaqConfig, stream: StreamConfig) -> Any:
        from nidaqmx.constants import AcquisitionType, TerminalConfiguration, VoltageUnits

        task = self._task(nidaqmx, f"mocap3d-{stream.name}")
        for c, physical in zip(stream.channels, stream.physical_channels, strict=True):
            task.ai_channels.add_ai_voltage_chan(
                physical,
                name_to_assign_to_channel=c.name,
                terminal_config=getattr(TerminalConfiguration, _TERMINAL[c.terminal_config]),
                min_val=c.range_v[0],
                max_val=c.range_v[1],
                units=VoltageUnits.VOLTS,
            )
        n = stream.samples_per_block
        blocks = max(2, 2 * math.ceil(config.buffer_s * stream.rate_hz / n / 2))  # even multiple
        task.timing.cfg_samp_clk_timing(
            stream.rate_hz, sample_mode=AcquisitionType.CONTINUOUS, samps_per_chan=blocks * n
        )
        if stream.name != config.master_stream:
            task.triggers.start_trigger.cfg_dig_edge_start_trig(
                f"/{config.master.device}/ai/StartTrigger"
            )
        return task

    def _trigger_task(self, nidaqmx: Any, config: DaqConfig) -> Any:
        from nidaqmx.constants import AcquisitionType, FrequencyUnits, Level

        t = config.trigger
        assert t is not None
        task = self._task(nidaqmx, "mocap3d-camera-trigger")
        chan = task.co_channels.add_co_pulse_chan_freq(
            f"{t.device}/{t.counter}",
            name_to_assign_to_channel="camera_trigger",
            units=FrequencyUnits.HZ,
            idle_state=Level.LOW,
            initial_delay=0.0,
            freq=t.fps,
            duty_cycle=t.duty_cycle,
        )
        chan.co_pulse_term = f"/{t.device}/{t.output_terminal}"
        task.timing.cfg_implicit_timing(sample_mode=AcquisitionType.CONTINUOUS)
        task.triggers.start_trigger.cfg_dig_edge_start_trig(t.start_trigger)
        return task

    # ---------------------------------------------------------------------- run
    def start(self, on_block: BlockCallback, on_fault: FaultCallback) -> None:
        if self.config is None:
            raise AcquisitionError("configure() the NI-DAQmx backend before start()")
        from nidaqmx.stream_readers import AnalogMultiChannelReader

        cfg = self.config
        self._stopping.clear()
        self._failed.clear()
        for s in cfg.streams:
            task = self.tasks[s.name]
            reader = AnalogMultiChannelReader(task.in_stream)
            reader.verify_array_shape = False
            task.register_every_n_samples_acquired_into_buffer_event(
                s.samples_per_block, self._callback(s, reader, on_block, on_fault)
            )
        if self.trigger_task is not None:
            self.trigger_task.start()  # armed: waits for the master's start trigger
        for s in cfg.streams[1:]:
            self.tasks[s.name].start()
        self.tasks[cfg.master_stream].start()
        self._started = True

    def _callback(
        self, s: StreamConfig, reader: Any, on_block: BlockCallback, on_fault: FaultCallback
    ) -> Any:
        import nidaqmx.errors

        n, n_ch = s.samples_per_block, len(s.channels)

        def every_n(task_handle: Any, event_type: int, n_samples: int, data: Any) -> int:
            if self._failed.is_set() or self._stopping.is_set():
                return 0
            buf = np.empty((n_ch, n), dtype=np.float64)
            try:
                reader.read_many_sample(
                    buf, number_of_samples_per_channel=n, timeout=self.read_timeout_s
                )
            except nidaqmx.errors.DaqError as exc:
                if self._stopping.is_set():
                    return 0
                self._failed.set()
                kind: Literal["overflow", "error"] = (
                    "overflow" if exc.error_code in OVERFLOW_CODES else "error"
                )
                on_fault(DaqFault(kind, s.name, self._counts[s.name], _first_line(exc)))
                return 0
            except Exception as exc:  # never let an exception escape into the driver
                self._failed.set()
                on_fault(DaqFault("error", s.name, self._counts[s.name], str(exc)))
                return 0
            start = self._counts[s.name]
            self._counts[s.name] = start + n
            on_block(Block(s.name, start, buf.T.copy()))
            return 0

        return every_n

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        self._stopping.set()
        cfg = self.config
        assert cfg is not None
        order = [cfg.master_stream] + [s.name for s in cfg.streams[1:]]
        for name in order:
            self._quietly(self.tasks[name].stop)
        if self.trigger_task is not None:
            self._quietly(self.trigger_task.stop)

    def close(self) -> None:
        self.stop()
        for task in [*self.tasks.values(), self.trigger_task]:
            if task is not None:
                self._quietly(task.close)
        self.tasks.clear()
        self.trigger_task = None
        if self.owns_channel and self.grpc_options is not None:
            self._quietly(self.grpc_options.grpc_channel.close)

    @staticmethod
    def _quietly(call: Any) -> None:
        try:
            call()
        except Exception as exc:  # stopping/closing must go on for the other tasks
            log.warning("NI-DAQmx: %s", _first_line(exc))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _span(names: set[str]) -> str:
    """``{'ai0', 'ai1', 'ai2'}`` → ``ai0…ai2 (3)``."""
    if not names:
        return "none"
    order = sorted(
        names, key=lambda t: (t.rstrip("0123456789"), int("0" + t[len(t.rstrip("0123456789")) :]))
    )
    return f"{order[0]}…{order[-1]} ({len(order)})" if len(order) > 3 else ", ".join(order)
