"""EMG metrics of one jump: burst onsets, latencies, durations and integrals per phase.

Per channel: onset and offset of the push-off burst (the first burst starting between
movement onset and takeoff), its duration, its latency to movement onset and to takeoff, the
onset of the landing burst (the first starting between takeoff and 50 ms after touchdown)
relative to touchdown, and per phase (:data:`~mocap3d.analysis.jump.PHASES`) the integrated
EMG (area under the rectified band-passed signal) and the mean envelope as a percentage of
the session peak.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from mocap3d.analysis._metrics import Metrics
from mocap3d.analysis.emg import EmgSettings, OnsetSettings, compute_emg_envelope, compute_iemg
from mocap3d.analysis.emg_onsets import compute_emg_onsets
from mocap3d.analysis.jump import PHASES, compute_phases

__all__ = ["compute_emg_metrics", "emg_metric_names"]


def compute_emg_metrics(
    emg: xr.DataArray,
    events: Mapping[str, float],
    reasons: Mapping[str, str],
    *,
    settings: EmgSettings = EmgSettings(),
    onset: OnsetSettings = OnsetSettings(),
    session_peak: xr.DataArray | None = None,
    baseline_s: float = 0.2,
) -> tuple[Metrics, xr.Dataset | None]:
    """Per-channel EMG metrics of one trial (module docstring) and the onsets dataset.

    Parameters
    ----------
    emg : DataArray (time, channel), V
        The trial's raw EMG, from at least ``baseline_s`` before movement onset.
    events, reasons : jump events (s) and why missing ones are missing
    session_peak : DataArray (channel), optional
        Envelope peak of the session per channel (V) for normalisation; default this trial's.
    """
    m = Metrics()
    chans = [str(c) for c in emg["channel"].values]
    on, to = events.get("movement_onset", np.nan), events.get("takeoff", np.nan)
    land = events.get("landing", np.nan)
    t = emg["time"].values
    names = [n for c in chans for n in emg_metric_names(c)]
    if not np.isfinite(on):
        for name, unit in names:
            m.missing(name, unit, f"no movement onset: {reasons.get('movement_onset', '')}")
        return m, None
    base = (max(on - 0.01 - baseline_s, float(t[0]) + 0.05), on - 0.01)
    end = to if np.isfinite(to) else float(t[-1])
    push = compute_emg_onsets(emg, baseline=base, search=(on, end), settings=settings, onset=onset)
    landing = None
    if np.isfinite(to):
        stop = land + 0.05 if np.isfinite(land) else float(t[-1])
        landing = compute_emg_onsets(
            emg, baseline=base, search=(to, stop), settings=settings, onset=onset
        )
    phases = compute_phases(events, float(t[0]))
    iemg = compute_iemg(emg, phases, settings).transpose("channel", "window").values
    env = compute_emg_envelope(emg, settings)
    peak = session_peak if session_peak is not None else env.max("time")
    pk = peak.sel(channel=chans).values
    env_v = env.transpose("time", "channel").values
    ok_phase = {ph: bool(np.isfinite(a) and np.isfinite(b)) for ph, (a, b) in phases.items()}
    spans = {
        ph: np.searchsorted(t, [a, b]) if ok_phase[ph] else (0, 0) for ph, (a, b) in phases.items()
    }
    p_on, p_off = push["onset"].values, push["offset"].values
    p_why = [str(r) for r in push["reason"].values]
    for k, c in enumerate(chans):
        o, off, r = float(p_on[k]), float(p_off[k]), p_why[k]
        m.set(f"{c}_onset_s", o, "s", r)
        m.set(f"{c}_offset_s", off, "s", r or "the burst did not end in the data")
        m.set(f"{c}_burst_ms", 1000 * (off - o), "ms", r or "the burst did not end in the data")
        m.set(f"{c}_latency_onset_ms", 1000 * (o - on), "ms", r)
        m.set(f"{c}_latency_takeoff_ms", 1000 * (o - to), "ms", r or reasons.get("takeoff"))
        if landing is None or not np.isfinite(land):
            why = f"no landing: {reasons.get('landing', reasons.get('takeoff', ''))}"
            m.missing(f"{c}_landing_onset_ms", "ms", why)
        else:
            lo = float(landing["onset"].values[k])
            m.set(
                f"{c}_landing_onset_ms", 1000 * (lo - land), "ms", str(landing["reason"].values[k])
            )
        for j, ph in enumerate(phases):
            why = "" if ok_phase[ph] else f"phase {ph} has no start or end event"
            m.set(f"{c}_iemg_{ph}_uvs", 1e6 * iemg[k, j], "uV s", why)
            i0, i1 = spans[ph]
            mean = env_v[i0:i1, k].mean() / pk[k] if i1 > i0 and pk[k] > 0 else np.nan
            m.set(f"{c}_mean_{ph}_pct_peak", 100 * mean, "%", why or "no samples or zero peak")
    return m, push


def emg_metric_names(c: str) -> list[tuple[str, str]]:
    out = [(f"{c}_onset_s", "s"), (f"{c}_offset_s", "s"), (f"{c}_burst_ms", "ms"),
           (f"{c}_latency_onset_ms", "ms"), (f"{c}_latency_takeoff_ms", "ms"),
           (f"{c}_landing_onset_ms", "ms")]  # fmt: skip
    for ph in PHASES:
        out += [(f"{c}_iemg_{ph}_uvs", "uV s"), (f"{c}_mean_{ph}_pct_peak", "%")]
    return out
