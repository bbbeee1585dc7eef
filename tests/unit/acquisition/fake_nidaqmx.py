"""A fake of NI's gRPC device service (NI-DAQmx API), in process, on loopback.

Built from the servicer stubs that ``nidaqmx`` ships, it answers the RPCs the real ``nidaqmx``
client sends for the calls mocap3d makes, records every request (so a test can check the
exact tasks, channels, timing and triggers configured), and acquires deterministic samples
on a clock once the master task starts: tasks armed on ``/DevN/ai/StartTrigger`` start with
it, every-N-samples events stream as samples accumulate, reads past the buffer fail with
DAQmx error -200279 as on hardware. Errors carry the ``ni-error`` trailing metadata that
``nidaqmx`` turns into ``DaqError``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf.json_format import MessageToDict
from nidaqmx._stubs import nidaqmx_pb2 as pb
from nidaqmx._stubs import nidaqmx_pb2_grpc as pbg

DEV_NAMES, PRODUCT_TYPE, AI_CHANS, CO_CHANS = 0x193B, 0x631, 0x231E, 0x2325
TASK_NAME, READ_NUM_CHANS = 0x1276, 0x217B


def sample_value(channel: int, i: Any) -> Any:
    """Volts of channel ``channel`` (index in its task) at sample ``i`` (scalar or array)."""
    return ((i * 37 + channel * 1009) % 2000) / 1000.0 - 1.0


@dataclass
class FakeTask:
    name: str
    ai: list[dict[str, Any]] = field(default_factory=list)
    co: list[dict[str, Any]] = field(default_factory=list)
    timing: dict[str, Any] | None = None
    start_trigger: str | None = None
    started: bool = False
    cleared: bool = False
    read_pos: int = 0

    @property
    def rate(self) -> float:
        return float(self.timing["rate"]) if self.timing else 0.0

    @property
    def buffer(self) -> int:
        return int(self.timing.get("sampsPerChan", 0)) if self.timing else 0


class FakeNiDaqmx(pbg.NiDAQmxServicer):  # type: ignore[misc]
    """The servicer. ``devices``: name → (product type, number of AI, number of counters)."""

    def __init__(self, devices: dict[str, tuple[str, int, int]], *, speed: float = 1.0) -> None:
        self.devices = devices
        self.speed = speed
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.tasks: dict[str, FakeTask] = {}
        self.t0: float | None = None  # when the master task started (the start trigger)
        self.lock = threading.Lock()

    # --------------------------------------------------------------------- helpers
    def _log(self, name: str, request: Any) -> None:
        with self.lock:
            self.calls.append((name, MessageToDict(request)))

    @staticmethod
    def _fail(context: Any, code: int, message: str) -> None:
        context.set_trailing_metadata((("ni-error", str(code)),))
        context.abort(grpc.StatusCode.UNKNOWN, message)

    def _chans(self, device: str, kind: str, n: int) -> str:
        return ", ".join(f"{device}/{kind}{i}" for i in range(n))

    def acquired(self, task: FakeTask) -> int:
        if not task.started or self.t0 is None or task.rate == 0:
            return 0
        return math.floor((time.monotonic() - self.t0) * self.speed * task.rate)

    def called(self, name: str) -> list[dict[str, Any]]:
        return [req for n, req in self.calls if n == name]

    # -------------------------------------------------------------------- system
    def GetSystemInfoAttributeUInt32(self, request: Any, context: Any) -> Any:
        return pb.GetSystemInfoAttributeUInt32Response(value=23)

    def GetSystemInfoAttributeString(self, request: Any, context: Any) -> Any:
        self._log("GetSystemInfoAttributeString", request)
        if request.attribute_raw == DEV_NAMES:
            return pb.GetSystemInfoAttributeStringResponse(value=", ".join(self.devices))
        self._fail(context, -200197, f"fake: system attribute {request.attribute_raw:#x}")

    def GetDeviceAttributeString(self, request: Any, context: Any) -> Any:
        self._log("GetDeviceAttributeString", request)
        dev = self.devices.get(request.device_name)
        if dev is None:
            self._fail(context, -200220, f"Device identifier is invalid: {request.device_name}")
        product, n_ai, n_ctr = dev  # type: ignore[misc]
        value = {
            PRODUCT_TYPE: product,
            AI_CHANS: self._chans(request.device_name, "ai", n_ai),
            CO_CHANS: self._chans(request.device_name, "ctr", n_ctr),
        }.get(request.attribute_raw)
        if value is None:
            self._fail(context, -200197, f"fake: device attribute {request.attribute_raw:#x}")
        return pb.GetDeviceAttributeStringResponse(value=value)

    def GetErrorString(self, request: Any, context: Any) -> Any:
        return pb.GetErrorStringResponse(error_string=f"fake DAQmx error {request.error_code}")

    # --------------------------------------------------------------------- tasks
    def _task(self, request: Any, context: Any) -> FakeTask:
        task = self.tasks.get(request.task.name)
        if task is None or task.cleared:
            self._fail(context, -200088, f"Task specified is invalid: {request.task.name}")
        return task  # type: ignore[return-value]

    def CreateTask(self, request: Any, context: Any) -> Any:
        self._log("CreateTask", request)
        self.tasks[request.session_name] = FakeTask(request.session_name)
        resp = pb.CreateTaskResponse(new_session_initialized=True)
        resp.task.name = request.session_name
        return resp

    def GetTaskAttributeString(self, request: Any, context: Any) -> Any:
        task = self._task(request, context)
        if request.attribute_raw != TASK_NAME:
            self._fail(context, -200197, f"fake: task attribute {request.attribute_raw:#x}")
        return pb.GetTaskAttributeStringResponse(value=task.name)

    def CreateAIVoltageChan(self, request: Any, context: Any) -> Any:
        self._log("CreateAIVoltageChan", request)
        task = self._task(request, context)
        dev, _, term = request.physical_channel.partition("/")
        if dev not in self.devices:
            self._fail(context, -200220, f"Device identifier is invalid: {dev}")
        if term not in self._chans(dev, "ai", self.devices[dev][1]).replace(f"{dev}/", "").split(
            ", "
        ):
            self._fail(
                context, -200170, f"Physical channel does not exist: {request.physical_channel}"
            )
        task.ai.append(MessageToDict(request))
        return pb.CreateAIVoltageChanResponse()

    def CreateCOPulseChanFreq(self, request: Any, context: Any) -> Any:
        self._log("CreateCOPulseChanFreq", request)
        self._task(request, context).co.append(MessageToDict(request))
        return pb.CreateCOPulseChanFreqResponse()

    def SetChanAttributeString(self, request: Any, context: Any) -> Any:
        self._log("SetChanAttributeString", request)
        return pb.SetChanAttributeStringResponse()

    def CfgSampClkTiming(self, request: Any, context: Any) -> Any:
        self._log("CfgSampClkTiming", request)
        self._task(request, context).timing = MessageToDict(request)
        return pb.CfgSampClkTimingResponse()

    def CfgImplicitTiming(self, request: Any, context: Any) -> Any:
        self._log("CfgImplicitTiming", request)
        return pb.CfgImplicitTimingResponse()

    def CfgDigEdgeStartTrig(self, request: Any, context: Any) -> Any:
        self._log("CfgDigEdgeStartTrig", request)
        self._task(request, context).start_trigger = request.trigger_source
        return pb.CfgDigEdgeStartTrigResponse()

    def GetReadAttributeUInt32(self, request: Any, context: Any) -> Any:
        task = self._task(request, context)
        if request.attribute_raw != READ_NUM_CHANS:
            self._fail(context, -200197, f"fake: read attribute {request.attribute_raw:#x}")
        return pb.GetReadAttributeUInt32Response(value=len(task.ai))

    def StartTask(self, request: Any, context: Any) -> Any:
        self._log("StartTask", request)
        task = self._task(request, context)
        task.started = True
        if task.start_trigger is None and task.ai:  # the master: its start is the trigger
            self.t0 = time.monotonic()
        return pb.StartTaskResponse()

    def StopTask(self, request: Any, context: Any) -> Any:
        self._log("StopTask", request)
        self._task(request, context).started = False
        return pb.StopTaskResponse()

    def ClearTask(self, request: Any, context: Any) -> Any:
        self._log("ClearTask", request)
        task = self.tasks.get(request.task.name)
        if task is not None:
            task.cleared, task.started = True, False
        return pb.ClearTaskResponse()

    def RegisterEveryNSamplesEvent(self, request: Any, context: Any) -> Iterator[Any]:
        self._log("RegisterEveryNSamplesEvent", request)
        task = self._task(request, context)
        context.send_initial_metadata(())
        n, k = request.n_samples, 0
        while context.is_active() and not task.cleared:
            if task.started and self.acquired(task) >= (k + 1) * n:
                k += 1
                yield pb.RegisterEveryNSamplesEventResponse(
                    every_n_samples_event_type_raw=request.every_n_samples_event_type_raw,
                    n_samples=n,
                )
            else:
                time.sleep(0.002)

    def UnregisterEveryNSamplesEvent(self, request: Any, context: Any) -> Any:
        self._log("UnregisterEveryNSamplesEvent", request)
        return pb.UnregisterEveryNSamplesEventResponse()

    def ReadAnalogF64(self, request: Any, context: Any) -> Any:
        task = self._task(request, context)
        n = request.num_samps_per_chan
        deadline = time.monotonic() + request.timeout
        while self.acquired(task) < task.read_pos + n:
            if time.monotonic() > deadline:
                self._fail(
                    context,
                    -200284,
                    "Some or all of the samples requested have not yet been acquired",
                )
            time.sleep(0.001)
        if self.acquired(task) - task.read_pos > task.buffer:
            self._fail(
                context,
                -200279,
                "The application is not able to keep up with the hardware acquisition.",
            )
        import numpy as np

        i = np.arange(task.read_pos, task.read_pos + n)
        data = np.concatenate([sample_value(c, i) for c in range(len(task.ai))])  # by channel
        task.read_pos += n
        return pb.ReadAnalogF64Response(read_array=data.tolist(), samps_per_chan_read=n)


class FakeDaqServer:
    """Run :class:`FakeNiDaqmx` on loopback; ``grpc_options`` connects ``nidaqmx`` to it."""

    def __init__(self, devices: dict[str, tuple[str, int, int]], *, speed: float = 1.0) -> None:
        import nidaqmx

        self.service = FakeNiDaqmx(devices, speed=speed)
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
        pbg.add_NiDAQmxServicer_to_server(self.service, self.server)
        port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()
        self.address = f"127.0.0.1:{port}"
        self.channel = grpc.insecure_channel(self.address)
        self.grpc_options = nidaqmx.GrpcSessionOptions(self.channel, "")

    def close(self) -> None:
        self.channel.close()
        self.server.stop(grace=None).wait()

    def __enter__(self) -> FakeDaqServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
