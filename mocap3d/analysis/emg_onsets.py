"""EMG burst onsets and offsets, detected on a causal filter chain with its delay corrected.

A zero-phase filter spreads a burst backwards in time and places onsets early (by up to 25 ms
on synthetic jumps, and by 3–7 ms on average here with a zero-phase band-pass); a causal
filter only delays, and its delay is known. The detection chain is the band-pass of
:class:`~mocap3d.analysis.emg.EmgSettings` applied causally (the notch only if
``OnsetSettings.notch``), full-wave rectification — or the Teager–Kaiser energy operator
``x[n]² − x[n−1]·x[n+1]`` first (Li et al. 2007; Solnik et al. 2010) — and a causal
Butterworth low-pass (50 Hz: Hodges & Bui 1996).

Onset: the first time in a search window at which this envelope rises above
``baseline mean + k · baseline SD`` and stays above for ``min_duration_s``; offset: the first
time after the onset at which it stays below for ``min_duration_s``. Both are corrected by the
chain's delay: the band-pass's group delay at the burst's median frequency, plus the time the
low-pass's step response takes to reach the threshold's fraction of the burst level (for the
offset: to fall to it).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import xarray as xr

from mocap3d.analysis._signal import crossing_time, first_run
from mocap3d.analysis.emg import EmgSettings, OnsetSettings, _check, _sos, _stamp, filter_emg

__all__ = ["compute_emg_onsets"]


def _detection_chain(
    signal: xr.DataArray, settings: EmgSettings, onset: OnsetSettings
) -> tuple[np.ndarray, np.ndarray, float, list[np.ndarray], np.ndarray]:
    from scipy.signal import butter, sosfilt

    if not onset.notch:
        settings = replace(settings, notch_hz=None)
    bp = filter_emg(signal, settings, causal=True)
    rate = float(bp.attrs["rate_hz"])
    x = np.asarray(bp.values)
    if onset.method == "tkeo":
        e = np.zeros_like(x)
        e[1:-1] = x[1:-1] ** 2 - x[:-2] * x[2:]
        x_det = np.abs(e)
    else:
        x_det = np.abs(x)
    sos = butter(onset.lowpass_order, onset.lowpass_hz, fs=rate, output="sos")
    env = sosfilt(sos, x_det, axis=0)
    step = sosfilt(sos, np.ones(int(max(0.2, 20 / onset.lowpass_hz) * rate)))
    return x, env, rate, _sos(settings, rate), step


def _group_delay(sos_list: list[np.ndarray], freq: float, rate: float) -> float:
    """Group delay (s) of the cascade at ``freq``."""
    from scipy.signal import group_delay

    total = 0.0
    for sos in sos_list:
        for section in sos:
            b, a = section[:3], section[3:]
            _, gd = group_delay((b, a), w=[freq], fs=rate)
            total += float(gd[0])
    return total / rate


def _median_frequency(x: np.ndarray, rate: float) -> float:
    from scipy.signal import periodogram

    f, p = periodogram(x, fs=rate)
    c = np.cumsum(p)
    if c[-1] <= 0:
        return float("nan")
    return float(f[min(np.searchsorted(c, c[-1] / 2), f.size - 1)])


def compute_emg_onsets(
    signal: xr.DataArray,
    *,
    baseline: tuple[float, float],
    search: tuple[float, float],
    settings: EmgSettings = EmgSettings(),
    onset: OnsetSettings = OnsetSettings(),
) -> xr.Dataset:
    """Burst onset and offset per channel: the first burst that starts inside ``search``.

    Parameters
    ----------
    signal : DataArray (time, channel)
        Raw EMG, V, covering ``baseline`` and ``search`` (plus some lead-in for the filters).
    baseline : (t0, t1)
        Quiet window (s, same clock as ``time``) whose mean and SD set the threshold.
    search : (t0, t1)
        Window in which the burst must start (from below threshold).
    settings, onset : EmgSettings, OnsetSettings

    Returns
    -------
    xarray.Dataset over ``channel`` with ``onset``, ``offset`` (s; NaN if none), ``threshold``,
    ``baseline_mean``, ``baseline_sd`` (detection-envelope units), ``delay_correction`` (s) and
    ``reason`` (why an onset is NaN, else ""). Settings in the attrs.
    """
    signal = _check(signal)
    t = np.asarray(signal["time"].values, dtype=np.float64)
    x, env, rate, sos_list, step = _detection_chain(signal, settings, onset)
    n_min = max(round(onset.min_duration_s * rate), 1)
    n_off = max(round(onset.offset_min_duration_s * rate), 1)
    in_base = (t >= baseline[0]) & (t < baseline[1])
    in_search = np.flatnonzero((t >= search[0]) & (t < search[1]))
    chans = list(signal["channel"].values)
    res: dict[str, list[Any]] = {
        k: []
        for k in (
            "onset",
            "offset",
            "threshold",
            "baseline_mean",
            "baseline_sd",
            "delay_correction",
            "reason",
        )
    }
    for c in range(len(chans)):
        e = env[:, c]
        row = dict(
            onset=np.nan,
            offset=np.nan,
            threshold=np.nan,
            baseline_mean=np.nan,
            baseline_sd=np.nan,
            delay_correction=np.nan,
            reason="",
        )
        if in_base.sum() < n_min or not np.isfinite(e[in_base]).all():
            row["reason"] = f"baseline window {baseline} s holds no usable samples"
        elif in_search.size < 2:
            row["reason"] = f"search window {search} s holds no samples"
        else:
            mu, sd = float(e[in_base].mean()), float(e[in_base].std())
            thr = mu + onset.k * sd
            row.update(threshold=thr, baseline_mean=mu, baseline_sd=sd)
            seg = e[in_search[0] :]
            i = first_run(seg[: in_search.size + n_min] > thr, n_min)
            if i is None or i >= in_search.size:
                row["reason"] = (
                    f"no burst: the envelope never rose above baseline + {onset.k:g} SD for "
                    f"{1000 * onset.min_duration_s:g} ms in {search[0]:.3f}–{search[1]:.3f} s"
                )
            else:
                i0 = in_search[0] + i
                t_on = crossing_time(t, e, i0, thr)
                level = float(e[i0 : i0 + n_min].mean()) - mu
                below = first_run(e[i0:] < thr, n_off)
                delay_on = delay_off = 0.0
                if onset.correct_delay:
                    fm = _median_frequency(x[i0 : i0 + 2 * n_min, c], rate)
                    gd = _group_delay(sos_list, fm, rate) if np.isfinite(fm) and fm > 0 else 0.0
                    frac = (thr - mu) / level if level > 0 else 1.0
                    delay_on = gd + float(np.argmax(step >= min(frac, 0.999))) / rate
                    delay_off = gd + float(np.argmax(step >= min(1 - frac, 0.999))) / rate
                row["onset"] = t_on - delay_on
                row["delay_correction"] = delay_on
                if below is not None:
                    j = i0 + below
                    row["offset"] = crossing_time(t, e, j, thr) - delay_off
        for k, v in row.items():
            res[k].append(v)
    ds = xr.Dataset(
        {
            k: ("channel", np.asarray(v, dtype=object if k == "reason" else np.float64))
            for k, v in res.items()
        },
        coords={"channel": chans},
    )
    ds["reason"] = ds["reason"].astype(str)
    ds["onset"].attrs["units"] = ds["offset"].attrs["units"] = "s"
    _stamp(ds, settings, rate, onset)
    ds.attrs.update(baseline=list(baseline), search=list(search))
    return ds
