"""Frame maps in the session file, and back.

Per trial, group ``trials/<trial>/frame_times`` holds every camera's map (dims ``view``,
``frame``, ``slot``, ``extra``; shorter cameras padded with NaN / -1):

=================  ==================  ==================================================
variable           dims                meaning
=================  ==================  ==================================================
time               view, frame         exposure time of each video frame, s master clock
sample             view, frame         the same as a fractional sample of the master stream
slot               view, frame         trigger slot of the frame (-1: padding)
measured           view, frame         1 time is a measured pulse edge, 0 interpolated
n_frames           view                frames in the video
slot_time          view, slot          time of each trigger slot (s)
slot_status        view, slot          0 ok, 1 pulse missing, 2 dropped frame, 3 skipped
                                       trigger, 4 pulse outside the video (-1: padding)
slot_frame         view, slot          video frame in the slot (-1: none)
extra_pulse_time   view, extra         spurious pulses removed (s; NaN padding)
=================  ==================  ==================================================

Edges of the TTL channels go to ``sync/edges/<channel>`` (``rising``, ``falling`` in s), clock
fits to ``sync/clocks``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import xarray as xr

from mocap3d.errors import InputError
from mocap3d.io.session import read_dataset, write_dataset
from mocap3d.sync.clock import ClockFit
from mocap3d.sync.frames import STATUS_NAMES, FrameMap
from mocap3d.sync.report import write_sync_report
from mocap3d.sync.session import SessionSync


def _pad(arrays: list[np.ndarray], fill: float | int, dtype: type) -> np.ndarray:
    n = max((a.size for a in arrays), default=0)
    out: np.ndarray = np.full((len(arrays), n), fill, dtype=dtype)
    for i, a in enumerate(arrays):
        out[i, : a.size] = a
    return out


def frame_maps_dataset(
    maps: Mapping[str, FrameMap], *, master_rate_hz: float, master_t0_s: float = 0.0
) -> xr.Dataset:
    """One trial's frame maps (camera → FrameMap) as a dataset (see the module docstring)."""
    views = list(maps)
    fms = [maps[v] for v in views]
    time = _pad([m.frame_time for m in fms], np.nan, np.float64)
    ds = xr.Dataset(
        {
            "time": (("view", "frame"), time, {"units": "s"}),
            "sample": (("view", "frame"), (time - master_t0_s) * master_rate_hz),
            "slot": (("view", "frame"), _pad([m.frame_slot for m in fms], -1, np.int64)),
            "measured": (
                ("view", "frame"),
                _pad([m.frame_measured.astype(np.int8) for m in fms], -1, np.int8),
            ),
            "n_frames": (("view",), np.array([m.n_frames for m in fms], dtype=np.int64)),
            "slot_time": (("view", "slot"), _pad([m.slot_time for m in fms], np.nan, np.float64)),
            "slot_status": (("view", "slot"), _pad([m.slot_status for m in fms], -1, np.int8)),
            "slot_frame": (("view", "slot"), _pad([m.slot_frame for m in fms], -1, np.int64)),
            "extra_pulse_time": (
                ("view", "extra"),
                _pad([m.extra_pulse_times for m in fms], np.nan, np.float64),
            ),
        },
        coords={"view": views},
        attrs={
            "trial": fms[0].trial if fms else "",
            "clock": "master",
            "time_unit": "s",
            "master_rate_hz": float(master_rate_hz),
            "master_t0_s": float(master_t0_s),
            "period_s": [m.period_s for m in fms],
            "method": [m.method for m in fms],
            "anchor": [m.anchor for m in fms],
            "n_dropped": [m.n_dropped for m in fms],
            "status_codes": json.dumps({int(k): v for k, v in STATUS_NAMES.items()}),
            "warnings": json.dumps([w for m in fms for w in m.warnings]),
        },
    )
    return ds


def frame_maps_from_dataset(ds: xr.Dataset) -> dict[str, FrameMap]:
    """Inverse of :func:`frame_maps_dataset` (camera clock fits are not stored)."""
    out: dict[str, FrameMap] = {}
    periods = np.atleast_1d(ds.attrs["period_s"])
    methods = np.atleast_1d(ds.attrs["method"])
    anchors = np.atleast_1d(ds.attrs["anchor"])
    for i, v in enumerate(ds["view"].values):
        n = int(ds["n_frames"].values[i])
        status = ds["slot_status"].values[i]
        n_slots = int((status >= 0).sum())
        extra = ds["extra_pulse_time"].values[i]
        out[str(v)] = FrameMap(
            frame_time=ds["time"].values[i, :n],
            frame_slot=ds["slot"].values[i, :n],
            slot_time=ds["slot_time"].values[i, :n_slots],
            slot_status=status[:n_slots],
            slot_frame=ds["slot_frame"].values[i, :n_slots],
            period_s=float(periods[i]),
            extra_pulse_times=extra[np.isfinite(extra)],
            method=str(methods[i]),
            anchor=str(anchors[i]),
            camera=str(v),
            trial=str(ds.attrs.get("trial", "")),
        )
    return out


def read_frame_maps(session_file: str | Path, trial: str) -> dict[str, FrameMap]:
    """A trial's frame maps from the session file (written by ``mocap3d sync``)."""
    return frame_maps_from_dataset(read_dataset(session_file, f"trials/{trial}/frame_times"))


def clocks_dataset(clocks: Mapping[str, ClockFit]) -> xr.Dataset:
    names = list(clocks)
    fits = [clocks[n] for n in names]
    return xr.Dataset(
        {
            "offset_s": (("device",), [f.offset_s for f in fits]),
            "drift_ppm": (("device",), [f.drift_ppm for f in fits]),
            "drift_se_ppm": (("device",), [f.drift_se_ppm for f in fits]),
            "residual_rms_us": (("device",), [f.rms_us for f in fits]),
            "residual_max_us": (("device",), [f.max_abs_us for f in fits]),
            "n_pairs": (("device",), [f.n_pairs for f in fits]),
        },
        coords={"device": names},
        attrs={"model": "t_master = offset_s + (1 + 1e-6 drift_ppm) t_device"},
    )


def write_session_sync(
    result: SessionSync, session_file: str | Path, report_dir: str | Path
) -> dict[str, Path]:
    """Write frame maps, TTL edges and clock fits into the session file; write the report.

    Every dataset is written atomically (:func:`mocap3d.io.session.write_dataset`).

    Returns
    -------
    dict
        ``session`` file, ``report_json`` and ``report_png`` paths.
    """
    session_file = Path(session_file)
    if not result.maps:
        raise InputError("nothing to write: no trial was synced")
    for trial, maps in result.maps.items():
        ds = frame_maps_dataset(
            maps, master_rate_hz=result.master_rate_hz, master_t0_s=result.master_t0_s
        )
        write_dataset(session_file, f"trials/{trial}/frame_times", ds)
    for ch, e in result.edges.items():
        ds = xr.Dataset(
            {"rising": (("rising_edge",), e.rising), "falling": (("falling_edge",), e.falling)},
            attrs={"channel": ch, "low": e.levels.low, "high": e.levels.high,
                   "rate_hz": e.rate_hz, "time_unit": "s", "clock": "master"},
        )  # fmt: skip
        write_dataset(session_file, f"sync/edges/{ch}", ds)
    if result.clocks:
        write_dataset(session_file, "sync/clocks", clocks_dataset(result.clocks))
    json_path, png_path = write_sync_report(
        result.report(), result.maps, report_dir, clocks=result.clocks
    )
    return {"session": session_file, "report_json": json_path, "report_png": png_path}
