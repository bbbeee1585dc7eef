"""Raw DAQ file: round trip, scaling, never overwriting, and surviving SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from mocap3d.errors import InputError, LayoutVersionError
from mocap3d.io.rawdaq import (
    ChannelInfo,
    RawDaqWriter,
    StreamInfo,
    read_raw_daq_info,
    read_stream,
)

STREAMS = [
    StreamInfo(
        "fast",
        20000.0,
        (
            ChannelInfo("emg_ga", "V", 0.001, 0.0, "ai0"),
            ChannelInfo("cam_exposure", "V", 1.0, 0.0, "ai4"),
        ),
    ),
    StreamInfo("slow", 10000.0, (ChannelInfo("force_z", "N", 0.05, -0.01, "ai0"),), t0_s=0.5),
]


def write_file(path: Path, rng: np.random.Generator) -> dict[str, np.ndarray]:
    data = {
        "fast": rng.normal(size=(30000, 2)).astype(np.float32),
        "slow": rng.normal(size=(15000, 1)).astype(np.float32),
    }
    with RawDaqWriter(path, STREAMS, "fast", metadata={"rig": "demo", "fps": 500}) as w:
        for start in range(0, 30000, 7000):
            w.append("fast", data["fast"][start : start + 7000])
        w.append("slow", data["slow"])
        w.add_event("overflow", sample=1234, stream="fast", message="buffer overflow")
    return data


def test_round_trip_with_scaling_and_clock(tmp_path, rng):
    path = tmp_path / "daq.h5"
    data = write_file(path, rng)
    info = read_raw_daq_info(path)
    assert info.status == "closed" and info.master_stream == "fast"
    assert info.metadata == {"rig": "demo", "fps": 500}
    assert info.streams["fast"].n_samples == 30000 and info.streams["slow"].n_samples == 15000
    assert info.stream_of("force_z").name == "slow"
    assert info.events[0]["kind"] == b"overflow" and info.events[0]["sample"] == 1234
    emg = read_stream(path, "fast", channels=["emg_ga"], start=100, stop=200)
    np.testing.assert_allclose(emg.values[:, 0], data["fast"][100:200, 0] * 0.001, rtol=1e-6)
    np.testing.assert_allclose(emg.time.values, np.arange(100, 200) / 20000.0)
    force = read_stream(path, "slow")
    assert force.unit.values.tolist() == ["N"]
    np.testing.assert_allclose(force.values[:, 0], data["slow"][:, 0] * 0.05 - 0.01, atol=1e-7)
    assert force.time.values[0] == 0.5 and force.attrs["rate_hz"] == 10000.0
    volts = read_stream(path, "slow", physical=False)
    np.testing.assert_array_equal(volts.values[:, 0], data["slow"][:, 0])


def test_errors_name_the_problem(tmp_path, rng):
    path = tmp_path / "daq.h5"
    write_file(path, rng)
    with pytest.raises(InputError, match="never overwritten"):
        RawDaqWriter(path, STREAMS, "fast")
    with pytest.raises(InputError, match=r"no channel\(s\) \['force_z'\]"):
        read_stream(path, "fast", channels=["force_z"])
    with pytest.raises(InputError, match="no stream 'medium'"):
        read_stream(path, "medium")
    with pytest.raises(InputError, match="master stream 'x'"):
        RawDaqWriter(tmp_path / "other.h5", STREAMS, "x")
    with (
        pytest.raises(InputError, match=r"blocks of shape \(n, 2\)"),
        RawDaqWriter(tmp_path / "w.h5", STREAMS, "fast") as w,
    ):
        w.append("fast", np.ones((10, 2)))
        w.append("fast", np.zeros((10, 3)))
    info = read_raw_daq_info(tmp_path / "w.h5")
    assert info.status == "aborted" and info.streams["fast"].n_samples == 10


def test_unknown_layout_version_is_refused(tmp_path, rng):
    path = tmp_path / "daq.h5"
    write_file(path, rng)
    with h5py.File(path, "a") as f:
        f.attrs["layout_version"] = 99
    with pytest.raises(LayoutVersionError, match=r"version 99.*upgrade mocap3d"):
        read_raw_daq_info(path)
    (tmp_path / "x.h5").write_bytes(b"not hdf5")
    with pytest.raises(InputError, match="cannot be opened as HDF5"):
        read_raw_daq_info(tmp_path / "x.h5")


WRITER = """
import sys, time, numpy as np
from mocap3d.io.rawdaq import RawDaqWriter, StreamInfo, ChannelInfo
chans = tuple(ChannelInfo(f"c{i}") for i in range(8))
w = RawDaqWriter(sys.argv[1], [StreamInfo("fast", 20000.0, chans)], "fast", flush_interval_s=0.1)
block = 0
while True:
    w.append("fast", np.full((2000, 8), block, np.float32))
    block += 1
    if block % 5 == 0:
        w.flush()
        print(block, flush=True)   # every block up to here is on disk
    time.sleep(0.005)
"""


def test_sigkill_leaves_every_flushed_sample_readable(tmp_path):
    path = tmp_path / "crash.h5"
    flushed = 0
    with subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
    ) as proc:
        deadline = time.monotonic() + 60
        while flushed < 40 and time.monotonic() < deadline:
            flushed = int(proc.stdout.readline())
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert flushed >= 40
    info = read_raw_daq_info(path)
    assert info.status == "recording"  # never closed: a recovery tool can tell
    signal_ = read_stream(path, "fast", physical=False).values
    n_blocks = len(signal_) // 2000
    assert n_blocks >= flushed
    np.testing.assert_array_equal(signal_[::2000, 0], np.arange(n_blocks))
    np.testing.assert_array_equal(signal_[:, 7], np.repeat(np.arange(n_blocks), 2000))


def test_created_utc_can_be_fixed_for_reproducible_files(tmp_path):
    fixed = "2020-01-02T03:04:05+00:00"
    blocks = np.arange(2048, dtype=np.float32).reshape(1024, 2)
    for name in ("a.h5", "b.h5"):
        with RawDaqWriter(tmp_path / name, STREAMS[:1], "fast", created_utc=fixed) as w:
            w.append("fast", blocks)
        time.sleep(0.01)
    assert read_raw_daq_info(tmp_path / "a.h5").created_utc == fixed
    assert (tmp_path / "a.h5").read_bytes() == (tmp_path / "b.h5").read_bytes()
    with RawDaqWriter(tmp_path / "now.h5", STREAMS[:1], "fast") as w:
        w.append("fast", blocks)
    assert read_raw_daq_info(tmp_path / "now.h5").created_utc[:4] >= "2024"
