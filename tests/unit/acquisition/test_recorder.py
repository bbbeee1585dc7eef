"""The recorder: full recordings with the simulated DAQ and an emulated sync box, and faults."""

from __future__ import annotations

import errno
import threading
import tomllib

import numpy as np
import pytest

from mocap3d.acquisition.blockwriter import is_disk_full
from mocap3d.acquisition.daq import AcquisitionError, DaqConfig
from mocap3d.acquisition.recorder import Recorder
from mocap3d.acquisition.simdaq import SimDaqBackend, pattern_source
from mocap3d.acquisition.syncbox import SyncBox
from mocap3d.acquisition.syncbox_emulator import SyncBoxEmulator
from mocap3d.io.rawdaq import RawDaqWriter, read_raw_daq_info, read_stream
from mocap3d.rig import load_rig


@pytest.fixture(scope="module")
def rig(demo_rig_path):
    return load_rig(demo_rig_path)


def sim(rig, *, speed, emulator=None, **kw):
    config = DaqConfig.from_rig(rig)
    source = pattern_source(config, exposure_channels=["cam_exposure"], seed=7)
    wires = {"sync_ttl": emulator.ttl} if emulator is not None else {}
    backend = SimDaqBackend(source, speed=speed, wires=wires, **kw)
    if emulator is not None:
        emulator.clock = backend.now_s
    return backend, source


def assert_holds_the_source(path, source, *, exclude=("sync_ttl",)):
    """Every sample in the file is the source's, in order, from sample 0 (float32)."""
    info = read_raw_daq_info(path)
    for name, s in info.streams.items():
        got = read_stream(path, name, physical=False).values
        want = source(name, 0, s.n_samples).astype(np.float32)
        keep = [i for i, c in enumerate(s.channel_names) if c not in exclude]
        np.testing.assert_array_equal(got[:, keep], want[:, keep])
    return info


def test_full_recording_with_the_emulated_sync_box_on_a_pty(rig, tmp_path):
    emulator = SyncBoxEmulator(serial_number="PTY1")
    backend, source = sim(rig, speed=2.0, emulator=emulator)
    seen = []
    with emulator.serve_pty() as server, SyncBox.open(server.port) as box:
        rec = Recorder(
            rig, backend, tmp_path / "raw" / "daq.h5", syncbox=box, on_status=seen.append
        )
        result = rec.run(duration_s=3.0)
    assert result.ok and result.stop_reason == "duration" and result.file_status == "closed"
    info = assert_holds_the_source(result.path, source)
    s = result.status
    assert info.status == "closed"
    assert 3.0 <= s.elapsed_s <= 3.6 and s.samples["fast"] == info.streams["fast"].n_samples
    assert s.samples["slow"] >= 30_000 and s.overflows == 0
    assert (
        s.frames_triggered == s.exposures_seen["cam_exposure"] == 500 * s.samples["fast"] // 20_000
    )
    assert result.syncbox_count is not None and result.syncbox_count > 1000
    assert result.syncbox_count == s.sync_pulses_seen  # every pulse the box counted is in the file
    assert result.warnings == ()
    assert emulator.commands[-3:] == ["START 500", "STOP", "COUNT?"]
    assert len(seen) >= 3 and seen[-1] == s  # live status during, final status at the end
    assert seen[0].elapsed_s <= seen[1].elapsed_s
    kinds = [e["kind"] for e in info.events]
    assert kinds == [b"start", b"stop"]
    meta = info.metadata
    assert meta["trigger"]["start_trigger"] == "/SimDev1/ai/StartTrigger"
    assert meta["trigger"]["fps"] == 500.0 and meta["rig"]["name"] == "demo"
    assert meta["syncbox"]["ident"] == "mocap3d-syncbox 1 PTY1"
    force = info.streams["slow"].channels[0]
    spec = rig.channel("force_z")
    assert (force.name, force.unit, force.scale, force.offset, force.terminal) == (
        "force_z",
        "N",
        spec.scale,
        spec.offset,
        "ai0",
    )
    manifest = tomllib.loads(result.manifest_path.read_text())
    assert manifest["recording"]["status"] == "closed"
    assert manifest["streams"]["fast"]["samples"] == s.samples["fast"]
    assert manifest["syncbox"]["count"] == manifest["syncbox"]["pulses_seen"]


def test_stop_event_and_keyboard_interrupt_stop_cleanly(rig, tmp_path):
    backend, source = sim(rig, speed=None)
    stop = threading.Event()

    def status(s):
        if s.elapsed_s > 1.0:
            stop.set()

    result = Recorder(rig, backend, tmp_path / "a.h5", on_status=status, status_interval_s=0).run(
        stop=stop
    )
    assert result.stop_reason == "stopped" and result.file_status == "closed"
    assert_holds_the_source(result.path, source)

    backend, source = sim(rig, speed=None)

    raised = []

    def ctrl_c(s):
        if s.elapsed_s > 0.5 and not raised:
            raised.append(s.elapsed_s)
            raise KeyboardInterrupt

    result = Recorder(rig, backend, tmp_path / "b.h5", on_status=ctrl_c, status_interval_s=0).run()
    assert (
        result.stop_reason == "interrupted" and result.ok and result.message == "stopped by Ctrl-C"
    )
    info = assert_holds_the_source(result.path, source)
    assert info.status == "closed" and info.master.n_samples >= 10_000


class FullDisk(RawDaqWriter):
    """A writer whose disk fills after ``limit`` appends (OSError ENOSPC at the boundary)."""

    limit = 25

    def append(self, stream, block):
        if sum(self.counts.values()) >= self.limit * 1500:
            raise OSError(errno.ENOSPC, "No space left on device")
        super().append(stream, block)


def test_disk_full_stops_with_a_clear_message_and_keeps_the_data(rig, tmp_path):
    backend, source = sim(rig, speed=None)
    emulator = SyncBoxEmulator()
    box = SyncBox.open("loop://", port_factory=emulator.loop_factory())
    rec = Recorder(rig, backend, tmp_path / "daq.h5", syncbox=box, writer_factory=FullDisk)
    result = rec.run(duration_s=10)
    assert result.stop_reason == "disk_full" and not result.ok
    assert "disk full" in result.message and "every sample flushed before is kept" in result.message
    info = assert_holds_the_source(result.path, source)
    assert info.status == "aborted"
    assert info.master.n_samples == result.status.samples["fast"] > 0
    assert emulator.commands[-2:] == ["STOP", "COUNT?"]  # the box was stopped too
    with pytest.raises(AcquisitionError, match="records one file"):
        rec.run(duration_s=1)
    assert is_disk_full(OSError("Can't write data (file write failed: errno = 28, …)"))
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied"))


def test_overflow_stops_and_is_recorded(rig, tmp_path):
    backend, source = sim(rig, speed=None, inject_overflow_at_s=0.75)
    result = Recorder(rig, backend, tmp_path / "daq.h5").run(duration_s=5)
    assert result.stop_reason == "overflow" and result.status.overflows == 1
    assert "samples before it are kept" in result.message
    info = assert_holds_the_source(result.path, source)
    assert info.status == "aborted"
    overflow = [e for e in info.events if e["kind"] == b"overflow"]
    assert len(overflow) == 1 and overflow[0]["sample"] == 14_000  # the block ending past 0.75 s
    assert info.master.n_samples == 14_000


def test_a_failing_sync_box_is_a_warning_not_the_end(rig, tmp_path):
    emulator = SyncBoxEmulator()
    backend, source = sim(rig, speed=None, emulator=emulator)
    box = SyncBox.open("loop://", port_factory=emulator.loop_factory(), timeout_s=0.2)
    emulator.silent = True  # answers nothing from now on
    result = Recorder(rig, backend, tmp_path / "daq.h5", syncbox=box).run(duration_s=1)
    assert result.ok and result.syncbox_count is None
    assert any("sync box start failed" in w and "did not answer" in w for w in result.warnings)
    info = assert_holds_the_source(result.path, source)
    assert [e["kind"] for e in info.events].count(b"syncbox") >= 1


def test_missing_exposure_pulses_are_flagged(rig, tmp_path):
    config = DaqConfig.from_rig(rig)
    source = pattern_source(config, exposure_channels=[], seed=1)  # cameras never answer
    result = Recorder(rig, SimDaqBackend(source, speed=None), tmp_path / "d.h5").run(duration_s=0.5)
    assert result.ok and result.status.exposures_seen == {"cam_exposure": 0}
    n = result.status.frames_triggered
    assert n >= 250 and f"cam_exposure: 0 exposure pulses for {n} triggers" in result.warnings[0]


def test_nothing_is_created_when_the_daq_cannot_start(rig, tmp_path):
    bad = SimDaqBackend(wires={"no_such_channel": lambda a, n, r: np.zeros(n)})
    with pytest.raises(AcquisitionError, match="unknown channel"):
        Recorder(rig, bad, tmp_path / "raw" / "daq.h5").run(duration_s=1)
    assert not (tmp_path / "raw").exists()


def test_waiting_blocks_are_merged_per_stream_and_faults_keep_their_place():
    from mocap3d.acquisition.blockwriter import merge_runs as _merge_runs
    from mocap3d.acquisition.daq import Block, DaqFault

    def b(stream, start, n=2):
        return Block(stream, start, np.full((n, 1), start, float))

    fault = DaqFault("overflow", "f", 8, "x")
    items = [b("f", 0), b("s", 0, 1), b("f", 2), b("f", 4), fault, b("f", 6), b("f", 9)]
    out = _merge_runs(items)
    summary = [
        (o.kind,) if isinstance(o, DaqFault) else (o.stream, o.start_sample, o.n_samples)
        for o in out
    ]
    assert summary == [("f", 0, 6), ("s", 0, 1), ("overflow",), ("f", 6, 2), ("f", 9, 2)]
    np.testing.assert_array_equal(out[0].data[:, 0], [0, 0, 2, 2, 4, 4])


def test_recording_the_simulators_jumps(rig, tmp_path):
    """`record --sim` streams: the simulator's jumping mouse, exposures at every trigger."""
    from mocap3d.acquisition.session import sim_streams

    config = DaqConfig.from_rig(rig)
    source, wires = sim_streams(rig, config, duration_s=3.0, seed=2)
    assert set(wires) == {"cam_exposure"}
    emulator = SyncBoxEmulator()
    backend = SimDaqBackend(source, speed=None, wires={**wires, "sync_ttl": emulator.ttl})
    emulator.clock = backend.now_s
    box = SyncBox.open("loop://", port_factory=emulator.loop_factory())
    result = Recorder(rig, backend, tmp_path / "daq.h5", syncbox=box).run(duration_s=3.0)
    assert result.ok and result.warnings == ()
    s = result.status
    assert s.exposures_seen["cam_exposure"] == s.frames_triggered
    assert result.syncbox_count == s.sync_pulses_seen
    force = read_stream(result.path, "slow", channels=["force_z"]).values[:, 0]
    quiet = np.median(force)  # the mouse standing: its weight, ~0.25 N
    assert 0.15 < quiet < 0.4 and force.max() > 4 * quiet  # push-offs
    emg = read_stream(result.path, "fast", channels=["emg_ga"]).values[:, 0]
    assert np.abs(emg).max() > 20 * np.median(np.abs(emg))  # bursts over the baseline


class LateStream:
    """A backend whose non-master blocks reach the recorder ``delay_s`` late (or never, past
    ``drop_after`` samples), as a second device's callbacks can on a busy machine; like
    hardware, it calls back no more once stopped."""

    def __init__(self, inner, master, *, delay_s=0.3, drop_after=None):
        self.inner, self.master, self.delay_s, self.drop_after = inner, master, delay_s, drop_after
        self.name = inner.name
        self.timers = []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def start(self, on_block, on_fault):
        def late(block):
            if block.stream == self.master:
                return on_block(block)
            if self.drop_after is not None and block.start_sample >= self.drop_after:
                return None
            timer = threading.Timer(self.delay_s, on_block, (block,))
            self.timers.append(timer)
            timer.start()
            return None

        self.inner.start(late, on_fault)

    def stop(self):  # no callback comes after the tasks stop: a block still due is lost
        for timer in self.timers:
            timer.cancel()
        self.inner.stop()


def test_a_duration_recording_waits_for_every_streams_last_blocks(rig, tmp_path):
    backend, source = sim(rig, speed=4.0)
    master = DaqConfig.from_rig(rig).master_stream
    late = LateStream(backend, master)
    result = Recorder(rig, late, tmp_path / "daq.h5").run(duration_s=1.0)
    assert result.ok and result.stop_reason == "duration", result.message
    info = assert_holds_the_source(result.path, source)
    for s in info.streams.values():  # every stream covers the requested second
        assert s.n_samples >= s.rate_hz * 1.0, s.name
    assert not [w for w in result.warnings if "when recording stopped" in w]


def test_a_stream_that_stops_delivering_is_named_not_waited_for(rig, tmp_path):
    backend, source = sim(rig, speed=4.0)
    config = DaqConfig.from_rig(rig)
    (other,) = [s for s in config.streams if s.name != config.master_stream]
    late = LateStream(backend, config.master_stream, delay_s=0.0, drop_after=other.rate_hz // 2)
    result = Recorder(rig, late, tmp_path / "daq.h5").run(duration_s=1.0)
    assert result.stop_reason == "duration", result.message
    (warning,) = [w for w in result.warnings if "when recording stopped" in w]
    want = int(other.rate_hz * 1.0)
    assert f"stream {other.name!r} holds {int(other.rate_hz // 2)} of the {want}" in warning
    info = assert_holds_the_source(result.path, source)
    assert info.streams[other.name].n_samples == other.rate_hz // 2
