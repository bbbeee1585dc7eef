"""Benchmark: the pipeline over 8 trials, serial vs a local Dask cluster of 2 workers.

A simulated project on the demo rig (2 mice × 4 trials of 0.5 s, 4 cameras at 500 fps), its
true calibration and a DeepLabCut model trained on its labelled frames (cached in
``~/.cache/mocap3d/models``; the first run trains it). Each configuration runs on a fresh copy
of the project, in this process, one after the other: track (4 × 8 videos with DeepLabCut),
sync (2 sessions), triangulate (8 trials, spatiotemporal). Analysis and report are left out:
they run once per project in the driving process whatever the scheduler.

Rows: ``serial`` (one task at a time, 1 torch thread — the work split as on the cluster),
``serial-2threads`` (one task at a time, torch on both cores — the best a single process
does here), ``dask-2workers`` (LocalCluster, 2 worker processes × 1 thread; the cluster's
start-up is included), ``dask-1worker-2threads`` (one worker process, torch on both cores
in its tasks). The target ratio is ``dask_2workers_vs_serial``; the Dask results must be
identical to the serial ones.

Run under the CPU lock:  flock /tmp/mocap3d-cpu.lock python tools/bench/pipeline.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from mocap3d.demo import DemoOptions, _train, default_cache_dir  # noqa: E402
from mocap3d.io.project import Project, open_project  # noqa: E402
from mocap3d.io.session import read_dataset  # noqa: E402
from mocap3d.pipeline import PipelineSettings, open_executor, run_pipeline  # noqa: E402


def make_project(root: Path, trials: int) -> Project:
    from mocap3d.simulate.project import simulate_project
    from mocap3d.simulate.session import SessionOptions

    project = simulate_project(
        root, rig="demo", groups=["control", "perturbed"], subjects_per_group=1,
        trials_per_subject=trials // 2, seed=11,
        options=SessionOptions(duration_s=0.5, n_labelled=6),
    )  # fmt: skip
    shutil.copy(root / "truth" / "calibration.toml", project.calibration_path)
    _train(project, DemoOptions(epochs=15), default_cache_dir(), None)
    return project


def run(project: Project, scheduler: str, threads: int, workers: int) -> tuple[float, dict, dict]:
    settings = PipelineSettings(analyze=False, report=False, threads=threads, force=True)
    t0 = time.perf_counter()
    with open_executor(scheduler, workers=workers) as ex:
        started = time.perf_counter() - t0
        result = run_pipeline(project, settings, executor=ex)
    seconds = time.perf_counter() - t0
    if not result.ok:
        raise SystemExit(f"{scheduler}: {[(o.name, o.message) for o in result.failures]}")
    stage = result.summary()["seconds"].to_dict()
    poses = {
        (s.name, t): read_dataset(s.derived_path, f"trials/{t}/poses3d")["position"].values
        for s in project.sessions()
        for t in s.trials()
    }
    return seconds, {"startup_s": started, **{f"{k}_task_s": v for k, v in stage.items()}}, poses


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = make_project(Path(tmp) / "base", args.trials)
        configs = [("serial", "serial", 1, 1), ("serial-2threads", "serial", 2, 1),
                   ("dask-2workers", "local", 1, 2),
                   ("dask-1worker-2threads", "local", 2, 1)]  # fmt: skip
        rows, results = [], {}
        for name, scheduler, threads, workers in configs:
            copy = Path(tmp) / name
            shutil.copytree(base.root, copy)
            seconds, extra, poses = run(open_project(copy), scheduler, threads, workers)
            results[name] = poses
            rows.append({"impl": "mocap3d", "method": name, "seconds": round(seconds, 2),
                         "per_s": round(args.trials / seconds, 4), "unit": "trials",
                         **{k: round(v, 2) for k, v in extra.items()}})  # fmt: skip
    ref = results["serial"]
    identical = all(
        np.array_equal(ref[k], results["dask-2workers"][k], equal_nan=True) for k in ref
    )
    threads_diff = max(float(np.nanmax(np.abs(ref[k] - results["serial-2threads"][k])))
                       for k in ref)  # fmt: skip
    by = {r["method"]: r["seconds"] for r in rows}
    ratios = {
        "dask_2workers_vs_serial": round(by["serial"] / by["dask-2workers"], 3),
        "dask_2workers_vs_serial_2threads": round(by["serial-2threads"] / by["dask-2workers"], 3),
        "dask_1worker_2threads_vs_serial": round(by["serial"] / by["dask-1worker-2threads"], 3),
    }
    print(f"pipeline: {args.trials} trials × 4 cameras (track, sync, triangulate)")
    print(f"{'run':<18}{'seconds':>9}{'trials/s':>10}{'start-up s':>12}{'track task-s':>14}")
    for r in rows:
        print(f"{r['method']:<18}{r['seconds']:>9.1f}{r['per_s']:>10.3f}{r['startup_s']:>12.1f}"
              f"{r.get('track_task_s', float('nan')):>14.1f}")  # fmt: skip
    for k, v in ratios.items():
        print(f"{k}: {v:.2f}×")
    print(
        f"dask results identical to serial: {identical}; 2 torch threads vs 1: largest "
        f"difference {threads_diff:.2g} mm (floating-point summation order)"
    )
    if args.json:
        doc = {"benchmark": "pipeline", "rows": rows, "ratios": ratios, "identical": identical,
               "threads_max_diff_mm": threads_diff}  # fmt: skip
        args.json.write_text(json.dumps(doc, indent=1))
    if not identical:
        raise SystemExit("results differ between schedulers")


if __name__ == "__main__":
    main()
