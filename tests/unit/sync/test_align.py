"""Alignment: native rates kept, resampling against analytic signals, trials cut by events."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from mocap3d.errors import InputError
from mocap3d.sync.align import (
    align,
    common_time_base,
    cut_trials,
    on_master_clock,
    resample,
    signal_events,
    windows_from_bursts,
    windows_from_events,
)
from mocap3d.sync.clock import fit_clock


def _stream(rate, t0, t1, f=lambda t: np.sin(2 * np.pi * 3 * t), channels=("a",)):
    t = np.arange(round((t1 - t0) * rate)) / rate + t0
    data = np.stack([f(t) * (i + 1) for i in range(len(channels))], axis=1)
    return xr.DataArray(
        data, dims=("time", "channel"), coords={"time": t, "channel": list(channels)}
    )


def test_native_rates_are_kept_side_by_side():
    emg = _stream(20_000, 0.0, 2.0, channels=("emg_ga", "emg_ta"))
    force = _stream(10_000, 0.5, 3.0, channels=("force_z",))
    ds = align({"emg": emg, "force": force})
    assert ds["emg"].dims == ("time_emg", "channel_emg")
    assert ds.sizes["time_emg"] == 40_000 and ds.sizes["time_force"] == 25_000
    assert ds.attrs["resampled"] == "native"


def test_linear_and_nearest_resampling_match_the_signal():
    s = _stream(10_000, 0.0, 1.0)
    t = np.linspace(0.1, 0.9, 333)
    lin = resample(s, t, method="linear")
    np.testing.assert_allclose(lin.sel(channel="a"), np.sin(2 * np.pi * 3 * t), atol=2e-6)
    near = resample(s, t, method="nearest")
    np.testing.assert_allclose(near.sel(channel="a"), np.sin(2 * np.pi * 3 * t), atol=2e-3)
    out = resample(s, np.array([-1.0, 0.5, 2.0]))
    assert np.isnan(out.values[[0, 2]]).all() and np.isfinite(out.values[1]).all()


def test_bin_mean_brings_a_fast_envelope_to_frame_rate():
    # EMG-like: a 10 kHz carrier (averages out) on a slow envelope; frames at 500 fps
    env = lambda t: 1 + np.sin(2 * np.pi * 2 * t)  # noqa: E731
    fast = _stream(20_000, 0.0, 1.0, f=lambda t: env(t) * (1 + np.cos(np.pi * 20_000 * t)))
    frames = np.arange(10, 490) / 500.0
    mean = resample(fast, frames, method="mean").sel(channel="a").values
    err = np.abs(mean - env(frames))
    assert err.mean() < 0.01 and err.max() < 0.06  # a boundary sample may fall either side
    naive = resample(fast, frames, method="linear").sel(channel="a").values
    assert np.abs(naive - env(frames)).max() > 0.5  # point samples alias the carrier


def test_union_time_base_is_never_cut_to_the_shortest():
    a = _stream(1000, 0.0, 1.0)
    b = _stream(500, 0.5, 2.0)
    ds = align({"a": a, "b": b}, rate_hz=100.0)
    assert ds["time"].values[0] == 0.0 and ds["time"].values[-1] == pytest.approx(1.998, abs=0.01)
    assert np.isnan(ds["a"].sel(time=1.5, method="nearest")).all()
    assert np.isnan(ds["b"].sel(time=0.2, method="nearest")).all()
    inter = common_time_base({"a": a, "b": b}, rate_hz=100.0, span="intersection")
    assert inter[0] == 0.5 and inter[-1] <= 0.999
    with pytest.raises(InputError, match="not both"):
        align({"a": a}, rate_hz=10.0, time=np.arange(3.0))


def test_device_stream_mapped_to_master_clock(rng):
    td = np.sort(rng.uniform(0, 100, 50))
    fit = fit_clock(td, 3.0 + (1 + 50e-6) * td)
    s = _stream(1000, 0.0, 1.0)
    m = on_master_clock(s, fit)
    np.testing.assert_allclose(m["time"].values, 3.0 + (1 + 50e-6) * s["time"].values, atol=1e-9)
    assert m.attrs["clock"] == "master"


def test_trials_cut_by_force_events_and_by_bursts():
    rate = 10_000
    t = np.arange(12 * rate) / rate
    loaded = np.zeros_like(t)
    onsets = [2.0, 6.0, 9.5]
    for o in onsets:
        loaded[(t >= o) & (t < o + 1.0)] = 0.25  # mouse weight on the platform, N
    force = xr.DataArray(
        (loaded + np.random.default_rng(0).normal(0, 0.005, t.size))[:, None],
        dims=("time", "channel"), coords={"time": t, "channel": ["force_z"]},
    )  # fmt: skip
    ev = signal_events(force, direction="rising")
    np.testing.assert_allclose(ev, onsets, atol=2 / rate)
    off = signal_events(force, direction="falling", min_interval_s=0.5)
    np.testing.assert_allclose(off, np.add(onsets, 1.0), atol=2 / rate)
    windows = windows_from_events(ev, pre_s=0.5, post_s=1.5)
    emg = _stream(20_000, 0.0, 12.0)
    trials = cut_trials({"force": force, "emg": emg}, windows)
    assert list(trials) == ["trial_001", "trial_002", "trial_003"]
    tr = trials["trial_002"]
    assert tr.attrs["event_s"] == pytest.approx(6.0, abs=1e-3)
    assert tr.sizes["time_emg"] == pytest.approx(2 * 20_000, abs=2)
    assert tr.sizes["time_force"] == pytest.approx(2 * rate, abs=2)
    # camera bursts as trials
    pulses = np.concatenate([o + np.arange(500) / 500 for o in onsets])
    w = windows_from_bursts(pulses, min_gap_s=0.5, labels=["a", "b", "c"])
    assert [x.label for x in w] == ["a", "b", "c"]
    assert w[1].start_s == 6.0 and w[1].stop_s == pytest.approx(6.998)
