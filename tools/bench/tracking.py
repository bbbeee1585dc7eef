"""Benchmark: mocap3d's tracking path against DeepLabCut's own ``analyze_videos``.

Same videos, same trained network, same batch size and torch threads, in one process. The
videos are simulated jump trials (``mocap3d.simulate``) of the demo rig's ``side_left`` camera
(320×256, 500 fps; ``--scale`` for other sizes); the network is a ``cspnext_s`` trained for 20
epochs on the simulator's labelled frames (speed does not depend on how well it is trained,
but comparing the two implementations' keypoints needs peaked heatmaps).

- *mocap3d*: ``analyze_project(..., overwrite=True)`` — what ``mocap3d track analyze`` runs:
  load the model, decode every trial video with OpenCV, run DeepLabCut's inference runner,
  write one DeepLabCut ``.h5`` per trial and camera;
- *DeepLabCut*: ``deeplabcut.analyze_videos`` on the same videos (its ``.h5`` + pickle).

Both are timed end to end (wall clock, model loading included), alternating, ``--repeats``
times; the best run of each is reported. ``max_diff_px`` is the largest difference between
the two implementations' keypoints.

Run under the CPU lock:
    flock /tmp/mocap3d-cpu.lock python tools/bench/tracking.py --json out.json
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from mocap3d.tracking.analyze import analyze_project, read_trial_tracks, tracks_path  # noqa: E402
from mocap3d.tracking.labels import import_simulator_labels  # noqa: E402
from mocap3d.tracking.project import assign_split, init_tracking  # noqa: E402
from mocap3d.tracking.train import TrainSettings  # noqa: E402
from mocap3d.tracking.workflow import train_project_models  # noqa: E402

CAMERA = "side_left"


def build(workdir: Path, scale: float, videos: int, duration: float, threads: int):
    import tomllib

    import tomli_w

    from mocap3d.io.project import open_project
    from mocap3d.simulate.project import simulate_project
    from mocap3d.simulate.render import RenderOptions
    from mocap3d.simulate.session import SessionOptions

    data = tomllib.loads((ROOT / "rigs" / "demo.toml").read_text(encoding="utf-8"))
    data["cameras"] = [c for c in data["cameras"] if c["name"] == CAMERA]
    data["calibration"]["board"] = str(ROOT / "calibration/boards/charuco-7x5-10mm.toml")
    rig = workdir / "rig.toml"
    rig.write_text(tomli_w.dumps(data), encoding="utf-8")
    options = SessionOptions(duration_s=duration, n_labelled=5, render=RenderOptions(supersample=1))
    simulate_project(
        workdir / "proj",
        rig=rig,
        groups=["control"],
        trials_per_subject=videos,
        seed=0,
        scale=scale,
        options=options,
    )
    project = open_project(workdir / "proj")
    tracking = init_tracking(project)
    assign_split(tracking, project, test_fraction=0.34, seed=0)
    import_simulator_labels(project)
    # trained enough for peaked heatmaps, so that both implementations' keypoints compare
    settings = TrainSettings(epochs=20, crop_size=128, threads=threads)
    model = train_project_models(project, settings)[CAMERA]
    return project, model


def run_mocap3d(project, batch: int, threads: int) -> float:
    t0 = time.perf_counter()
    analyze_project(project, cameras=[CAMERA], overwrite=True, batch_size=batch, threads=threads)
    return time.perf_counter() - t0


def run_deeplabcut(model, videos: list[Path], out: Path, batch: int, threads: int) -> float:
    import deeplabcut
    import torch

    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        deeplabcut.analyze_videos(
            str(model.project_root / "config.yaml"),
            [str(v) for v in videos],
            shuffle=model.training["shuffle"],
            trainingsetindex=model.training["trainingset_index"],
            snapshot_index=-1,
            batch_size=batch,
            device="cpu",
            destfolder=str(out),
            overwrite=True,
        )
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", type=Path)
    ap.add_argument("--scale", type=float, default=1.0, help="× the demo rig's 320×256")
    ap.add_argument("--videos", type=int, default=3)
    ap.add_argument("--duration", type=float, default=1.0, help="s per video (500 fps)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2")))
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="bench-tracking-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        project, model = build(work, args.scale, args.videos, args.duration, args.threads)
        print(f"set-up (videos, labels, model): {time.perf_counter() - t0:.0f} s")
        session = project.sessions()[0]
        size = model.image_sizes[0]
        trials = session.trials()
        # DeepLabCut names its outputs by video stem (every trial's is the camera's): give it links
        (work / "links").mkdir()
        videos = []
        for t in trials:
            video = session.video_path(t, CAMERA)
            link = work / "links" / f"{t}{video.suffix}"
            link.symlink_to(video)
            videos.append(link)
        from mocap3d.tracking.infer import video_info

        n = sum(video_info(v)[0] for v in videos)
        times: dict[str, list[float]] = {"mocap3d": [], "deeplabcut": []}
        for r in range(args.repeats):
            order = ["mocap3d", "deeplabcut"] if r % 2 == 0 else ["deeplabcut", "mocap3d"]
            for impl in order:
                if impl == "mocap3d":
                    times[impl].append(run_mocap3d(project, args.batch, args.threads))
                else:
                    times[impl].append(
                        run_deeplabcut(model, videos, work / "dlc", args.batch, args.threads)
                    )
        diff = 0.0
        for t in trials:
            theirs = sorted((work / "dlc").glob(f"{t}DLC*.h5"))
            a = read_trial_tracks({CAMERA: tracks_path(session, t, CAMERA)}).position.values
            b = read_trial_tracks({CAMERA: theirs[0]}).position.values
            diff = max(diff, float(np.nanmax(np.abs(a - b))))
    rows = []
    for impl, method in (("mocap3d", "track analyze"), ("deeplabcut", "analyze_videos")):
        best = min(times[impl])
        rows.append(
            {
                "impl": impl,
                "method": method,
                "per_s": n / best,
                "unit": "frames",
                "seconds_best": best,
                "seconds_all": times[impl],
                "frames": n,
                "size": f"{size[0]}x{size[1]}",
                "batch_size": args.batch,
                "threads": args.threads,
                "max_diff_px": diff,
            }
        )
    ratio = rows[0]["per_s"] / rows[1]["per_s"]
    print(f"\n{'impl':<11}{'method':<16}{'frames/s':>10}{'best s':>9}  runs (s)")
    for r in rows:
        runs = ", ".join(f"{v:.1f}" for v in r["seconds_all"])
        print(
            f"{r['impl']:<11}{r['method']:<16}{r['per_s']:>10.1f}{r['seconds_best']:>9.1f}  {runs}"
        )
    print(
        f"\nratio mocap3d / DeepLabCut: {ratio:.3f} (target ≥ 0.90: overhead ≤ 10 %); "
        f"{n} frames {size[0]}×{size[1]}, batch {args.batch}, {args.threads} threads; "
        f"max difference {diff:.3g} px"
    )
    if args.json:
        doc = {
            "benchmark": "tracking",
            "rows": rows,
            "ratios": {"track_analyze_vs_deeplabcut_analyze_videos": ratio},
        }
        args.json.write_text(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
