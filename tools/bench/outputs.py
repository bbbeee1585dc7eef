"""Benchmark of the outputs: exports, figures, videos and reports of a 6-trial demo project.

The content is the simulator's truth written as the derived datasets (the stand-in until the
pipeline's steps land). Rows time, on the same project in one process:

- the whole ``build_project`` (what ``mocap3d report PROJECT`` does), per trial;
- each stage on one trial: CSV, NWB (trial and session), figures, overlay videos;
- overlay rendering with the default H.264 encoder against OpenCV's VP8/WebM writer — the
  other browser-playable option — on the same trial (``ratios``: frames/s over frames/s).

    flock /tmp/mocap3d-cpu.lock python tools/bench/outputs.py [--project DIR] [--json PATH]

Without ``--project`` a demo-rig project (2 groups × 3 trials, 320 × 256 px, 1 s at 500 fps)
is simulated first (~3 min, not timed).
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

from mocap3d.io.nwb import write_nwb
from mocap3d.io.project import open_project
from mocap3d.io.tables import write_trial_csv
from mocap3d.report.build import (
    ReportOptions,
    build_project,
    exposure_durations,
    write_trial_outputs,
)
from mocap3d.report.content import load_calibration, load_trial, session_info
from mocap3d.report.overlay import OverlayOptions, render_overlays
from mocap3d.simulate.project import simulate_project
from mocap3d.simulate.session import SessionOptions
from mocap3d.simulate.standin import write_truth_as_derived


def _timed(fn, *a, **k) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn(*a, **k)
    return time.perf_counter() - t0, out


def _project(path: Path | None, work: Path) -> Path:
    if path is None:
        path = work / "demo"
        simulate_project(
            path, rig="demo", groups=["control", "perturbed"], trials_per_subject=3, seed=0,
            options=SessionOptions(n_labelled=0),
        )  # fmt: skip
    project = open_project(path)
    for s in project.sessions():
        if not s.derived_path.is_file():
            write_truth_as_derived(project, s)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--project", type=Path, help="existing simulated project (copied first)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mocap3d-bench-outputs-"))
    try:
        src = _project(args.project, work)
        root = work / "copy"
        shutil.copytree(src, root, ignore=shutil.ignore_patterns("outputs"))
        project = open_project(root)
        sessions = project.sessions()
        n_trials = sum(len(s.trials()) for s in sessions)
        rows = []

        t_all, _ = _timed(build_project, project)
        rows.append(("mocap3d", "report_project", n_trials / t_all, "trials", t_all))

        rig = project.rig()
        session = sessions[0]
        trial = load_trial(project, session, session.trials()[0], rig=rig)
        info = session_info(project, session, rig)
        cams = load_calibration(project)
        out = work / "stages"
        n_frames = trial.poses2d.sizes["time"] if trial.poses2d is not None else 0
        t, _ = _timed(write_trial_csv, out / "t.csv", trial.poses3d, trial.angles)
        rows.append(("mocap3d", "csv_trial", 1 / t, "trials", t))
        t, _ = _timed(
            write_nwb, out / "t.nwb", [trial], session=info, cameras=cams,
            exposure_s=exposure_durations(rig),
        )  # fmt: skip
        rows.append(("mocap3d", "nwb_trial", 1 / t, "trials", t))
        trials = [load_trial(project, session, name, rig=rig) for name in session.trials()]
        t, _ = _timed(write_nwb, out / "s.nwb", trials, session=info, cameras=cams)
        rows.append(("mocap3d", "nwb_session", len(trials) / t, "trials", t))
        figs_only = ReportOptions(nwb="none", csv=False, videos=False, pages=False)
        t, _ = _timed(
            write_trial_outputs, trial, out / "f", rig=rig, info=info, cameras=cams,
            options=figs_only,
        )  # fmt: skip
        rows.append(("mocap3d", "figures_trial", 1 / t, "trials", t))
        speeds = {}
        for codec in ("h264", "vp8", "mp4v"):
            opts = OverlayOptions(codec=codec)  # type: ignore[arg-type]
            t, paths = _timed(
                render_overlays, out / codec, trial, bones=info.bones, cameras=cams, options=opts
            )
            frames = n_frames * (len(paths) - 1) + n_frames  # camera videos + grid
            speeds[codec] = frames / t
            impl = "mocap3d" if codec == "h264" else "opencv"
            rows.append((impl, f"overlays_{codec}", speeds[codec], "frames", t))
        ratios = {
            "overlays_h264_vs_opencv_vp8": speeds["h264"] / speeds["vp8"],
            "overlays_h264_vs_opencv_mp4v": speeds["h264"] / speeds["mp4v"],
        }
        print(f"project: {n_trials} trials, {len(sessions)} sessions, {n_frames} frames/trial")
        print(f"{'impl':8} {'method':20} {'per_s':>10} {'unit':8} {'seconds':>8}")
        for impl, method, per_s, unit, sec in rows:
            print(f"{impl:8} {method:20} {per_s:10.2f} {unit:8} {sec:8.2f}")
        for k, v in ratios.items():
            print(f"{k}: {v:.2f}")
        if args.json:
            doc = {
                "benchmark": "outputs",
                "rows": [
                    {"impl": i, "method": m, "per_s": p, "unit": u, "seconds": s}
                    for i, m, p, u, s in rows
                ],
                "ratios": ratios,
            }
            args.json.write_text(json.dumps(doc, indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
