"""Benchmark of the simulator: a 4-camera, 1 s, 500 fps jump trial at 640×512.

Target (issue 3): the trial renders in ≤ 60 s on a 2-core machine. Rows time the end-to-end
``simulate_project`` of one trial (jump, DAQ file, truth, 4 videos, labelled frames) with one
and with two rendering processes, and the DAQ block source alone. ``ratios`` holds the target
over the measured time (> 1 means the target is met).

    flock /tmp/mocap3d-cpu.lock python tools/bench/simulate.py [--json PATH] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from mocap3d.simulate.project import simulate_project
from mocap3d.simulate.render import RenderOptions
from mocap3d.simulate.session import SessionOptions

TARGET_S = 60.0


def _trial(workdir: Path, *, scale: float, duration: float, workers: int) -> float:
    out = workdir / f"p_{workers}"
    shutil.rmtree(out, ignore_errors=True)
    options = SessionOptions(
        duration_s=duration, n_labelled=10, render=RenderOptions(supersample=2, workers=workers)
    )
    t0 = time.perf_counter()
    simulate_project(
        out,
        rig="mouse-jump-4cam",
        groups=["control"],
        trials_per_subject=1,
        seed=1,
        scale=scale,
        options=options,
    )
    return time.perf_counter() - t0


def _daq(duration_s: float = 10.0) -> float:
    from mocap3d.resources import builtin_rig_path
    from mocap3d.rig import load_rig
    from mocap3d.simulate.jump_params import CONTROL
    from mocap3d.simulate.rig_geometry import camera_layout
    from mocap3d.simulate.session import TrialPlan, plan_session

    rig = load_rig(builtin_rig_path("mouse-jump-4cam"))
    n = int(duration_s // 1.5)
    plan = plan_session(
        rig,
        camera_layout(rig),
        [TrialPlan(f"t{i}", CONTROL, i) for i in range(n)],
        options=SessionOptions(duration_s=1.0, videos=False),
    )
    sig = plan.signals
    t0 = time.perf_counter()
    samples = 0
    for stream in sig.streams:
        total = sig.n_samples(stream)
        for start in range(0, total, 2000):
            samples += len(sig.block(stream, start, min(2000, total - start)))
    return samples / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, help="write the results as JSON")
    ap.add_argument("--quick", action="store_true", help="0.2 s trial (smoke test)")
    args = ap.parse_args()
    duration = 0.2 if args.quick else 1.0
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2):
            wall = _trial(Path(tmp), scale=0.5, duration=duration, workers=workers)
            frames = 4 * round(500 * duration)
            rows.append(
                {
                    "impl": "mocap3d",
                    "method": f"trial_640x512_workers{workers}",
                    "per_s": frames / wall,
                    "unit": "camera-frames",
                    "wall_s": wall,
                    "duration_s": duration,
                    "cameras": 4,
                    "fps": 500,
                }
            )
    rate = _daq()
    rows.append(
        {
            "impl": "mocap3d",
            "method": "daq_block_source",
            "per_s": rate,
            "unit": "samples (all channels of a stream)",
        }
    )
    scale_to_1s = 1.0 / duration
    ratios = {
        f"target_60s_vs_{r['method']}": TARGET_S / (r["wall_s"] * scale_to_1s)
        for r in rows
        if "wall_s" in r
    }
    print(f"{'method':34s} {'per_s':>12s} {'unit':>10s} {'wall_s':>8s}")
    for r in rows:
        wall = f"{r['wall_s']:.1f}" if "wall_s" in r else ""
        print(f"{r['method']:34s} {r['per_s']:12.1f} {r['unit'][:10]:>10s} {wall:>8s}")
    for k, v in ratios.items():
        print(f"{k}: {v:.2f} ({'met' if v >= 1 else 'MISSED'})")
    if args.json:
        args.json.write_text(
            json.dumps({"benchmark": "simulate", "rows": rows, "ratios": ratios}, indent=1)
        )


if __name__ == "__main__":
    main()
