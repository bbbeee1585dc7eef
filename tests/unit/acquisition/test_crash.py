"""SIGKILL a recording mid-way: every flushed sample is readable; recovery closes the file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import tomllib

import numpy as np
import pytest

from mocap3d.acquisition.daq import DaqConfig
from mocap3d.acquisition.recovery import recover
from mocap3d.acquisition.simdaq import pattern_source
from mocap3d.errors import InputError
from mocap3d.io.rawdaq import read_raw_daq_info, read_stream
from mocap3d.rig import load_rig

RECORDING = """
import sys
from mocap3d.rig import load_rig
from mocap3d.acquisition.daq import DaqConfig
from mocap3d.acquisition.recorder import Recorder
from mocap3d.acquisition.simdaq import SimDaqBackend, pattern_source
rig = load_rig(sys.argv[1])
source = pattern_source(DaqConfig.from_rig(rig), exposure_channels=["cam_exposure"], seed=11)
def status(s):
    print(s.flushed_samples, flush=True)   # master samples known to be on disk
Recorder(rig, SimDaqBackend(source, speed=4.0), sys.argv[2], flush_interval_s=0.2,
         on_status=status, status_interval_s=0.05).run()
"""


@pytest.fixture(scope="module")
def crashed(demo_rig_path, tmp_path_factory):
    """A recording killed with SIGKILL once ≥ 1.5 s of samples were flushed."""
    path = tmp_path_factory.mktemp("crash") / "daq.h5"
    env = {**os.environ, "PYTHONPATH": str(demo_rig_path.parent.parent)}
    flushed = 0
    with subprocess.Popen(
        [sys.executable, "-c", RECORDING, str(demo_rig_path), str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    ) as proc:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        while flushed < 30_000 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            flushed = int(line)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL and flushed >= 30_000
    return path, flushed


def source_of(demo_rig_path):
    rig = load_rig(demo_rig_path)
    return pattern_source(DaqConfig.from_rig(rig), exposure_channels=["cam_exposure"], seed=11)


def test_sigkill_leaves_every_flushed_sample_readable(crashed, demo_rig_path):
    path, flushed = crashed
    info = read_raw_daq_info(path)
    assert info.status == "recording"  # never closed
    assert info.master.n_samples >= flushed
    source = source_of(demo_rig_path)
    for name, s in info.streams.items():
        got = read_stream(path, name, physical=False).values
        np.testing.assert_array_equal(got, source(name, 0, s.n_samples).astype(np.float32))
    manifest = tomllib.loads(path.with_name("daq.recording.toml").read_text())
    assert manifest["recording"]["status"] == "recording"


def test_recover_copies_closes_and_keeps_the_original(crashed, demo_rig_path):
    path, _ = crashed
    before = read_raw_daq_info(path)
    data = {n: read_stream(path, n, physical=False).values for n in before.streams}
    size = path.stat().st_size
    calls = []
    result = recover(path, progress=lambda d, t, what: calls.append((d, t)))
    assert result.path == path and result.crashed == path.with_name("daq.crashed.h5")
    assert result.crashed.stat().st_size == size  # the original, untouched, beside
    assert read_raw_daq_info(result.crashed).status == "recording"
    after = read_raw_daq_info(path)
    assert after.status == "recovered" and after.created_utc == before.created_utc
    assert after.metadata["recovered_from"] == "daq.crashed.h5"
    assert after.metadata["rig"] == before.metadata["rig"]
    assert [e["kind"] for e in after.events] == [b"start", b"recovered"]
    for n, x in data.items():
        np.testing.assert_array_equal(read_stream(path, n, physical=False).values, x)
        assert result.samples[n] == len(x)
    assert calls[-1][0] == calls[-1][1] == sum(len(x) for x in data.values())
    manifest = tomllib.loads(path.with_name("daq.recording.toml").read_text())
    assert manifest["recording"]["status"] == "recovered"
    assert manifest["streams"]["fast"]["samples"] == len(data["fast"])
    with pytest.raises(InputError, match=r"status 'recovered': it was closed, nothing to recover"):
        recover(path)


def test_recover_refuses_a_recording_that_is_still_running(tmp_path, demo_rig_path):
    """A live recorder's file is left alone (its manifest names a running process)."""
    from mocap3d.acquisition.recorder import Recorder
    from mocap3d.acquisition.simdaq import SimDaqBackend

    rig = load_rig(demo_rig_path)
    seen = []

    def attempt(status):
        if status.flushed_samples > 0 and not seen:
            with pytest.raises(InputError, match="still being recorded by process"):
                recover(tmp_path / "daq.h5")
            seen.append(True)

    src = source_of(demo_rig_path)
    # on the real-time clock (as fast as possible, a loaded machine may write the whole
    # 0.5 s in one flush, so that the only status with data comes after the file is closed)
    result = Recorder(
        rig, SimDaqBackend(src, speed=1.0), tmp_path / "daq.h5", flush_interval_s=0.01,
        on_status=attempt, status_interval_s=0,
    ).run(duration_s=0.5)  # fmt: skip
    assert seen and result.ok
