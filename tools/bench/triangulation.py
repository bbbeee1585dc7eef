"""Benchmark: mocap3d triangulation against aniposelib 0.8.0 on the same simulated tracks.

Data (``tests/fixtures/synthetic_tracks.py``): the demo rig's four cameras (320×256, barrel
distortion), 10 keypoints of a wandering, jumping mouse skeleton, 10,000 frames at 500 fps;
1 px Gaussian noise, 5 % outliers (moved 20–80 px, scores 0.05–0.45), 5 % missing, good
detections scored 0.6–1.0. Two inputs:

- *filtered*: detections scored below 0.5 are dropped (Anipose's ``score_threshold``) — for
  both libraries;
- *unfiltered*: every detection is kept and scores are ignored, so outliers must be found from
  geometry (and time) alone.

Rows: DLT (mocap3d ``dlt`` vs aniposelib ``triangulate``), robust (``robust`` vs
``triangulate_ransac``, timed on a subset because it loops over points in Python), and
spatiotemporal (``spatiotemporal`` vs ``triangulate_optim`` with the skeleton's bones as
constraints). Speeds are points (frames × keypoints) per second of wall time, end to end from
distorted pixels; errors are 3D distances to the truth over the points each method returns
(``coverage`` says how many it returned).

``--hour`` adds the long-recording check: 1.8 M frames (1 h at 500 fps) × 10 keypoints × 4
cameras, generated block by block, triangulated in chunks in a child process whose peak
resident memory is measured (``resource.getrusage``); the outputs (position, errors, camera
counts, scores and per-camera errors, as ``triangulate`` keeps them) stay in memory. It runs
first, from a small parent, and reads the child's own high-water mark (``VmHWM``).

Run under the CPU lock:
    flock /tmp/mocap3d-cpu.lock python tools/bench/triangulation.py --hour --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from mocap3d.datasets import make_poses2d  # noqa: E402
from mocap3d.rig import load_rig  # noqa: E402
from mocap3d.simulate.rig_geometry import camera_layout  # noqa: E402
from mocap3d.triangulation import triangulate, triangulate_frames  # noqa: E402
from mocap3d.triangulation.pipeline import collect_chunks  # noqa: E402
from tests.fixtures.synthetic_tracks import mouse_motion, observe  # noqa: E402

FPS = 500.0
MIN_SCORE = 0.5


def error_stats(points: np.ndarray, truth: np.ndarray) -> dict:
    err = np.linalg.norm(points - truth, axis=-1).ravel()
    ok = np.isfinite(err)
    return {
        "error_median": float(np.median(err[ok])) if ok.any() else float("nan"),
        "error_p95": float(np.percentile(err[ok], 95)) if ok.any() else float("nan"),
        "error_unit": "mm",
        "coverage": float(ok.mean()),
    }


def make_data(n_frames: int, seed: int = 0) -> dict:
    rig = load_rig(ROOT / "rigs" / "demo.toml")
    group = camera_layout(rig)
    motion = mouse_motion(
        n_frames, fps=FPS, seed=seed, keypoints=rig.keypoints, bones=rig.skeleton.bones
    )
    obs = observe(group, motion.points, seed=seed + 1)
    filtered = obs.uv.copy()
    filtered[~(obs.confidence >= MIN_SCORE)] = np.nan
    idx = {k: i for i, k in enumerate(motion.keypoints)}
    return {
        "rig": rig,
        "group": group,
        "motion": motion,
        "obs": obs,
        "uv": {"filtered": filtered, "unfiltered": obs.uv},
        "bones": [(idx[a], idx[b]) for a, b in motion.bones],
    }


def poses2d(data: dict):
    obs = data["obs"]
    return make_poses2d(
        obs.uv.transpose(0, 1, 3, 2)[..., None],
        obs.confidence[..., None],
        views=data["group"].names,
        keypoints=data["motion"].keypoints,
        fps=FPS,
    )


def run_mocap3d(data: dict, method: str, scenario: str, workers: int, repeats: int = 1) -> dict:
    ds2 = poses2d(data)
    kwargs = {"min_score": MIN_SCORE} if scenario == "filtered" else {"min_score": 0.0}
    if scenario == "unfiltered":
        kwargs["weighted"] = False
    times = []
    for _ in range(repeats):  # best of `repeats`: the machine is shared
        t = time.perf_counter()
        ds = triangulate(
            ds2,
            data["group"],
            method=method,
            bones=data["rig"].skeleton.bones,
            workers=workers,
            **kwargs,
        )
        times.append(time.perf_counter() - t)
    dt = min(times)
    pts = ds.position.transpose("time", "keypoint", "individual", "space").values[:, :, 0]
    n = pts.shape[0] * pts.shape[1]
    return {
        "impl": "mocap3d",
        "method": method,
        "input": scenario,
        "workers": workers,
        "per_s": n / dt,
        "unit": "points",
        "seconds": dt,
        "points": n,
        **error_stats(pts, data["motion"].points),
    }


def anipose_group(group):
    from aniposelib.cameras import Camera, CameraGroup

    return CameraGroup(
        [
            Camera(matrix=c.K, dist=c.dist, size=c.size, rvec=c.rvec, tvec=c.t, name=c.name)
            for c in group.cameras
        ]
    )


def run_anipose_dlt(data: dict, scenario: str, repeats: int = 3, errors: bool = False) -> dict:
    """``triangulate`` (best of ``repeats``, after a call that compiles it); with ``errors``
    also the mean reprojection error per point, as Anipose's triangulate step computes it."""
    ani = anipose_group(data["group"])
    uv = data["uv"][scenario]
    C, T, K, _ = uv.shape
    flat = uv.reshape(C, T * K, 2)
    ani.triangulate(flat)  # compiles for this batch shape
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        p = ani.triangulate(flat)
        if errors:
            ani.reprojection_error(p, flat, mean=True)
        times.append(time.perf_counter() - t)
    dt = min(times)
    return {
        "impl": "aniposelib",
        "method": "triangulate + reprojection_error" if errors else "triangulate",
        "input": scenario,
        "per_s": T * K / dt,
        "unit": "points",
        "seconds": dt,
        "points": T * K,
        **error_stats(p.reshape(T, K, 3), data["motion"].points),
    }


def run_solver_only(data: dict, repeats: int = 3) -> tuple[dict, dict]:
    """The DLT solver alone, on the same normalised coordinates: our normal equations and
    eigen-solver (``dlt_normalised``) vs aniposelib's jax SVD (``undistort=False``)."""
    from mocap3d.triangulation.dlt import dlt_normalised

    group = data["group"]
    uv = data["uv"]["filtered"]
    C, T, K, _ = uv.shape
    xy = group.undistort_points(uv.reshape(C, T * K, 2))
    ani = anipose_group(group)
    ani.triangulate(xy, undistort=False)  # compile
    rows = []
    for impl, fn in (
        ("aniposelib", lambda: ani.triangulate(xy, undistort=False)),
        ("mocap3d", lambda: dlt_normalised(xy, np.isfinite(xy[..., 0]) * 1.0, group.extrinsics)),
    ):
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            p = fn()
            times.append(time.perf_counter() - t)
        rows.append(
            {
                "impl": impl,
                "method": "DLT solver only",
                "input": "filtered",
                "per_s": T * K / min(times),
                "unit": "points",
                "seconds": min(times),
                "points": T * K,
                "note": "normalised coordinates in, points out: no undistortion, no errors",
                **error_stats(p.reshape(T, K, 3), data["motion"].points),
            }
        )
    return rows[0], rows[1]


def run_anipose_ransac(data: dict, scenario: str, n_points: int) -> tuple[dict, np.ndarray]:
    ani = anipose_group(data["group"])
    uv = data["uv"][scenario]
    C, T, K, _ = uv.shape
    flat = uv.reshape(C, T * K, 2)
    seen = np.flatnonzero(np.isfinite(flat[..., 0]).any(axis=0))  # it crashes on unseen points
    subset = seen[:n_points]
    t = time.perf_counter()
    p = ani.triangulate_ransac(flat[:, subset], min_cams=2)[0]
    dt = time.perf_counter() - t
    truth = data["motion"].points.reshape(-1, 3)[subset]
    return {
        "impl": "aniposelib",
        "method": "triangulate_ransac",
        "input": scenario,
        "per_s": len(subset) / dt,
        "unit": "points",
        "seconds": dt,
        "points": len(subset),
        "note": f"timed on the first {len(subset)} points seen by a camera (Python loop)",
        **error_stats(p, truth),
    }, subset


def run_anipose_optim(data: dict, scenario: str) -> dict:
    ani = anipose_group(data["group"])
    uv = data["uv"][scenario]
    C, T, K, _ = uv.shape
    ani.triangulate(uv.reshape(C, T * K, 2))  # compile outside the timing
    t = time.perf_counter()
    p = ani.triangulate_optim(uv, constraints=data["bones"])
    dt = time.perf_counter() - t
    return {
        "impl": "aniposelib",
        "method": "triangulate_optim",
        "input": scenario,
        "per_s": T * K / dt,
        "unit": "points",
        "seconds": dt,
        "points": T * K,
        "note": "constraints = the rig's bones, other settings aniposelib's defaults",
        **error_stats(p, data["motion"].points),
    }


# --------------------------------------------------------------------------- 1 h recording


class _HourSource:
    """1 h of tracks made on demand, block by block (same frames → same data)."""

    BLOCK = 2000

    def __init__(self, n_frames: int, seed: int = 0):
        rig = load_rig(ROOT / "rigs" / "demo.toml")
        self.rig = rig
        self.group = camera_layout(rig)
        self.base = mouse_motion(
            20_000, fps=FPS, seed=seed, keypoints=rig.keypoints, bones=rig.skeleton.bones
        ).points
        self.n = n_frames
        self.seed = seed

    def truth(self, a: int, b: int) -> np.ndarray:
        """Frames a:b of the motion played forwards and backwards (continuous), (t, K, 3)."""
        L = len(self.base)
        f = np.arange(a, b) % (2 * L)
        f = np.where(f < L, f, 2 * L - 1 - f)
        return self.base[f]

    def read(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        first, last = a // self.BLOCK, (b - 1) // self.BLOCK
        uv, conf = [], []
        for blk in range(first, last + 1):
            s = blk * self.BLOCK
            obs = observe(
                self.group, self.truth(s, min(s + self.BLOCK, self.n)), seed=self.seed + blk
            )
            uv.append(obs.uv)
            conf.append(obs.confidence)
        u, c = np.concatenate(uv, axis=1), np.concatenate(conf, axis=1)
        off = a - first * self.BLOCK
        return u[:, off : off + (b - a)], c[:, off : off + (b - a)]


def _peak_rss_mb() -> float:
    """This process's peak resident memory, MB: the kernel's high-water mark of its address
    space (``VmHWM``). ``getrusage``'s ``ru_maxrss`` would do, but Linux carries it over from
    the parent across fork + exec, so a child started by a big parent would report the
    parent's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def hour_worker(method: str, n_frames: int, workers: int) -> dict:
    src = _HourSource(n_frames)
    idx = {k: i for i, k in enumerate(src.rig.keypoints)}
    bones = [(idx[a], idx[b]) for a, b in src.rig.skeleton.bones]
    C, P = len(src.group), len(src.rig.keypoints)
    t = time.perf_counter()
    chunks = triangulate_frames(
        src.group,
        src.read,
        n_frames,
        method=method,  # type: ignore[arg-type]
        fps=FPS,
        bones=bones,
        workers=workers,
    )
    position = collect_chunks(chunks, n_frames=n_frames, n_points=P, n_cameras=C).position
    dt = time.perf_counter() - t
    # error statistics without copies of the whole recording: float32, partitioned in place
    err = np.empty(n_frames * P, np.float32)
    for a in range(0, n_frames, 100_000):
        b = min(n_frames, a + 100_000)
        err[a * P : b * P] = np.linalg.norm(position[a:b] - src.truth(a, b), axis=-1).ravel()
    n_all = err.size
    err = err[np.isfinite(err)]
    coverage = err.size / n_all
    k50, k95 = (err.size - 1) // 2, round(0.95 * (err.size - 1))
    err.partition([k50, k95])
    median, p95 = float(err[k50]), float(err[k95])
    peak_mb = _peak_rss_mb()
    return {
        "impl": "mocap3d",
        "method": f"{method} (1 h recording)",
        "input": "min_score 0.5",
        "workers": workers,
        "per_s": n_frames * P / dt,
        "unit": "points",
        "seconds": dt,
        "points": n_frames * P,
        "frames": n_frames,
        "peak_rss_mb": peak_mb,
        "error_median": median,
        "error_p95": p95,
        "error_unit": "mm",
        "coverage": coverage,
    }


def run_hour(method: str, n_frames: int, workers: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, __file__, "--hour-worker", method, "--hour-frames", str(n_frames),
           "--workers", str(workers)]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------- report


def table(rows: list[dict]) -> str:
    lines = [
        f"{'impl':<11} {'method':<28} {'input':<11} {'points/s':>12} {'median mm':>10} "
        f"{'p95 mm':>8} {'coverage':>9}  note"
    ]
    for r in rows:
        note = r.get("note", "")
        if "peak_rss_mb" in r:
            note = f"peak RSS {r['peak_rss_mb']:.0f} MB, {r['seconds']:.0f} s " + note
        if "workers" in r:
            note = f"{r['workers']} thread(s) " + note
        lines.append(
            f"{r['impl']:<11} {r['method']:<28} {r['input']:<11} {r['per_s']:>12,.0f} "
            f"{r['error_median']:>10.3f} {r['error_p95']:>8.3f} "
            f"{100 * r['coverage']:>8.1f}%  {note}"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--frames", type=int, default=10_000)
    ap.add_argument("--ransac-points", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2, help="threads for mocap3d's chunks")
    ap.add_argument("--hour", action="store_true", help="also the 1 h recording (memory)")
    ap.add_argument("--hour-frames", type=int, default=1_800_000)
    ap.add_argument("--hour-method", default="spatiotemporal")
    ap.add_argument("--hour-worker", help=argparse.SUPPRESS)
    ap.add_argument("--skip-optim", action="store_true", help="skip triangulate_optim (slow)")
    args = ap.parse_args()
    if args.hour_worker:
        print(json.dumps(hour_worker(args.hour_worker, args.hour_frames, args.workers)))
        return

    hour = run_hour(args.hour_method, args.hour_frames, args.workers) if args.hour else None
    data = make_data(args.frames)
    rows: list[dict] = []
    ratios: dict[str, float] = {}

    def show(row: dict) -> dict:
        rows.append(row)
        print(table([row]).splitlines()[1], flush=True)
        return row

    print(table([]), flush=True)
    ani_dlt = show(run_anipose_dlt(data, "filtered"))
    ani_err = show(run_anipose_dlt(data, "filtered", errors=True))
    ours_dlt = show(run_mocap3d(data, "dlt", "filtered", args.workers, repeats=3))
    ours_dlt1 = show(run_mocap3d(data, "dlt", "filtered", 1, repeats=3))
    ratios["dlt_vs_aniposelib_triangulate"] = ours_dlt["per_s"] / ani_dlt["per_s"]
    ratios["dlt_1_thread_vs_aniposelib_triangulate"] = ours_dlt1["per_s"] / ani_dlt["per_s"]
    ratios["dlt_vs_aniposelib_triangulate_with_errors"] = ours_dlt["per_s"] / ani_err["per_s"]
    ani_core, ours_core = run_solver_only(data)
    show(ani_core)
    show(ours_core)
    ratios["dlt_solver_only_vs_aniposelib"] = ours_core["per_s"] / ani_core["per_s"]

    ransac, subset = run_anipose_ransac(data, "unfiltered", args.ransac_points)
    show(ransac)
    ours_rob = show(run_mocap3d(data, "robust", "unfiltered", args.workers, repeats=3))
    # errors on the very points aniposelib was timed on, too
    ds = triangulate(poses2d(data), data["group"], method="robust", min_score=0.0, weighted=False)
    pts = ds.position.transpose("time", "keypoint", "individual", "space").values[:, :, 0]
    same = error_stats(pts.reshape(-1, 3)[subset], data["motion"].points.reshape(-1, 3)[subset])
    ours_rob["subset_error_p95"] = same["error_p95"]
    ours_rob["note"] = f"p95 on ransac's {len(subset)} points: {same['error_p95']:.3f} mm"
    print(f"{'':<11} robust on ransac's subset: median {same['error_median']:.3f} p95 "
          f"{same['error_p95']:.3f} mm", flush=True)  # fmt: skip
    show(run_mocap3d(data, "robust", "filtered", args.workers, repeats=3))
    ratios["robust_vs_aniposelib_triangulate_ransac"] = ours_rob["per_s"] / ransac["per_s"]

    for scenario in ("filtered", "unfiltered"):
        ours = show(run_mocap3d(data, "spatiotemporal", scenario, args.workers))
        if not args.skip_optim:
            ref = show(run_anipose_optim(data, scenario))
            ratios[f"spatiotemporal_vs_aniposelib_triangulate_optim_{scenario}"] = (
                ours["per_s"] / ref["per_s"]
            )
    if hour is not None:
        show(hour)

    print()
    print(table(rows))
    for k, v in ratios.items():
        print(f"{k}: {v:,.1f}×")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "benchmark": "triangulation",
                    "data": f"demo rig, 4 cameras, 10 keypoints, {args.frames} frames at "
                    "500 fps, 1 px noise, 5 % outliers (low scores), 5 % missing",
                    "rows": rows,
                    "ratios": ratios,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
