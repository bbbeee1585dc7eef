"""Streams on one clock: kinematics, EMG envelopes and force on common time bases, trials cut.

Every stream is an ``xarray.DataArray`` with a ``time`` dimension in seconds on the master clock
(DAQ streams from :func:`mocap3d.io.rawdaq.read_stream` already are; a device on its own clock
is mapped with :func:`on_master_clock`). Streams keep their native rates: :func:`align` without
a rate or time base only puts them side by side (each on its own ``time_<name>``); resampling
happens only when asked for, with a method chosen per stream (``mean`` over each target bin for
fast signals such as EMG envelopes brought down to frame rate, ``linear`` or ``nearest``
otherwise). Time bases cover the union of the streams by default — never cut to the shortest —
with NaN where a stream has no data.

Trials are cut from a long session by windows around events: trigger edges, bursts of camera
pulses (one burst per trial), or threshold crossings of a signal such as force
(:func:`signal_events`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import xarray as xr

from mocap3d.errors import InputError
from mocap3d.sync.clock import ClockFit
from mocap3d.sync.edges import detect_edges, split_bursts

Method = Literal["linear", "nearest", "mean"]


def _times(da: xr.DataArray, name: str) -> np.ndarray:
    if "time" not in da.dims:
        raise InputError(f"stream {name!r} has no 'time' dimension (dims {list(da.dims)})")
    t = np.asarray(da["time"].values, dtype=np.float64)
    if t.size > 1 and np.any(np.diff(t) <= 0):
        raise InputError(f"stream {name!r}: time must increase")
    return t


def on_master_clock(da: xr.DataArray, clock: ClockFit) -> xr.DataArray:
    """A stream timed on a device clock, re-timed onto the master clock (samples unchanged)."""
    t = _times(da, str(da.name or "stream"))
    out = da.assign_coords(time=clock.to_master(t))
    out.attrs = {**da.attrs, "clock": "master", "clock_fit": clock.name,
                 "clock_drift_ppm": clock.drift_ppm}  # fmt: skip
    return out


def resample(
    da: xr.DataArray, time: np.ndarray, *, method: Method = "linear", name: str = ""
) -> xr.DataArray:
    """Resample a stream onto the time points ``time`` (s, increasing).

    Parameters
    ----------
    method : {"linear", "nearest", "mean"}
        ``linear`` interpolation; ``nearest`` sample (within half a source period);
        ``mean`` of the source samples in each target bin (bins end half-way between target
        points) — the right choice for bringing a fast signal down to a slower rate.

    Returns
    -------
    xarray.DataArray
        Same dims, ``time`` replaced; NaN outside the stream's span (and, for ``mean``, in bins
        without samples). NaNs in the source propagate to the points that use them.
    """
    name = name or str(da.name or "stream")
    src = _times(da, name)
    tgt = np.asarray(time, dtype=np.float64)
    moved = da.transpose("time", ...)
    x = moved.values.reshape(src.size, -1).astype(np.float64)
    if src.size == 0:
        y = np.full((tgt.size, x.shape[1]), np.nan)
    elif method == "mean":
        edges = np.concatenate(([-np.inf], 0.5 * (tgt[1:] + tgt[:-1]), [np.inf]))
        if tgt.size > 1:
            edges[0], edges[-1] = tgt[0] - (tgt[1] - tgt[0]) / 2, tgt[-1] + (tgt[-1] - tgt[-2]) / 2
        idx = np.searchsorted(src, edges, side="left")
        finite = np.isfinite(x)
        csum = np.concatenate((np.zeros((1, x.shape[1])), np.cumsum(np.where(finite, x, 0), 0)))
        ccnt = np.concatenate((np.zeros((1, x.shape[1])), np.cumsum(finite, 0)))
        total = csum[idx[1:]] - csum[idx[:-1]]
        count = ccnt[idx[1:]] - ccnt[idx[:-1]]
        with np.errstate(invalid="ignore", divide="ignore"):
            y = np.where(count > 0, total / count, np.nan)
    else:
        j = np.clip(np.searchsorted(src, tgt), 1, max(src.size - 1, 1))
        inside = (tgt >= src[0]) & (tgt <= src[-1])
        if src.size == 1:
            y = np.where(inside[:, None], x[[0]], np.nan)
        elif method == "linear":
            w = ((tgt - src[j - 1]) / (src[j] - src[j - 1]))[:, None]
            y = (1 - w) * x[j - 1] + w * x[j]
            exact = tgt == src[j - 1]
            y[exact] = x[j - 1][exact]
            y[~inside] = np.nan
        else:
            pick = np.where(np.abs(tgt - src[j - 1]) <= np.abs(src[j] - tgt), j - 1, j)
            y = x[pick]
            half = 0.5 * float(np.median(np.diff(src)))
            y[(tgt < src[0] - half) | (tgt > src[-1] + half)] = np.nan
    out = xr.DataArray(
        y.reshape((tgt.size, *moved.shape[1:])),
        dims=moved.dims,
        coords={**{k: v for k, v in moved.coords.items() if "time" not in v.dims}, "time": tgt},
        name=da.name,
        attrs={**da.attrs, "resampled": method},
    )
    return out.transpose(*da.dims)


def common_time_base(
    streams: Mapping[str, xr.DataArray],
    *,
    rate_hz: float,
    span: Literal["union", "intersection"] = "union",
) -> np.ndarray:
    """Regular time points at ``rate_hz`` covering the streams' union (or intersection), s."""
    if not rate_hz > 0:
        raise InputError(f"rate_hz must be > 0, found {rate_hz}")
    spans = [(t[0], t[-1]) for n, da in streams.items() if (t := _times(da, n)).size]
    if not spans:
        raise InputError("no stream has samples; nothing to align")
    lo = min(a for a, _ in spans) if span == "union" else max(a for a, _ in spans)
    hi = max(b for _, b in spans) if span == "union" else min(b for _, b in spans)
    if hi < lo:
        raise InputError(f"the streams do not overlap in time ({lo:.3f} s > {hi:.3f} s)")
    return lo + np.arange(int(np.floor((hi - lo) * rate_hz + 1e-9)) + 1) / rate_hz


def align(
    streams: Mapping[str, xr.DataArray],
    *,
    rate_hz: float | None = None,
    time: np.ndarray | None = None,
    method: Method | Mapping[str, Method] = "linear",
    span: Literal["union", "intersection"] = "union",
) -> xr.Dataset:
    """Put streams side by side on the master clock; resample only when asked.

    Parameters
    ----------
    streams : mapping of name to DataArray
        Each with ``time`` in seconds on the master clock (and any other dims; a ``channel``
        dim becomes ``channel_<name>`` so that streams' channels do not collide).
    rate_hz, time : optional
        Resample onto a regular base at ``rate_hz`` (over the ``span`` of the streams) or onto
        the given time points; neither: every stream keeps its native samples on
        ``time_<name>``.
    method : str or mapping of name to str
        Resampling method per stream (see :func:`resample`).

    Returns
    -------
    xarray.Dataset
        One variable per stream.
    """
    if rate_hz is not None and time is not None:
        raise InputError("give rate_hz or time, not both")
    if time is None and rate_hz is not None:
        time = common_time_base(streams, rate_hz=rate_hz, span=span)
    out = {}
    for name, da in streams.items():
        _times(da, name)
        if "channel" in da.dims:
            da = da.rename({"channel": f"channel_{name}"})
        if time is None:
            da = da.rename({"time": f"time_{name}"})
        else:
            m = method if isinstance(method, str) else method.get(name, "linear")
            da = resample(da, time, method=m, name=name)
        out[name] = da.drop_vars([c for c in da.coords if c == "unit"], errors="ignore")
    ds = xr.Dataset(out)
    ds.attrs.update({"time_unit": "s", "clock": "master",
                     "resampled": "native" if time is None else "common"})  # fmt: skip
    return ds


@dataclass(frozen=True)
class Window:
    """A trial's time window on the master clock (s) around its event."""

    start_s: float
    stop_s: float
    event_s: float
    label: str = ""


def windows_from_events(
    events_s: Sequence[float] | np.ndarray,
    *,
    pre_s: float,
    post_s: float,
    labels: Sequence[str] | None = None,
) -> list[Window]:
    """Windows ``[event - pre_s, event + post_s]`` around each event."""
    ev = np.asarray(events_s, dtype=np.float64)
    names = list(labels) if labels is not None else [f"trial_{i + 1:03d}" for i in range(ev.size)]
    if len(names) != ev.size:
        raise InputError(f"{len(names)} labels for {ev.size} events")
    return [Window(e - pre_s, e + post_s, e, n) for e, n in zip(ev, names, strict=True)]


def windows_from_bursts(
    times: np.ndarray,
    *,
    min_gap_s: float,
    pre_s: float = 0.0,
    post_s: float = 0.0,
    labels: Sequence[str] | None = None,
) -> list[Window]:
    """One window per burst of pulses (e.g. camera triggers of one trial); event = first pulse."""
    t = np.asarray(times, dtype=np.float64)
    bursts = split_bursts(t, min_gap_s=min_gap_s)
    names = (
        list(labels) if labels is not None else [f"trial_{i + 1:03d}" for i in range(len(bursts))]
    )
    if len(names) != len(bursts):
        raise InputError(f"{len(names)} labels for {len(bursts)} bursts of pulses")
    return [
        Window(float(t[b][0]) - pre_s, float(t[b][-1]) + post_s, float(t[b][0]), n)
        for b, n in zip(bursts, names, strict=True)
    ]


def signal_events(
    da: xr.DataArray,
    *,
    direction: Literal["rising", "falling"] = "rising",
    low: float | None = None,
    high: float | None = None,
    min_interval_s: float = 0.0,
) -> np.ndarray:
    """Times (s) where a 1-channel signal (force, a trigger …) crosses between two levels.

    Thresholds are automatic from the signal's two levels (e.g. loaded / unloaded platform)
    unless ``low`` and ``high`` are given; events closer than ``min_interval_s`` to the previous
    one are dropped.
    """
    t = _times(da, str(da.name or "signal"))
    x = da.squeeze().values
    if x.ndim != 1:
        raise InputError(f"signal_events needs one channel, found dims {list(da.dims)}")
    rate = 1.0 / float(np.median(np.diff(t)))
    e = detect_edges(x, rate_hz=rate, t0_s=float(t[0]), low=low, high=high,
                     channel=str(da.name or "signal"))  # fmt: skip
    ev = e.rising if direction == "rising" else e.falling
    if min_interval_s > 0 and ev.size:
        keep = [0]
        for i in range(1, ev.size):
            if ev[i] - ev[keep[-1]] >= min_interval_s:
                keep.append(i)
        ev = ev[keep]
    return ev


def cut_trials(
    streams: Mapping[str, xr.DataArray], windows: Sequence[Window]
) -> dict[str, xr.Dataset]:
    """Cut every stream to each window, keeping native rates.

    Returns
    -------
    dict of label to xarray.Dataset
        Per window, :func:`align` of the cut streams (native rates), with attributes
        ``start_s``, ``stop_s`` and ``event_s``; times stay on the master clock.
    """
    out = {}
    for i, w in enumerate(windows):
        cut = {n: da.sel(time=slice(w.start_s, w.stop_s)) for n, da in streams.items()}
        ds = align(cut)
        ds.attrs.update({"start_s": w.start_s, "stop_s": w.stop_s, "event_s": w.event_s})
        out[w.label or f"trial_{i + 1:03d}"] = ds
    return out
