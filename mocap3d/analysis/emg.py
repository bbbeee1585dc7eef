"""EMG processing: band-pass, notch, rectification, envelopes, normalisation, integrals.

Signals are DataArrays with dims ``time`` (seconds on the master clock) and ``channel``, in
volts at the muscle (``mocap3d.io.rawdaq.read_stream`` with the rig's scale gives that), with
the sampling rate in ``attrs["rate_hz"]`` (or evenly spaced times).

Two filter chains, on purpose:

- **amplitude** (here: :func:`compute_emg_envelope`, :func:`compute_iemg`): band-pass →
  optional notch → full-wave rectification → linear envelope (Butterworth low-pass) or moving
  RMS. Zero-phase by default (no delay), which is right for amplitudes, integrals and plots.
- **timing** (:func:`mocap3d.analysis.emg_onsets.compute_emg_onsets`): the same band-pass
  applied *causally*, its known delay corrected; zero-phase filters move onsets early.

Every output carries the full processing settings in ``attrs["emg_settings"]`` (JSON) and a
one-sentence description in ``attrs["emg_processing"]``, as the ISEK reporting standard asks
(Merletti 1999).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import numpy as np
import xarray as xr

from mocap3d.errors import InputError

__all__ = [
    "EmgSettings",
    "OnsetSettings",
    "compute_emg_envelope",
    "compute_iemg",
    "filter_emg",
    "normalise_to_peak",
]


@dataclass(frozen=True)
class EmgSettings:
    """How EMG is filtered and enveloped (defaults for intramuscular mouse EMG at 10–20 kHz).

    Attributes
    ----------
    band_hz : (float, float)
        Band-pass corners, Hz. 100 Hz removes movement artefacts and mains; 3 kHz keeps the
        motor-unit potentials of fine-wire electrodes. The upper corner is lowered to
        0.45 × the sampling rate when the rate is too low (the attrs say so).
    band_order : int
        Butterworth order of the band-pass (each of the high- and low-pass halves).
    notch_hz : float or None
        Mains frequency to notch (50 or 60), with ``notch_harmonics`` harmonics; None: no notch.
    notch_q : float
        Quality factor of each IIR notch.
    envelope : "linear" or "rms"
        Linear envelope (rectify + low-pass) or moving root-mean-square.
    envelope_lowpass_hz, envelope_order : float, int
        Low-pass of the linear envelope (Butterworth).
    rms_window_s : float
        Window of the moving RMS.
    zero_phase : bool
        Filter the amplitude chain forwards and backwards (no delay). Onsets are always
        detected on a causal chain (see the module docstring).
    """

    band_hz: tuple[float, float] = (100.0, 3000.0)
    band_order: int = 4
    notch_hz: float | None = None
    notch_harmonics: int = 3
    notch_q: float = 30.0
    envelope: Literal["linear", "rms"] = "linear"
    envelope_lowpass_hz: float = 20.0
    envelope_order: int = 2
    rms_window_s: float = 0.010
    zero_phase: bool = True

    def __post_init__(self) -> None:
        lo, hi = self.band_hz
        if not 0 < lo < hi:
            raise InputError(
                f"EMG band_hz must be (low, high) with 0 < low < high, found {self.band_hz}"
            )
        if self.envelope not in ("linear", "rms"):
            raise InputError(f"EMG envelope must be 'linear' or 'rms', found {self.envelope!r}")
        if not self.envelope_lowpass_hz > 0 or not self.rms_window_s > 0:
            raise InputError("EMG envelope_lowpass_hz and rms_window_s must be > 0")


@dataclass(frozen=True)
class OnsetSettings:
    """How EMG onsets and offsets are detected.

    Attributes
    ----------
    method : "threshold" or "tkeo"
        Threshold on the rectified band-passed signal, or on the Teager–Kaiser energy
        ``x[n]² − x[n−1]·x[n+1]`` of it (Li et al. 2007; Solnik et al. 2010).
    k : float
        Threshold = baseline mean + k × baseline SD of the detection envelope. 4 rather than
        the customary 3: on a smooth envelope 3 SD is only ~20 % above the baseline mean, and
        noise just before a burst bridged into it (0.6 % of simulated onsets up to 4 ms early;
        none with 4 SD).
    min_duration_s : float
        The envelope must stay above the threshold this long for an onset (25 ms: shorter
        excursions of baseline noise were mistaken for bursts on simulated EMG with 10 ms).
    offset_min_duration_s : float
        … and below it this long for an offset.
    lowpass_hz, lowpass_order : float, int
        Causal Butterworth low-pass of the detection envelope (50 Hz: Hodges & Bui 1996).
    correct_delay : bool
        Subtract the causal chain's known delay (module docstring).
    notch : bool
        Apply the settings' notch in the detection chain too. Off by default: an IIR notch
        rings for about Q/(π·f) after a burst (0.2 s at 50 Hz, Q = 30), which holds the
        envelope above threshold and delays offsets; the band-pass already attenuates 50 Hz
        by 24 dB and the baseline threshold absorbs residual hum.
    """

    method: Literal["threshold", "tkeo"] = "threshold"
    k: float = 4.0
    min_duration_s: float = 0.025
    offset_min_duration_s: float = 0.010
    lowpass_hz: float = 50.0
    lowpass_order: int = 2
    correct_delay: bool = True
    notch: bool = False

    def __post_init__(self) -> None:
        if self.method not in ("threshold", "tkeo"):
            raise InputError(f"onset method must be 'threshold' or 'tkeo', found {self.method!r}")
        if not self.k > 0 or not self.min_duration_s > 0 or not self.lowpass_hz > 0:
            raise InputError("onset k, min_duration_s and lowpass_hz must be > 0")


def _rate(signal: xr.DataArray) -> float:
    rate = signal.attrs.get("rate_hz")
    if rate:
        return float(rate)
    t = np.asarray(signal["time"].values, dtype=np.float64)
    if t.size < 2:
        raise InputError("an EMG signal needs at least 2 samples and a rate_hz attribute")
    return float(1.0 / np.median(np.diff(t)))


def _check(signal: xr.DataArray) -> xr.DataArray:
    missing = [d for d in ("time", "channel") if d not in signal.dims]
    if missing:
        raise InputError(
            f"EMG must have dims (time, channel), lacks {missing} (found {list(signal.dims)}); "
            "read it with mocap3d.io.rawdaq.read_stream(..., channels=[...])"
        )
    return signal.transpose("time", "channel")


def _band(settings: EmgSettings, rate: float) -> tuple[float, float]:
    lo, hi = settings.band_hz
    hi = min(hi, 0.45 * rate)
    if not lo < hi:
        raise InputError(
            f"EMG band-pass {settings.band_hz} Hz does not fit a {rate:g} Hz sampling rate; "
            "lower band_hz"
        )
    return lo, hi


def _sos(settings: EmgSettings, rate: float) -> list[np.ndarray]:
    """Second-order sections of the band-pass and notches (applied in this order)."""
    from scipy.signal import butter, iirnotch, tf2sos

    lo, hi = _band(settings, rate)
    out = [butter(settings.band_order, [lo, hi], btype="bandpass", fs=rate, output="sos")]
    if settings.notch_hz:
        for h in range(1, settings.notch_harmonics + 1):
            f = settings.notch_hz * h
            if f < 0.45 * rate:
                b, a = iirnotch(f, settings.notch_q, fs=rate)
                out.append(tf2sos(b, a))
    return out


def describe(
    settings: EmgSettings, rate: float, onset: OnsetSettings | None = None
) -> dict[str, Any]:
    """The settings as a flat, JSON-able dict (with the effective band at ``rate``)."""
    d: dict[str, Any] = {k: v for k, v in asdict(settings).items()}
    d["band_hz"] = list(_band(settings, rate))
    d["band_hz_requested"] = list(settings.band_hz)
    d["band_type"] = "Butterworth"
    d["rectification"] = "full-wave"
    d["rate_hz"] = rate
    if onset is not None:
        d["onset"] = asdict(onset) | {"filters": "causal", "lowpass_type": "Butterworth"}
    return d


def sentence(settings: EmgSettings, rate: float, onset: OnsetSettings | None = None) -> str:
    """ISEK-style methods sentence for these settings."""
    lo, hi = _band(settings, rate)
    phase = "zero-phase (forward-backward)" if settings.zero_phase else "causal"
    s = (
        f"EMG sampled at {rate:g} Hz was band-pass filtered ({settings.band_order}th-order "
        f"Butterworth, {lo:g}–{hi:g} Hz, {phase})"
    )
    if settings.notch_hz:
        s += (
            f", notch filtered at {settings.notch_hz:g} Hz and {settings.notch_harmonics - 1} "
            f"harmonic(s) (Q = {settings.notch_q:g})"
        )
    if settings.envelope == "linear":
        s += (
            f", full-wave rectified and low-pass filtered ({settings.envelope_order}nd-order "
            f"Butterworth, {settings.envelope_lowpass_hz:g} Hz, {phase}) to a linear envelope"
        )
    else:
        s += f", and its moving RMS over {1000 * settings.rms_window_s:g} ms taken as envelope"
    s += "."
    if onset is not None:
        op = "Teager–Kaiser energy" if onset.method == "tkeo" else "rectified signal"
        notch = " and notch" if settings.notch_hz and onset.notch else ""
        s += (
            f" Onsets: causal chain (same band-pass{notch}), {op} low-pass filtered "
            f"({onset.lowpass_order}nd-order Butterworth, {onset.lowpass_hz:g} Hz), threshold "
            f"baseline mean + {onset.k:g} SD sustained ≥ {1000 * onset.min_duration_s:g} ms "
            f"(offsets: below for ≥ {1000 * onset.offset_min_duration_s:g} ms)"
            + (", corrected for the filters' delay." if onset.correct_delay else ".")
        )
    return s


def _stamp(
    da: xr.DataArray | xr.Dataset,
    settings: EmgSettings,
    rate: float,
    onset: OnsetSettings | None = None,
) -> None:
    da.attrs["emg_settings"] = json.dumps(describe(settings, rate, onset))
    da.attrs["emg_processing"] = sentence(settings, rate, onset)


def filter_emg(
    signal: xr.DataArray, settings: EmgSettings = EmgSettings(), *, causal: bool | None = None
) -> xr.DataArray:
    """Band-pass (and notch) EMG.

    Parameters
    ----------
    signal : DataArray (time, channel), V
    settings : EmgSettings
    causal : bool, optional
        Force causal (True) or zero-phase (False) filtering; default ``not settings.zero_phase``.

    Returns
    -------
    DataArray (time, channel), V, with the settings in its attrs. NaN samples propagate
    through the filters (a NaN poisons the rest of a channel): cut gaps out first.
    """
    from scipy.signal import sosfilt, sosfiltfilt

    signal = _check(signal)
    rate = _rate(signal)
    x = np.asarray(signal.values, dtype=np.float64)
    zero_phase = settings.zero_phase if causal is None else not causal
    for sos in _sos(settings, rate):
        if zero_phase and x.shape[0] > 3 * (2 * sos.shape[0] + 1):
            x = sosfiltfilt(sos, x, axis=0)
        else:
            x = sosfilt(sos, x, axis=0)
    out = signal.copy(data=x)
    _stamp(out, _with_phase(settings, zero_phase), rate)
    out.attrs["rate_hz"] = rate
    return out


def _with_phase(settings: EmgSettings, zero_phase: bool) -> EmgSettings:
    return replace(settings, zero_phase=zero_phase)


def compute_emg_envelope(
    signal: xr.DataArray, settings: EmgSettings = EmgSettings()
) -> xr.DataArray:
    """Rectified, smoothed EMG amplitude (linear envelope or moving RMS).

    Parameters
    ----------
    signal : DataArray (time, channel)
        Raw EMG, V.
    settings : EmgSettings

    Returns
    -------
    DataArray ``envelope`` (time, channel), V; attrs ``emg_settings`` (JSON) and
    ``emg_processing`` (methods sentence).
    """
    from scipy.signal import butter, sosfilt, sosfiltfilt

    bp = filter_emg(signal, settings)
    rate = float(bp.attrs["rate_hz"])
    x = np.asarray(bp.values)
    if settings.envelope == "linear":
        sos = butter(settings.envelope_order, settings.envelope_lowpass_hz, fs=rate, output="sos")
        r = np.abs(x)
        env = (
            sosfiltfilt(sos, r, axis=0)
            if settings.zero_phase and len(r) > 30
            else sosfilt(sos, r, axis=0)
        )
        env = np.maximum(env, 0.0)
    else:
        n = max(round(settings.rms_window_s * rate), 1)
        c = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x * x, axis=0)])
        idx = np.arange(x.shape[0])
        if settings.zero_phase:
            lo, hi = np.clip(idx - n // 2, 0, len(x)), np.clip(idx - n // 2 + n, 0, len(x))
        else:
            lo, hi = np.clip(idx - n + 1, 0, len(x)), idx + 1
        env = np.sqrt(np.maximum((c[hi] - c[lo]) / (hi - lo)[:, None], 0.0))
    out = bp.copy(data=env).rename("envelope")
    _stamp(out, settings, rate)
    out.attrs.update(rate_hz=rate, units="V")
    return out


def normalise_to_peak(envelope: xr.DataArray, peak: xr.DataArray | None = None) -> xr.DataArray:
    """Envelope as a fraction of a peak per channel (default: this envelope's own peak).

    Pass the session peak (the maximum of the envelope over every trial of a session, per
    channel) to compare trials of one session. Returns a unitless DataArray (1 = the peak);
    a channel whose peak is 0 or NaN is NaN.
    """
    env = _check(envelope)
    if peak is None:
        peak = env.max("time", skipna=True)
    p = peak.where(peak > 0)
    out = (env / p).assign_attrs(env.attrs).rename("normalised_envelope")
    out.attrs.update(
        units="1",
        normalised_to="peak",
        peak_v=json.dumps(
            {str(c): float(v) for c, v in zip(p["channel"].values, p.values, strict=True)}
        ),
    )
    return out


def compute_iemg(
    signal: xr.DataArray,
    windows: dict[str, tuple[float, float]],
    settings: EmgSettings = EmgSettings(),
) -> xr.DataArray:
    """Integrated EMG: the area under the rectified band-passed signal in each window.

    Parameters
    ----------
    signal : DataArray (time, channel), V
    windows : mapping of name to (t0, t1)
        E.g. the jump phases; a window with NaN ends is NaN.

    Returns
    -------
    DataArray ``iemg`` (channel, window), V·s.
    """
    bp = filter_emg(signal, settings)
    rate = float(bp.attrs["rate_hz"])
    t = np.asarray(bp["time"].values)
    r = np.abs(np.asarray(bp.values))
    c = np.concatenate([np.zeros((1, r.shape[1])), np.cumsum(r, axis=0)]) / rate
    out = np.full((r.shape[1], len(windows)), np.nan)
    for j, (t0, t1) in enumerate(windows.values()):
        if np.isfinite(t0) and np.isfinite(t1) and t1 > t0:
            i0, i1 = np.searchsorted(t, [t0, t1])
            out[:, j] = c[i1] - c[i0]
    da = xr.DataArray(
        out,
        dims=("channel", "window"),
        coords={"channel": bp["channel"].values, "window": list(windows)},
        name="iemg",
        attrs={"units": "V s"},
    )
    _stamp(da, settings, rate)
    return da
