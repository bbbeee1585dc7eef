"""Close out a raw DAQ file whose recording crashed (``mocap3d record --recover FILE``).

A recorder killed mid-way leaves its file with status ``recording`` and HDF5's SWMR-write flag
set (many tools then refuse to open it); every sample flushed before the crash is readable.

Recovery never writes into the crashed file: it copies every readable sample, the channel
descriptions and the events into a new file, closed with status ``recovered`` and a
``recovered`` event, verifies the copy sample for sample (checksums of the raw values read
back), and only then renames the original to ``<name>.crashed.h5`` and puts the new file at
the original path — so sessions keep their ``raw/daq.h5``. Why a copy rather than fixing the
file in place (``h5clear`` + a status byte): the crashed file's metadata past the last flush
may be inconsistent, and writing into it could damage data that is readable now; the copy
opens in any HDF5 reader (no SWMR flag); the untouched original stays as evidence until the
user deletes it. The cost is disk space and time for one copy (checked before starting).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import platform
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mocap3d.acquisition.status import manifest_path_for, write_manifest
from mocap3d.errors import InputError
from mocap3d.io.atomic import atomic_path
from mocap3d.io.rawdaq import RawDaqWriter, read_raw_daq_info, read_stream
from mocap3d.progress import Progress, report

CHUNK = 1 << 20  # samples per copied chunk


@dataclass(frozen=True)
class RecoveryResult:
    """``path`` now holds the recovered file; the crashed original is at ``crashed``."""

    path: Path
    crashed: Path
    samples: dict[str, int]
    duration_s: float
    events: int


def crashed_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.crashed{path.suffix}")


def recover(path: str | Path, *, progress: Progress | None = None) -> RecoveryResult:
    """Copy a crashed recording into a closed file with status ``recovered``.

    Raises
    ------
    InputError
        If the file is not a crashed recording (e.g. already closed), its recording is
        still running, or there is not enough free space for the copy.
    """
    path = Path(path)
    crashed = crashed_path(path)
    partial = path.with_name(f"{path.stem}.recovered{path.suffix}")
    if not path.exists() and crashed.exists() and partial.exists():
        os.replace(partial, path)  # finish a recovery interrupted between its two renames
        return _result(path, crashed)
    info = read_raw_daq_info(path)
    if info.status != "recording":
        raise InputError(f"{path} has status {info.status!r}: it was closed, nothing to recover")
    _refuse_if_running(path)
    if crashed.exists():
        raise InputError(f"{crashed} already exists; move it away before recovering {path}")
    need = path.stat().st_size + (64 << 20)
    free = shutil.disk_usage(path.parent).free
    if free < need:
        raise InputError(
            f"recovering {path} needs about {need / 1e9:.2f} GB free in {path.parent}, found "
            f"{free / 1e9:.2f} GB; free space (the crashed file is not modified meanwhile)"
        )
    now = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    meta = {
        **info.metadata,
        "recovered_from": crashed.name,
        "recovered_utc": now,
    }
    total = sum(s.n_samples for s in info.streams.values())
    sums: dict[str, str] = {}
    with atomic_path(partial) as tmp:
        tmp.unlink()
        streams = list(info.streams.values())
        created = info.created_utc or None  # the recording's, not the copy's
        with RawDaqWriter(tmp, streams, info.master_stream, meta, created_utc=created) as w:
            done = 0
            for name, s in info.streams.items():
                digest = hashlib.sha256()
                for start in range(0, s.n_samples, CHUNK):
                    block = _raw(path, name, start, start + CHUNK, s.dtype)
                    digest.update(block.tobytes())
                    w.append(name, block)
                    done += len(block)
                    report(progress, done, total, "recover")
                sums[name] = digest.hexdigest()
            for e in info.events:
                w.add_event(
                    e["kind"].decode(),
                    sample=int(e["sample"]),
                    stream=e["stream"].decode(),
                    message=e["message"].decode(),
                )
            w.add_event(
                "recovered", sample=info.master.n_samples, message=f"{now} from {crashed.name}"
            )
            w.close("recovered")
        _verify(tmp, info.streams, sums, path)
    os.replace(path, crashed)
    os.replace(partial, path)
    _update_manifest(path, crashed, now)
    return _result(path, crashed)


def _raw(path: Path, stream: str, start: int, stop: int, dtype: str) -> np.ndarray:
    data = read_stream(path, stream, start=start, stop=stop, physical=False).values
    return np.ascontiguousarray(data.astype(dtype))


def _verify(copy: Path, streams: dict, sums: dict[str, str], original: Path) -> None:
    got = read_raw_daq_info(copy)
    for name, s in streams.items():
        digest = hashlib.sha256()
        for start in range(0, s.n_samples, CHUNK):
            digest.update(_raw(copy, name, start, start + CHUNK, s.dtype).tobytes())
        if got.streams[name].n_samples != s.n_samples or digest.hexdigest() != sums[name]:
            raise InputError(
                f"the recovered copy of {original} does not match it in stream {name!r}; "
                "nothing was changed — report this with both files"
            )


def _refuse_if_running(path: Path) -> None:
    manifest = manifest_path_for(path)
    if not manifest.is_file():
        return
    rec = tomllib.loads(manifest.read_text(encoding="utf-8")).get("recording", {})
    pid = rec.get("pid")
    if not isinstance(pid, int) or rec.get("host") != platform.node():
        return
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return
    except PermissionError:
        pass
    raise InputError(
        f"{path} is still being recorded by process {pid} on this machine; stop that recording "
        "(Ctrl-C) instead of recovering its file"
    )


def _update_manifest(path: Path, crashed: Path, now: str) -> None:
    manifest = manifest_path_for(path)
    if not manifest.is_file():
        return
    doc = tomllib.loads(manifest.read_text(encoding="utf-8"))
    info = read_raw_daq_info(path)
    doc.setdefault("recording", {}).update(
        status="recovered",
        recovered_utc=now,
        crashed_file=crashed.name,
        duration_s=info.master.n_samples / info.master.rate_hz,
        stop_reason="crashed",
    )
    doc["streams"] = {
        n: {"rate_hz": s.rate_hz, "samples": s.n_samples, "channels": s.channel_names}
        for n, s in info.streams.items()
    }
    write_manifest(manifest, doc)


def _result(path: Path, crashed: Path) -> RecoveryResult:
    info = read_raw_daq_info(path)
    return RecoveryResult(
        path,
        crashed,
        {n: s.n_samples for n, s in info.streams.items()},
        info.master.n_samples / info.master.rate_hz,
        len(info.events),
    )
