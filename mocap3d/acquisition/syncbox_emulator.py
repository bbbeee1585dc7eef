"""An emulator of the sync box, speaking its line protocol on a pty, ``loop://`` or ``socket://``.

The emulator keeps the box's state (pulse trains started and stopped on its clock) and can
drive a simulated DAQ channel with the same pulses (:meth:`SyncBoxEmulator.ttl`), so that a
simulated session checks the box's count against the pulses the DAQ recorded, exactly like a
real one. Transports:

- :meth:`SyncBoxEmulator.serve_pty` — a real pseudo-terminal; the client opens its path like
  any serial device (a symlink can stand for ``/dev/ttyACM0``; ``replug()`` emulates a USB
  unplug/replug at the same path);
- :meth:`SyncBoxEmulator.serve_socket` — a TCP server for ``socket://127.0.0.1:PORT``;
- :meth:`SyncBoxEmulator.loop_factory` — a pyserial ``loop://`` port with the emulator in the
  loop, for :class:`~mocap3d.acquisition.syncbox.SyncBox`'s ``port_factory``.
"""

from __future__ import annotations

import contextlib
import math
import os
import select
import socket
import threading
import time
import tty
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import serial
from serial.urlhandler import protocol_loop

from mocap3d.acquisition.simdaq import pulse_train
from mocap3d.acquisition.syncbox import PROTOCOL, PortFactory

VERSION = "1"


@dataclass
class _Run:
    t0_s: float
    fps: float
    n: int | None
    stop_s: float = math.inf


class SyncBoxEmulator:
    """The sync box's behaviour, on any byte transport.

    Parameters
    ----------
    clock : callable
        Seconds on the box's clock; default ``time.monotonic``. Pass a simulated DAQ's
        :meth:`~mocap3d.acquisition.simdaq.SimDaqBackend.now_s` to share its clock.
    serial_number : str
    silent : bool
        Never answer (to exercise timeouts).
    reset_on_connect : bool
        Emulate an Arduino that resets (and prints READY) whenever its port is opened.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        serial_number: str = "EMU0001",
        silent: bool = False,
        reset_on_connect: bool = True,
    ) -> None:
        self.clock = clock
        self.ident = f"{PROTOCOL} {VERSION} {serial_number}"
        self.silent = silent
        self.reset_on_connect = reset_on_connect
        self.runs: list[_Run] = []
        self.commands: list[str] = []
        self._pending = b""
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ behaviour
    def banner(self) -> bytes:
        return b"" if self.silent else f"READY {PROTOCOL} {VERSION}\n".encode()

    def reset(self) -> bytes:
        """Power-on state (pulses stop, count forgotten); returns the banner."""
        with self._lock:
            self.runs.clear()
            self._pending = b""
        return self.banner()

    def feed(self, data: bytes) -> bytes:
        """Bytes from the host → the bytes the box sends back."""
        with self._lock:
            self._pending += data
            *lines, self._pending = self._pending.split(b"\n")
        replies = [self.handle(line.decode("ascii", "replace").strip()) for line in lines]
        return b"".join(f"{r}\n".encode() for r in replies if r and not self.silent)

    def handle(self, line: str) -> str:
        """One command line → its reply line."""
        if not line:
            return ""
        self.commands.append(line)
        words = line.split()
        cmd = words[0].upper()
        if cmd == "ID?" and len(words) == 1:
            return f"ID {self.ident}"
        if cmd == "COUNT?" and len(words) == 1:
            return f"COUNT {self.count()}"
        if cmd == "STOP" and len(words) == 1:
            with self._lock:
                if self.runs and self.runs[-1].stop_s == math.inf:
                    self.runs[-1].stop_s = self.clock()
            return f"OK STOP {self.count()}"
        if cmd == "START" and len(words) in (2, 3):
            try:
                fps = float(words[1])
                n = int(words[2]) if len(words) == 3 else 0
            except ValueError:
                return "ERR START takes fps [n]"
            if not (0 < fps <= 100_000 and n >= 0):
                return "ERR fps must be in (0, 100000] and n >= 0"
            with self._lock:
                if self.runs and self.runs[-1].stop_s == math.inf and not self._done():
                    return "ERR already running; send STOP first"
                self.runs.append(_Run(self.clock(), fps, n or None))
            return f"OK START {fps:g} {n}"
        return f"ERR unknown command {line[:40]!r}"

    def _done(self) -> bool:
        run = self.runs[-1]
        return run.n is not None and self._started(run, self.clock() + 1e-12) >= run.n

    @staticmethod
    def _started(run: _Run, t: float) -> int:
        """Pulses k ≥ 0 of ``run`` with t0 + k/fps < min(t, stop) (same test as ttl())."""
        end = min(t, run.stop_s)
        if end <= run.t0_s:
            return 0
        k = max(0, math.ceil((end - run.t0_s) * run.fps) - 1)
        while k > 0 and not run.t0_s + (k - 1) / run.fps < end:
            k -= 1
        while run.t0_s + k / run.fps < end:
            k += 1
        return k if run.n is None else min(k, run.n)

    def count(self) -> int:
        """Pulses started in the current (or last) run, now."""
        with self._lock:
            return self._started(self.runs[-1], self.clock() + 1e-12) if self.runs else 0

    @staticmethod
    def high_s(fps: float) -> float:
        """Pulse length: half the period, at most 1 ms (as the reference sketch)."""
        return min(1e-3, 0.5 / fps)

    def ttl(self, start: int, n: int, rate_hz: float) -> np.ndarray:
        """The box's output sampled by a DAQ: volts (n,) from sample ``start`` at ``rate_hz``.

        A :data:`~mocap3d.acquisition.simdaq.Wire` for :class:`SimDaqBackend`; assumes the
        box's clock is the DAQ's session clock.
        """
        out = np.zeros(n)
        with self._lock:
            runs = list(self.runs)
        for r in runs:
            out = np.maximum(
                out,
                pulse_train(
                    start,
                    n,
                    rate_hz,
                    t0_s=r.t0_s,
                    fps=r.fps,
                    high_s=self.high_s(r.fps),
                    stop_s=r.stop_s,
                    n_pulses=r.n,
                ),
            )
        return out

    # ----------------------------------------------------------------- transports
    @contextlib.contextmanager
    def serve_pty(self, link: str | Path | None = None) -> Iterator[PtyServer]:
        """Serve on a pseudo-terminal; ``server.port`` is the path to open."""
        server = PtyServer(self, Path(link) if link is not None else None)
        try:
            yield server
        finally:
            server.close()

    @contextlib.contextmanager
    def serve_socket(self, host: str = "127.0.0.1") -> Iterator[SocketServer]:
        """Serve on TCP; ``server.url`` is ``socket://host:port``."""
        server = SocketServer(self, host)
        try:
            yield server
        finally:
            server.close()

    def loop_factory(self) -> PortFactory:
        """A ``port_factory`` giving a ``loop://`` port with this emulator in the loop."""
        emulator = self

        class _EmulatedLoop(protocol_loop.Serial):
            def open(self) -> None:
                super().open()
                if emulator.reset_on_connect:
                    self._inject(emulator.reset())

            def write(self, data: bytes) -> int:
                if not self.is_open:
                    raise serial.PortNotOpenError()
                self._inject(emulator.feed(bytes(data)))
                return len(data)

            def _inject(self, data: bytes) -> None:
                for i in range(len(data)):
                    self.queue.put(data[i : i + 1])

        def factory(url: str, baudrate: int, timeout_s: float) -> serial.SerialBase:
            return _EmulatedLoop(
                "loop://", baudrate=baudrate, timeout=timeout_s, write_timeout=timeout_s
            )

        return factory


class PtyServer:
    """The emulator on the master end of a pty; clients open :attr:`port`."""

    def __init__(self, emulator: SyncBoxEmulator, link: Path | None) -> None:
        self.emulator = emulator
        self.link = link
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._open()

    def _open(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.device = os.ttyname(self.slave)
        if self.link is not None:
            tmp = self.link.with_name(self.link.name + ".new")
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(self.device)
            os.replace(tmp, self.link)
        os.write(self.master, self.emulator.reset())
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name="syncbox-pty", daemon=True)
        self._thread.start()

    @property
    def port(self) -> str:
        return str(self.link) if self.link is not None else self.device

    def _serve(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            reply = self.emulator.feed(data)
            if reply:
                os.write(self.master, reply)

    def _shutdown(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    def replug(self, *, down_s: float = 0.0) -> None:
        """Emulate a USB unplug and replug: a new pty (same link), the box reset."""
        self._shutdown()
        time.sleep(down_s)
        self._open()

    def close(self) -> None:
        self._shutdown()
        if self.link is not None:
            self.link.unlink(missing_ok=True)


class SocketServer:
    """The emulator behind a TCP port (one client at a time, like a serial line)."""

    def __init__(self, emulator: SyncBoxEmulator, host: str) -> None:
        self.emulator = emulator
        self._sock = socket.create_server((host, 0))
        self._sock.settimeout(0.05)
        self.host, self.tcp_port = self._sock.getsockname()[:2]
        self._stop = threading.Event()
        self._client: socket.socket | None = None
        self._thread = threading.Thread(target=self._serve, name="syncbox-socket", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"socket://{self.host}:{self.tcp_port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self._client = conn
            conn.settimeout(0.05)
            with conn:
                if self.emulator.reset_on_connect:
                    conn.sendall(self.emulator.reset())
                while not self._stop.is_set():
                    try:
                        data = conn.recv(4096)
                    except TimeoutError:
                        continue
                    except OSError:
                        break
                    if not data:
                        break
                    reply = self.emulator.feed(data)
                    if reply:
                        conn.sendall(reply)
            self._client = None

    def drop(self) -> None:
        """Close the current connection (the client sees the port fail)."""
        client = self._client
        if client is not None:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._stop.set()
        self.drop()
        self._thread.join()
        self._sock.close()
