"""Benchmark: record one simulated hour of 8 channels at 20 kHz through the real recorder path.

    flock /tmp/mocap3d-cpu.lock python tools/bench/recording.py [--seconds 3600] [--json PATH]

mocap3d's path: SimDaqBackend (as fast as the recorder takes blocks) → recorder queue → edge
counting → RawDaqWriter (HDF5, SWMR, flushed every second). Reference: a plain serial loop
writing the same blocks with h5py into the same chunked dataset (no SWMR, no flushes, no
threads). Reported: throughput (samples/s and × real time), resident memory sampled every
0.2 s over the run (it must stay flat), and lost samples — every sample's channel 0 carries
its index, and the whole file is read back and checked to hold 0, 1, 2 … with no gap.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import threading
import time
import tomllib
from pathlib import Path

import h5py
import numpy as np
import psutil

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from mocap3d.acquisition.daq import DaqConfig  # noqa: E402
from mocap3d.acquisition.recorder import Recorder  # noqa: E402
from mocap3d.acquisition.simdaq import SimDaqBackend, pulse_train  # noqa: E402
from mocap3d.rig import Rig, rig_from_dict  # noqa: E402

RATE = 20_000.0
N_CH = 8
BLOCK = 2000  # 0.1 s
INDEX_MOD = 1 << 24  # float32 holds every integer below 2**24 exactly


def bench_rig() -> Rig:
    """The demo rig with one 8-channel stream at 20 kHz (EMG ×4, exposure, sync, force, disp.)."""
    data = tomllib.loads((REPO / "rigs" / "demo.toml").read_text())
    daq = data["daq"]
    daq["streams"] = {"fast": {"rate_hz": RATE}}
    for i, ch in enumerate(daq["channels"]):
        ch["stream"], ch["terminal"] = "fast", f"ai{i}"
    assert len(daq["channels"]) == N_CH
    return rig_from_dict(data, base_dir=REPO / "rigs")


def make_source(config: DaqConfig):
    """Cheap deterministic blocks: a noise pool, exposure pulses, channel 0 = sample index."""
    period = 80_000  # a multiple of the block (2000) and of the frame period (40 samples)
    rng = np.random.default_rng(0)
    pool = rng.normal(0, 0.02, (period, N_CH))
    names = config.master.channel_names
    pool[:, names.index("cam_exposure")] = pulse_train(
        0, period, RATE, t0_s=0.0, fps=500.0, high_s=0.4e-3
    )
    ramp = np.arange(BLOCK, dtype=np.float64)

    def source(stream: str, start: int, n: int) -> np.ndarray:
        i = start % period
        block = (
            pool[i : i + n].copy()
            if i + n <= period
            else np.take(pool, range(i, i + n), 0, mode="wrap")
        )
        block[:, 0] = (start + ramp[:n]) % INDEX_MOD
        return block

    return source


class RssSampler:
    """Resident memory of this process every ``every_s`` seconds, in a thread."""

    def __init__(self, every_s: float = 0.2) -> None:
        self.every_s = every_s
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._proc = psutil.Process()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        t0 = time.monotonic()
        while not self._stop.is_set():
            self.samples.append((time.monotonic() - t0, self._proc.memory_info().rss))
            self._stop.wait(self.every_s)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict[str, float]:
        rss = np.array([r for _, r in self.samples], float) / 2**20
        n = len(rss)
        skip = min(max(1, n // 20), n - 1)  # the first 5 %: imports, buffers filling
        first, second = rss[skip : n // 2], rss[n // 2 :]
        return {
            "rss_start_mb": float(rss[skip]),
            "rss_peak_mb": float(rss.max()),
            "rss_end_mb": float(rss[-1]),
            "rss_growth_mb": float(second.max() - first.max()) if len(first) else 0.0,
            "rss_samples": n,
        }


def count_lost(path: Path, n: int) -> int:
    """Samples missing, duplicated or out of order in channel 0 (0 means every one is there)."""
    bad = 0
    with h5py.File(path, "r") as f:
        d = f["streams/fast"]
        stored = d.shape[0]
        for start in range(0, stored, 1 << 21):
            got = d[start : start + (1 << 21), 0]
            want = (np.arange(start, start + len(got)) % INDEX_MOD).astype(np.float32)
            bad += int(np.count_nonzero(got != want))
    return bad + abs(n - stored)


def run_recorder(rig: Rig, source, path: Path, seconds: float) -> dict:
    backend = SimDaqBackend(source, speed=None)
    with RssSampler() as rss:
        t0 = time.perf_counter()
        result = Recorder(rig, backend, path, block_s=BLOCK / RATE).run(duration_s=seconds)
        wall = time.perf_counter() - t0
    n = result.status.samples["fast"]
    delivered = backend.delivered["fast"]
    lost = count_lost(path, delivered)
    return {
        "impl": "mocap3d",
        "method": "Recorder(SimDaqBackend) -> RawDaqWriter (SWMR, 1 s flushes)",
        "per_s": n / wall,
        "unit": f"samples ({N_CH} ch)",
        "x_realtime": n / RATE / wall,
        "seconds_recorded": n / RATE,
        "wall_s": wall,
        "lost_samples": lost,
        "delivered_samples": delivered,
        "stop_reason": result.stop_reason,
        "file_gb": path.stat().st_size / 1e9,
        **rss.summary(),
    }


def run_plain_h5py(source, path: Path, n_samples: int) -> dict:
    rows = max(1024, 2**16 // N_CH)  # the same chunks as RawDaqWriter
    with RssSampler() as rss:
        t0 = time.perf_counter()
        with h5py.File(path, "w", libver="latest") as f:
            d = f.create_dataset(
                "streams/fast",
                shape=(0, N_CH),
                maxshape=(None, N_CH),
                dtype="float32",
                chunks=(rows, N_CH),
            )
            for start in range(0, n_samples, BLOCK):
                block = source("fast", start, BLOCK).astype(np.float32)
                d.resize(start + BLOCK, axis=0)
                d[start:] = block
        wall = time.perf_counter() - t0
    lost = count_lost(path, n_samples)
    return {
        "impl": "h5py",
        "method": "plain serial loop (resize + write per block)",
        "per_s": n_samples / wall,
        "unit": f"samples ({N_CH} ch)",
        "x_realtime": n_samples / RATE / wall,
        "seconds_recorded": n_samples / RATE,
        "wall_s": wall,
        "lost_samples": lost,
        **rss.summary(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3600.0, help="simulated seconds")
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--dir", type=Path, help="where to write the files (default: a temp dir)")
    ap.add_argument(
        "--repeat", type=int, default=2, help="runs of each, alternating; the fastest is kept"
    )
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mocap3d-bench-", dir=args.dir))
    runs: dict[str, list[dict]] = {"mocap3d": [], "h5py": []}
    try:
        rig = bench_rig()
        config = DaqConfig.from_rig(rig, block_s=BLOCK / RATE)
        source = make_source(config)
        print(f"{args.seconds:g} s of {N_CH} channels at {RATE:g} Hz, {args.repeat}× each, {work}")
        for i in range(args.repeat):  # alternate, so that disk and cache states are shared
            for impl in ("mocap3d", "h5py") if i % 2 == 0 else ("h5py", "mocap3d"):
                path = work / f"{impl}.h5"
                if impl == "mocap3d":
                    runs[impl].append(run_recorder(rig, source, path, args.seconds))
                else:
                    n = math.ceil(args.seconds * RATE / BLOCK) * BLOCK
                    runs[impl].append(run_plain_h5py(source, path, n))
                path.unlink()
                path.with_name(path.stem + ".recording.toml").unlink(missing_ok=True)
                print(f"  {impl:8} run {i + 1}: {runs[impl][-1]['wall_s']:.1f} s", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    mine, ref = (min(runs[k], key=lambda r: r["wall_s"]) for k in ("mocap3d", "h5py"))
    for k, r in (("mocap3d", mine), ("h5py", ref)):
        r["wall_s_all_runs"] = [x["wall_s"] for x in runs[k]]
        r["lost_samples_all_runs"] = [x["lost_samples"] for x in runs[k]]
    rows = [mine, ref]
    ratios = {
        "recorder_vs_realtime": mine["x_realtime"],
        "recorder_vs_plain_h5py_loop": mine["per_s"] / ref["per_s"],
    }
    print()
    print(f"{'impl':8} {'samples/s':>12} {'× real time':>12} {'wall s':>8} {'lost':>5} "
          f"{'RSS start/peak/end MB':>22} {'growth MB':>9}")  # fmt: skip
    for r in rows:
        print(
            f"{r['impl']:8} {r['per_s']:12.3g} {r['x_realtime']:12.1f} {r['wall_s']:8.1f} "
            f"{r['lost_samples']:5d} {r['rss_start_mb']:7.0f}/{r['rss_peak_mb']:.0f}/"
            f"{r['rss_end_mb']:.0f}{'':>6} {r['rss_growth_mb']:9.1f}"
        )
    x, r = ratios["recorder_vs_realtime"], ratios["recorder_vs_plain_h5py_loop"]
    print(
        f"recorder: {mine['seconds_recorded']:.0f} s recorded {x:.0f}× faster than real time, "
        f"{r:.2f}× the plain h5py loop's speed (fastest of {args.repeat} runs each); lost "
        f"samples in every run: {mine['lost_samples_all_runs']}; file {mine['file_gb']:.2f} GB"
    )
    if args.json:
        doc = {"benchmark": "recording", "rows": rows, "ratios": ratios}
        args.json.write_text(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
