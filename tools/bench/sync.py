"""Benchmark: sync of 10 min × 8 TTL channels × 20 kHz, against a hand-written sync script.

Synthetic DAQ recording with known truth (``tests/unit/sync/signals.py``): five cameras at
500 fps, each on its own exposure channel, one 10-minute burst each with dropped frames, missing
and extra pulses (frame logs with counters and timestamps on a drifting camera clock); a clean
camera trigger channel (false positives are counted there); a random-interval barcode that a
separate amplifier (30 kHz, its own clock, +23.7 ppm) also records; a trial trigger line.

mocap3d (timed): edge detection on all 8 channels (automatic thresholds), pulse trains and frame
maps for the five cameras, barcode match and clock fit (including the amplifier's edges).
Reference (same process): a per-sample Python/NumPy loop — what a hand-written sync script does
— on a slice of every channel; its speed in samples/s, the ratio, and the accuracy of the usual
script logic (frames = the first N pulses, edges at whole samples).

Run under the CPU lock:  flock /tmp/mocap3d-cpu.lock python tools/bench/sync.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from mocap3d.io.rawdaq import ChannelInfo, RawDaqWriter, StreamInfo  # noqa: E402
from mocap3d.sync.barcode import barcode_onsets, make_barcode, match_barcode  # noqa: E402
from mocap3d.sync.daqfile import read_edges  # noqa: E402
from mocap3d.sync.edges import detect_edges  # noqa: E402
from mocap3d.sync.frames import DROPPED, NO_PULSE, map_frames  # noqa: E402
from mocap3d.sync.pulses import clean_pulses  # noqa: E402
from tests.unit.sync.signals import FPS, RATE, camera_trial, ttl_channel  # noqa: E402

DEV_RATE, DRIFT_PPM, OFFSET = 30_000.0, 23.7, -4.321
N_CAMS = 5


def make_data(minutes: float, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    n = int(minutes * 60 * RATE)
    n_slots = int((minutes * 60 - 1.0) * FPS)
    cams = []
    for c in range(N_CAMS):
        truth = camera_trial(
            rng, t_start=0.3 + c * 1e-5 + rng.uniform(0, 1 / RATE), n_slots=n_slots,
            n_dropped=20, n_missing=5, n_extra=5, drift_ppm=10.0 + c,
        )  # fmt: skip
        cams.append(truth)
    trig = 0.3 + np.arange(n_slots) / FPS
    onsets = make_barcode(minutes * 60 - 1.0, seed=rng, t_start_s=0.5)
    trials = np.arange(1.0, minutes * 60 - 1.0, 10.0)
    channels = [
        ttl_channel(t.rising, t.falling, n_samples=n, rng=rng, dtype=np.float32) for t in cams
    ]
    channels.append(ttl_channel(trig, trig + 4e-4, n_samples=n, rng=rng, dtype=np.float32))
    channels.append(ttl_channel(onsets, onsets + 0.01, n_samples=n, rng=rng, dtype=np.float32))
    channels.append(ttl_channel(trials, trials + 0.05, n_samples=n, rng=rng, dtype=np.float32))
    dev_on = (onsets - OFFSET) / (1 + 1e-6 * DRIFT_PPM)
    t0_dev = float(dev_on[0] - 0.3)
    n_dev = int((minutes * 60) * DEV_RATE)
    device = ttl_channel(dev_on, dev_on + 0.01, n_samples=n_dev, rng=rng, rate_hz=DEV_RATE,
                         t0_s=t0_dev, dtype=np.float32)  # fmt: skip
    return {"channels": channels, "cams": cams, "trig": trig, "device": device,
            "t0_dev": t0_dev, "n": n}  # fmt: skip


def run_mocap3d(data: dict) -> tuple[float, dict]:
    t = time.perf_counter()
    edges = [detect_edges(x, rate_hz=RATE) for x in data["channels"]]
    maps = []
    for c, truth in enumerate(data["cams"]):
        e = edges[c]
        train = clean_pulses(e.rising, fps=FPS, widths=e.widths())
        maps.append(map_frames(train, truth.n_frames, frame_log=truth.log, camera=f"cam{c}"))
    trig = clean_pulses(edges[N_CAMS].rising, fps=FPS)
    dev = detect_edges(data["device"], rate_hz=DEV_RATE, t0_s=data["t0_dev"])
    match = match_barcode(barcode_onsets(dev), barcode_onsets(edges[N_CAMS + 1]), name="amp")
    seconds = time.perf_counter() - t
    cams = data["cams"]
    found = {
        "drops_found": sum(int(np.array_equal(np.flatnonzero(m.slot_status == DROPPED),
                                              tr.dropped)) * tr.dropped.size
                           for m, tr in zip(maps, cams, strict=True)),
        "drops_injected": sum(tr.dropped.size for tr in cams),
        "missing_found": sum(int(np.array_equal(np.flatnonzero(m.slot_status == NO_PULSE),
                                                tr.missing)) * tr.missing.size
                             for m, tr in zip(maps, cams, strict=True)),
        "missing_injected": sum(tr.missing.size for tr in cams),
        "extra_found": sum(int(m.extra_pulse_times.size == tr.extra_times.size)
                           * tr.extra_times.size for m, tr in zip(maps, cams, strict=True)),
        "extra_injected": sum(tr.extra_times.size for tr in cams),
        "false_positives_clean": int(trig.missing_slots.size + trig.extra_times.size)
        + int(len(trig) != data["trig"].size),
        "frame_time_error_max_us": 1e6 * max(float(np.abs(m.frame_time - tr.frame_time).max())
                                             for m, tr in zip(maps, cams, strict=True)),
        "frame_time_error_rms_us": 1e6 * float(np.sqrt(np.mean(np.concatenate(
            [(m.frame_time - tr.frame_time) ** 2 for m, tr in zip(maps, cams, strict=True)])))),
        "drift_ppm": match.clock.drift_ppm,
        "drift_error_ppm": match.clock.drift_ppm - DRIFT_PPM,
        "camera_clock_drift_error_ppm": max(abs(m.camera_clock.drift_ppm - (10.0 + c))
                                            for c, m in enumerate(maps) if m.camera_clock),
        "clock_residual_rms_us": match.clock.rms_us,
    }  # fmt: skip
    return seconds, found


def python_loop_edges(x: np.ndarray, low: float, high: float) -> list[float]:
    """What a hand-written script does: walk the samples, hysteresis, interpolate the edges."""
    mid = 0.5 * (low + high)
    out: list[float] = []
    state = x[0] > mid
    for i in range(1, len(x)):
        v = x[i]
        if not state and v > high:
            state = True
            j = i - 1
            while j > 0 and x[j] >= mid:
                j -= 1
            out.append(j + (mid - x[j]) / (x[j + 1] - x[j]))
        elif state and v < low:
            state = False
            j = i - 1
            while j > 0 and x[j] <= mid:
                j -= 1
            out.append(j + (x[j] - mid) / (x[j] - x[j + 1]))
    return out


def run_reference(data: dict, slice_s: float) -> tuple[float, int, dict]:
    n = int(slice_s * RATE)
    t = time.perf_counter()
    for x in data["channels"]:
        python_loop_edges(x[:n], 1.5, 3.5)
    seconds = time.perf_counter() - t
    # the usual script logic on the full data (vectorised here, or it would take hours):
    # whole-sample threshold crossings, frames = the first N pulses, drift from paired pulses
    errs = []
    for c, truth in enumerate(data["cams"]):
        x = data["channels"][c]
        edges = (np.flatnonzero((x[1:] > 2.5) & (x[:-1] <= 2.5)) + 1) / RATE
        frames = edges[: truth.n_frames]
        errs.append(np.abs(frames - truth.frame_time))
    err = np.concatenate(errs)
    acc = {
        "frames_misplaced": int((err > 0.5 / FPS).sum()),
        "frames_total": int(err.size),
        "frame_time_error_max_us": 1e6 * float(err.max()),
    }
    return seconds, n * len(data["channels"]), acc


def run_file(data: dict, tmp: Path) -> tuple[float, int]:
    names = [f"ttl{i}" for i in range(len(data["channels"]))]
    path = tmp / "raw.h5"
    with RawDaqWriter(path, [StreamInfo("fast", RATE, tuple(ChannelInfo(c) for c in names))],
                      master_stream="fast") as w:  # fmt: skip
        block = 1 << 20
        for start in range(0, data["n"], block):
            w.append("fast", np.stack([x[start : start + block] for x in data["channels"]], 1))
    t = time.perf_counter()
    read_edges(path, names)
    return time.perf_counter() - t, data["n"] * len(names)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", type=Path, help="write the results as JSON")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--slice-s", type=float, default=10.0, help="reference loop slice (s)")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each; the fastest counts")
    ap.add_argument("--no-file", action="store_true", help="skip the raw-DAQ-file row")
    args = ap.parse_args()
    data = make_data(args.minutes, seed=8)
    n_total = data["n"] * len(data["channels"])
    seconds, acc = min((run_mocap3d(data) for _ in range(args.repeat)), key=lambda r: r[0])
    ref_s, ref_n, ref_acc = min(
        (run_reference(data, args.slice_s) for _ in range(args.repeat)), key=lambda r: r[0]
    )
    rows = [
        {"impl": "mocap3d", "method": "edges 8 ch + frame maps 5 cams + barcode clock fit",
         "per_s": n_total / seconds, "unit": "samples", "seconds": seconds,
         "minutes": args.minutes, **acc},
        {"impl": "reference", "method": f"per-sample Python loop ({args.slice_s:g} s slice)",
         "per_s": ref_n / ref_s, "unit": "samples", "seconds": ref_s,
         "projected_seconds_full": n_total / (ref_n / ref_s), **ref_acc},
    ]  # fmt: skip
    if not args.no_file:
        with tempfile.TemporaryDirectory() as tmp:
            f_s, f_n = run_file(data, Path(tmp))
        rows.append({"impl": "mocap3d", "method": "read_edges from raw DAQ file (8 ch)",
                     "per_s": f_n / f_s, "unit": "samples", "seconds": f_s})  # fmt: skip
    ratio = rows[0]["per_s"] / rows[1]["per_s"]
    out = {"benchmark": "sync", "rows": rows, "ratios": {"sync_vs_python_loop": ratio}}
    print(f"sync benchmark: {args.minutes:g} min × {len(data['channels'])} ch × {RATE:g} Hz")
    print(f"{'impl':<10} {'method':<52} {'samples/s':>12} {'seconds':>9}")
    for r in rows:
        print(f"{r['impl']:<10} {r['method']:<52} {r['per_s']:>12.3g} {r['seconds']:>9.3f}")
    print(f"ratio mocap3d / python loop: {ratio:.0f}×; reference would need "
          f"{rows[1]['projected_seconds_full']:.0f} s for the full data")  # fmt: skip
    print(
        f"frame times vs truth: max {acc['frame_time_error_max_us']:.1f} µs, "
        f"RMS {acc['frame_time_error_rms_us']:.1f} µs (1 sample = {1e6 / RATE:.0f} µs)"
    )
    print(f"dropped frames found {acc['drops_found']}/{acc['drops_injected']}, missing pulses "
          f"{acc['missing_found']}/{acc['missing_injected']}, extra pulses "
          f"{acc['extra_found']}/{acc['extra_injected']}, false positives on the clean "
          f"channel {acc['false_positives_clean']}")  # fmt: skip
    print(
        f"barcode clock drift {acc['drift_ppm']:.3f} ppm (truth {DRIFT_PPM}; error "
        f"{acc['drift_error_ppm']:+.3f} ppm), residual RMS {acc['clock_residual_rms_us']:.1f} µs"
    )
    print(
        f"hand-written logic (frames = first N pulses): {ref_acc['frames_misplaced']} of "
        f"{ref_acc['frames_total']} frames misplaced by ≥ 1 ms"
    )
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
