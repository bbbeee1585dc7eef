"""NidaqmxBackend contract: the real nidaqmx API against a fake of NI's gRPC device service."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from mocap3d.acquisition.daq import Block, DaqConfig, DaqFault, DaqUnavailableError
from mocap3d.acquisition.nidaq import NidaqmxBackend
from mocap3d.acquisition.recorder import Recorder
from mocap3d.errors import ProblemsError
from mocap3d.io.rawdaq import read_raw_daq_info, read_stream
from mocap3d.rig import load_rig

pytest.importorskip("grpc", reason="nidaqmx's gRPC support needs grpcio: pip install nidaqmx[grpc]")
fake = pytest.importorskip(
    "tests.unit.acquisition.fake_nidaqmx",
    reason="nidaqmx's gRPC stubs need grpcio and protobuf: pip install nidaqmx[grpc]",
)

DEVICES = {"Dev1": ("PCIe-6353", 32, 4), "Dev2": ("USB-6002", 8, 1)}
DIFF, RSE, VOLTS, RISING, CONTINUOUS, HZ, LOW = 10106, 10083, 10348, 10280, 10123, 10373, 10214
CO_PULSE_TERM = 0x18E1


@pytest.fixture(scope="module")
def rig(seed_rig_path):
    return load_rig(seed_rig_path)


@pytest.fixture
def server():
    with fake.FakeDaqServer(DEVICES) as s:
        yield s


def test_configures_the_exact_tasks_channels_timing_and_triggers(rig, server):
    config = DaqConfig.from_rig(rig, block_s=0.1, buffer_s=2.0)
    backend = NidaqmxBackend(grpc_options=server.grpc_options)
    backend.configure(config)
    svc = server.service
    assert [r["sessionName"] for r in svc.called("CreateTask")] == [
        "mocap3d-fast",
        "mocap3d-slow",
        "mocap3d-camera-trigger",
    ]
    ai = [
        (r["task"]["name"], r["physicalChannel"], r["nameToAssignToChannel"],
         r["terminalConfigRaw"], r["minVal"], r["maxVal"], r["unitsRaw"])
        for r in svc.called("CreateAIVoltageChan")
    ]  # fmt: skip
    assert ai == [
        ("mocap3d-fast", "Dev1/ai0", "emg_ga", DIFF, -5.0, 5.0, VOLTS),
        ("mocap3d-fast", "Dev1/ai1", "emg_ta", DIFF, -5.0, 5.0, VOLTS),
        ("mocap3d-fast", "Dev1/ai2", "emg_vl", DIFF, -5.0, 5.0, VOLTS),
        ("mocap3d-fast", "Dev1/ai3", "emg_bf", DIFF, -5.0, 5.0, VOLTS),
        ("mocap3d-fast", "Dev1/ai4", "cam_exposure", RSE, -1.0, 6.0, VOLTS),
        ("mocap3d-fast", "Dev1/ai5", "sync_ttl", RSE, -1.0, 6.0, VOLTS),
        ("mocap3d-slow", "Dev2/ai0", "force_z", DIFF, -10.0, 10.0, VOLTS),
        ("mocap3d-slow", "Dev2/ai1", "platform_z", RSE, -10.0, 10.0, VOLTS),
    ]
    timing = {
        r["task"]["name"]: (
            r["rate"],
            r["sampleModeRaw"],
            int(r["sampsPerChan"]),
            r["activeEdgeRaw"],
        )
        for r in svc.called("CfgSampClkTiming")
    }
    assert timing == {  # 2 s buffers, even multiples of the 0.1 s blocks
        "mocap3d-fast": (20000.0, CONTINUOUS, 40000, RISING),
        "mocap3d-slow": (10000.0, CONTINUOUS, 20000, RISING),
    }
    (co,) = svc.called("CreateCOPulseChanFreq")
    assert (co["counter"], co["freq"], co["dutyCycle"], co["unitsRaw"], co["idleStateRaw"]) == (
        "Dev1/ctr0",
        500.0,
        0.2,
        HZ,
        LOW,
    )
    assert co.get("initialDelay", 0.0) == 0.0
    (term,) = svc.called("SetChanAttributeString")
    assert (term["channel"], term["attributeRaw"], term["value"]) == (
        "camera_trigger",
        CO_PULSE_TERM,
        "/Dev1/PFI12",
    )
    (implicit,) = svc.called("CfgImplicitTiming")
    assert implicit["task"]["name"] == "mocap3d-camera-trigger"
    assert implicit["sampleModeRaw"] == CONTINUOUS
    triggers = {r["task"]["name"]: r["triggerSource"] for r in svc.called("CfgDigEdgeStartTrig")}
    assert triggers == {  # the master stream's start starts everything else
        "mocap3d-slow": "/Dev1/ai/StartTrigger",
        "mocap3d-camera-trigger": "/Dev1/ai/StartTrigger",
    }
    assert all(r["triggerEdgeRaw"] == RISING for r in svc.called("CfgDigEdgeStartTrig"))

    blocks: list[Block] = []
    backend.start(blocks.append, lambda f: pytest.fail(str(f)))
    events = {r["task"]["name"]: r["nSamples"] for r in svc.called("RegisterEveryNSamplesEvent")}
    assert events == {"mocap3d-fast": 2000, "mocap3d-slow": 1000}
    started = [r["task"]["name"] for r in svc.called("StartTask")]
    assert started == ["mocap3d-camera-trigger", "mocap3d-slow", "mocap3d-fast"]  # master last
    deadline = time.monotonic() + 10
    while sum(b.stream == "fast" for b in blocks) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    backend.close()
    stopped = [r["task"]["name"] for r in svc.called("StopTask")]
    assert stopped == ["mocap3d-fast", "mocap3d-slow", "mocap3d-camera-trigger"]
    assert {r["task"]["name"] for r in svc.called("ClearTask")} == set(started)
    fast = [b for b in blocks if b.stream == "fast"]
    assert [b.start_sample for b in fast[:3]] == [0, 2000, 4000]
    i = np.arange(6000)
    got = np.concatenate([b.data for b in fast[:3]])
    for ch in range(6):  # channel order and sample order survive the trip
        np.testing.assert_allclose(got[:, ch], fake.sample_value(ch, i), atol=1e-12)


def test_records_through_grpc_into_the_raw_file(rig, server, tmp_path):
    backend = NidaqmxBackend(grpc_options=server.grpc_options)
    result = Recorder(rig, backend, tmp_path / "daq.h5", block_s=0.05).run(duration_s=0.6)
    assert result.ok and result.file_status == "closed"
    info = read_raw_daq_info(result.path)
    assert info.streams["fast"].n_samples >= 12_000 and info.streams["slow"].n_samples >= 6000
    for name in ("fast", "slow"):
        x = read_stream(result.path, name, physical=False).values
        i = np.arange(len(x))
        for ch in range(x.shape[1]):
            want = fake.sample_value(ch, i).astype(np.float32)
            np.testing.assert_array_equal(x[:, ch], want)
    assert result.status.frames_triggered == 500 * info.streams["fast"].n_samples // 20_000


def test_missing_devices_channels_and_counters_are_listed(rig, seed_rig_path):
    config = DaqConfig.from_rig(rig)
    with fake.FakeDaqServer({"Dev1": ("USB-6001", 4, 0)}) as server:
        backend = NidaqmxBackend(grpc_options=server.grpc_options)
        with pytest.raises(ProblemsError) as err:
            backend.configure(config)
        text = str(err.value)
        assert "daq.streams.slow.device: device 'Dev2' is not present (found ['Dev1'])" in text
        assert "Dev1 (USB-6001) has no analog input 'ai4'; it has ai0…ai3 (4)" in text
        assert "Dev1 (USB-6001) has no analog input 'ai5'" in text
        assert "no counter 'ctr0'" in text and "or run with --sim" in text
        assert not server.service.called("CreateTask")  # nothing half-configured


def test_buffer_overflow_is_reported(rig, server):
    config = DaqConfig.from_rig(rig, block_s=0.05, buffer_s=0.2)
    backend = NidaqmxBackend(grpc_options=server.grpc_options)
    backend.configure(config)
    faults: list[DaqFault] = []
    got = threading.Event()

    def slow(block: Block) -> None:
        if block.stream == "fast" and block.start_sample == 0:
            time.sleep(0.5)  # the consumer stalls longer than the 0.2 s buffer

    backend.start(slow, lambda f: (faults.append(f), got.set()))
    assert got.wait(10)
    backend.close()
    assert faults[0].kind == "overflow" and faults[0].stream == "fast"
    assert "not able to keep up" in faults[0].message


def test_unreachable_grpc_server_is_a_clear_error(rig):
    import grpc
    import nidaqmx

    channel = grpc.insecure_channel("127.0.0.1:9")  # nothing listens on the discard port
    backend = NidaqmxBackend(grpc_options=nidaqmx.GrpcSessionOptions(channel, ""))
    with pytest.raises(DaqUnavailableError, match="cannot reach the NI gRPC device server"):
        backend.configure(DaqConfig.from_rig(rig))
    channel.close()


def test_no_driver_says_install_ni_daqmx_or_use_sim(rig):
    import nidaqmx
    import nidaqmx.system

    try:
        version = nidaqmx.system.System.local().driver_version
    except nidaqmx.errors.DaqNotFoundError:
        pass
    else:
        pytest.skip(f"NI-DAQmx {version} is installed here: the no-driver path cannot be shown")
    with pytest.raises(DaqUnavailableError) as err:
        NidaqmxBackend().configure(DaqConfig.from_rig(rig))
    assert "NI-DAQmx driver not found" in str(err.value)
    assert "install NI-DAQmx" in str(err.value) and "--sim" in str(err.value)
