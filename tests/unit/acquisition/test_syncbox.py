"""The sync box client against its emulator on a real pty, a TCP socket and loop://."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from mocap3d.acquisition.status import EdgeCounter
from mocap3d.acquisition.syncbox import SyncBox, SyncBoxError
from mocap3d.acquisition.syncbox_emulator import SyncBoxEmulator


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_protocol_on_a_real_pty():
    clock = FakeClock()
    emu = SyncBoxEmulator(clock=clock, serial_number="X42")
    with emu.serve_pty() as server, SyncBox.open(server.port, timeout_s=1.0) as box:
        assert server.port.startswith("/dev/pts/") and os.path.exists(server.port)
        assert box.info is not None and box.info.ident == "mocap3d-syncbox 1 X42"
        assert box.count() == 0
        clock.t = 10.0
        box.start(500)
        clock.t = 10.0 + 0.1  # pulses at 10.000, 10.002, … 10.098 and the one at 10.100
        assert box.count() == 51
        with pytest.raises(SyncBoxError, match=r"refused 'START 200'.*already running"):
            box.start(200)
        clock.t = 11.0
        assert box.stop() == 500  # pulses started before the STOP (10.000 … 10.998)
        clock.t = 12.0
        assert box.count() == 500
        box.start(100, 7)
        clock.t = 20.0
        assert box.count() == 7
    assert emu.commands[:3] == ["ID?", "COUNT?", "START 500"]


def test_emulated_pulses_seen_by_a_daq_equal_the_count():
    """The TTL the emulator drives into a DAQ channel has exactly `count` rising edges."""
    clock = FakeClock()
    emu = SyncBoxEmulator(clock=clock)
    emu.handle("START 333")  # not a divisor of the DAQ rate
    clock.t = 1.2345
    emu.handle("STOP")
    count = emu.count()
    rate = 20_000.0
    counter = EdgeCounter("sync", "fast", 0)
    for start in range(0, 40_000, 1500):
        counter.update(start, emu.ttl(start, 1500, rate)[:, None])
    assert count == 412 and counter.count == count  # ceil(1.2345 · 333)
    # and pulses are a fixed 1 ms long (half the period at most)
    x = emu.ttl(0, 2000, rate) > 1.5
    assert int(np.sum(x[:60])) == 20


def test_socket_and_loop_transports():
    emu = SyncBoxEmulator()
    with emu.serve_socket() as server, SyncBox.open(server.url) as box:
        assert server.url.startswith("socket://127.0.0.1:")
        box.start(1000, 3)
        time.sleep(0.05)
        assert box.count() == 3
    loop_emu = SyncBoxEmulator()
    box = SyncBox.open("loop://", port_factory=loop_emu.loop_factory())
    assert box.info is not None and box.info.banner  # the emulated reset printed READY
    assert box.identify().startswith("ID mocap3d-syncbox")
    box.close()


def test_absent_silent_and_foreign_ports(tmp_path):
    with pytest.raises(SyncBoxError, match=r"'/dev/ttyNOPE' cannot be opened.*--no-syncbox"):
        SyncBox.open("/dev/ttyNOPE")
    silent = SyncBoxEmulator(silent=True)
    with silent.serve_pty() as server, pytest.raises(SyncBoxError, match="did not answer ID"):
        SyncBox.open(server.port, ready_timeout_s=0.4, timeout_s=0.2)
    # plain loop:// only echoes: a port with no box behind it
    with pytest.raises(SyncBoxError, match="did not answer ID"):
        SyncBox.open("loop://", ready_timeout_s=0.3)
    other = SyncBoxEmulator()
    other.ident = "arduino-blink 2"
    with other.serve_pty() as server, pytest.raises(SyncBoxError, match="not a mocap3d-syncbox"):
        SyncBox.open(server.port)


def test_reply_timeout_names_the_command():
    emu = SyncBoxEmulator()
    with emu.serve_pty() as server, SyncBox.open(server.port, timeout_s=0.2) as box:
        emu.silent = True
        with pytest.raises(SyncBoxError, match=r"did not answer 'COUNT\?' within 0.2 s"):
            box.count()


def test_reconnects_after_a_usb_replug_at_the_same_path(tmp_path):
    link = tmp_path / "ttyACM0"
    emu = SyncBoxEmulator()
    with emu.serve_pty(link) as server:
        box = SyncBox.open(str(link))
        box.start(1000)
        server.replug()  # new pty behind the same path; the box reset
        assert box.count() == 0  # the command went through after reconnecting
        assert box.reconnections == 1
        box.close()


def test_reconnects_after_a_dropped_socket():
    emu = SyncBoxEmulator()
    with emu.serve_socket() as server:
        box = SyncBox.open(server.url)
        server.drop()
        time.sleep(0.05)
        assert box.identify().startswith("ID ")
        assert box.reconnections == 1
        box.close()


def test_gives_up_when_the_port_stays_away(tmp_path):
    link = tmp_path / "ttyACM0"
    emu = SyncBoxEmulator()
    server_cm = emu.serve_pty(link)
    server = server_cm.__enter__()
    box = SyncBox.open(str(link), reconnect_attempts=2)
    server_cm.__exit__(None, None, None)  # unplugged for good
    with pytest.raises(SyncBoxError, match="could not reconnect after 2 attempts"):
        box.count()
    assert not link.exists() and server is not None
