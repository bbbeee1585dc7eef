"""The serial sync box: a microcontroller that emits TTL pulses on its own clock.

The box's pulses are wired to a DAQ channel (the rig's ``syncbox.ttl_channel``); the box also
counts them, so after a recording the count it reports must equal the pulses the DAQ saw.
Line protocol (ASCII, one command or reply per ``\\n``-terminated line, 115200 baud)::

    (after reset)      ← READY mocap3d-syncbox 1
    ID?                ← ID mocap3d-syncbox 1 <serial>
    START fps [n]      ← OK START <fps> <n>     pulses at fps Hz (n pulses; 0/omitted: until STOP)
    STOP               ← OK STOP <count>        ends after the pulse in progress
    COUNT?             ← COUNT <count>          pulses started since START
    anything else      ← ERR <reason>

``tools/syncbox/syncbox.ino`` is a reference Arduino implementation; :class:`SyncBoxEmulator`
(in :mod:`mocap3d.acquisition.syncbox_emulator`) speaks the same protocol on a pty,
``loop://`` or ``socket://`` for tests and simulated sessions.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import serial

from mocap3d.acquisition.daq import AcquisitionError

log = logging.getLogger(__name__)

PROTOCOL = "mocap3d-syncbox"
PortFactory = Callable[..., serial.SerialBase]


class SyncBoxError(AcquisitionError):
    """The sync box is absent, silent, or answered something unexpected."""


@dataclass(frozen=True)
class SyncBoxInfo:
    """What the box said about itself (``ID?``)."""

    port: str
    ident: str
    banner: bool  # a READY banner was seen after opening (the box reset on open)


def _open_port(url: str, baudrate: int, timeout_s: float) -> serial.SerialBase:
    return serial.serial_for_url(url, baudrate=baudrate, timeout=timeout_s, write_timeout=timeout_s)


class SyncBox:
    """A client of the sync box on a serial port.

    Use :meth:`open` (or as a context manager). Every command waits at most ``timeout_s``
    for its reply; a port error triggers up to ``reconnect_attempts`` reopenings of the same
    port before the command is retried once. ``reconnections`` counts them: after one, the
    box may have reset (an Arduino resets when its port opens) and its count restarted.

    Parameters
    ----------
    url : str
        A device (``/dev/ttyACM0``, ``COM3``) or pyserial URL (``socket://host:port``,
        ``loop://``).
    baudrate : int
    timeout_s : float
        Longest wait for one reply line.
    ready_timeout_s : float
        Longest wait for the box to answer after the port opens (bootloader time).
    port_factory : callable, optional
        ``factory(url, baudrate, timeout_s)`` → an open pyserial port (tests and emulators).
    """

    def __init__(
        self,
        url: str,
        *,
        baudrate: int = 115_200,
        timeout_s: float = 1.0,
        ready_timeout_s: float = 3.0,
        reconnect_attempts: int = 3,
        port_factory: PortFactory | None = None,
    ) -> None:
        self.url = url
        self.baudrate = baudrate
        self.timeout_s = timeout_s
        self.ready_timeout_s = ready_timeout_s
        self.reconnect_attempts = reconnect_attempts
        self._factory = port_factory or _open_port
        self._port: serial.SerialBase | None = None
        self.info: SyncBoxInfo | None = None
        self.reconnections = 0

    # ------------------------------------------------------------------ connection
    @classmethod
    def open(cls, url: str, **options: object) -> SyncBox:
        """Open the port and identify the box (``ID?``); raises :class:`SyncBoxError`."""
        box = cls(url, **options)  # type: ignore[arg-type]
        box.connect()
        return box

    def connect(self) -> SyncBoxInfo:
        """(Re)open the port, wait for the box, check it speaks this protocol."""
        self.close()
        try:
            self._port = self._factory(self.url, self.baudrate, self.timeout_s)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise SyncBoxError(
                f"sync box port {self.url!r} cannot be opened ({exc}); check the cable and the "
                "rig's syncbox.port (list ports with `python -m serial.tools.list_ports`), "
                "or record without the sync box (--no-syncbox)"
            ) from None
        self.info = self._identify()
        log.info("sync box on %s: %s", self.url, self.info.ident)
        return self.info

    def _identify(self) -> SyncBoxInfo:
        """Ask ``ID?`` (again every 0.5 s) until the box answers.

        A READY banner means the box just reset (an Arduino does when its port opens) and
        lost what was sent before, so the next ``ID?`` goes out shortly after it. Duplicate
        answers are discarded so that they cannot be taken for the reply to a later command.
        """
        deadline = time.monotonic() + self.ready_timeout_s
        banner = False
        self._write("ID?")
        next_ask = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            line = self._readline(min(0.1, self.timeout_s))
            if line.startswith("READY"):
                banner = True
                next_ask = min(next_ask, time.monotonic() + 0.2)
            elif line.startswith("ID "):
                ident = line[3:].strip()
                if not ident.startswith(PROTOCOL):
                    raise SyncBoxError(
                        f"the device on {self.url!r} says it is {ident!r}, not a {PROTOCOL}; "
                        "check the rig's syncbox.port and flash tools/syncbox/syncbox.ino"
                    )
                self._discard_pending()
                return SyncBoxInfo(self.url, ident, banner)
            elif line:
                log.debug("sync box on %s said %r before identifying", self.url, line)
            if time.monotonic() >= next_ask:
                self._write("ID?")
                next_ask = time.monotonic() + 0.5
        raise SyncBoxError(
            f"the sync box on {self.url!r} did not answer ID? within {self.ready_timeout_s:g} s; "
            f"is it powered, flashed with tools/syncbox/syncbox.ino, and set to "
            f"{self.baudrate} baud? (or record without it: --no-syncbox)"
        )

    def _discard_pending(self, quiet_s: float = 0.05) -> None:
        """Drop lines still arriving (answers to repeated ``ID?``) until ``quiet_s`` of silence."""
        while line := self._readline(quiet_s):
            log.debug("sync box on %s: discarding %r", self.url, line)

    def close(self) -> None:
        if self._port is not None:
            # pyserial's socket:// close() skips closing a socket whose peer already hung up
            sock = getattr(self._port, "_socket", None)
            with contextlib.suppress(serial.SerialException, OSError):
                self._port.close()
            if sock is not None:
                sock.close()
            self._port = None

    def __enter__(self) -> SyncBox:
        if self._port is None:
            self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -------------------------------------------------------------------- commands
    def identify(self) -> str:
        return self._command("ID?", "ID ")

    def start(self, fps: float, n: int | None = None) -> None:
        """Start ``n`` pulses (None: until :meth:`stop`) at ``fps`` Hz."""
        if not 0 < fps <= 100_000 or (n is not None and n < 0):
            raise SyncBoxError(f"sync box START needs 0 < fps ≤ 100000 and n ≥ 0, found {fps}, {n}")
        self._command(f"START {fps:.6g}" + (f" {n}" if n else ""), "OK START")

    def stop(self) -> int:
        """Stop the pulses; returns the number emitted since START."""
        return _int_field(self._command("STOP", "OK STOP"), -1, self.url)

    def count(self) -> int:
        """Pulses emitted since START."""
        return _int_field(self._command("COUNT?", "COUNT "), -1, self.url)

    def _command(self, cmd: str, expect: str) -> str:
        for attempt in range(2):
            try:
                self._write(cmd)
                return self._reply(cmd, expect)
            except (serial.SerialException, OSError) as exc:
                if attempt == 1:
                    raise SyncBoxError(
                        f"sync box on {self.url!r} failed on {cmd!r}: {exc}"
                    ) from None
                log.warning("sync box on %s: %s; reconnecting", self.url, exc)
                self._reconnect()
        raise AssertionError("unreachable")

    def _reconnect(self) -> None:
        last: Exception | None = None
        for i in range(self.reconnect_attempts):
            time.sleep(0.2 * (i + 1))
            try:
                self.connect()
                self.reconnections += 1
                return
            except SyncBoxError as exc:
                last = exc
        raise SyncBoxError(
            f"lost the sync box on {self.url!r} and could not reconnect after "
            f"{self.reconnect_attempts} attempts ({last})"
        )

    def _reply(self, cmd: str, expect: str) -> str:
        deadline = time.monotonic() + self.timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SyncBoxError(
                    f"the sync box on {self.url!r} did not answer {cmd!r} within "
                    f"{self.timeout_s:g} s; check the cable and that the box is powered"
                )
            line = self._readline(left)
            if line.startswith(expect):
                return line
            if line.startswith("ERR"):
                raise SyncBoxError(f"the sync box on {self.url!r} refused {cmd!r}: {line}")
            if line.startswith("READY"):
                log.warning("sync box on %s reset (READY banner) during %r", self.url, cmd)
            elif line:
                log.debug(
                    "sync box on %s: ignoring %r while waiting for %r", self.url, line, expect
                )

    # ------------------------------------------------------------------------ bytes
    def _require_port(self) -> serial.SerialBase:
        if self._port is None:
            raise SyncBoxError(f"the sync box on {self.url!r} is not connected")
        return self._port

    def _write(self, line: str) -> None:
        port = self._require_port()
        port.write((line + "\n").encode("ascii"))
        port.flush()

    def _readline(self, timeout_s: float) -> str:
        port = self._require_port()
        port.timeout = max(timeout_s, 0.001)
        raw = port.readline()
        if raw and not raw.endswith(b"\n"):  # a partial line at the timeout: finish it
            port.timeout = self.timeout_s
            raw += port.readline()
        return raw.decode("ascii", errors="replace").strip()


def _int_field(line: str, index: int, url: str) -> int:
    try:
        return int(line.split()[index])
    except (IndexError, ValueError):
        raise SyncBoxError(f"the sync box on {url!r} sent a malformed reply {line!r}") from None
