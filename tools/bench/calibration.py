"""Benchmark: mocap3d calibration against aniposelib 0.8.0 on the same images, in one run.

Data: the seed rig (``rigs/mouse-jump-4cam.toml``: four cameras at 1280×1024, barrel
distortion) with every lens pinhole (aniposelib cannot mix pinhole and fisheye cameras),
filming the 7×5 ChArUco board of 10 mm squares in ``--frames`` board poses (default 60),
rendered by ``mocap3d.simulate.board_footage`` with blur, noise and exposure changes; the
truth is known. ``--fisheye`` also runs mocap3d on the seed rig as it is (fisheye overhead).

Rows:

- *detection*: aniposelib's ``CharucoBoard.detect_image`` and mocap3d's ``BoardDetector``
  on every rendered image (in memory, no decoding), one image after the other; mocap3d also
  with its threads over images (``detect_cameras``' way). Speed in images/s; corner error vs
  the rendered truth (px) over the corners each found.
- *calibration*: aniposelib's ``CameraGroup.calibrate_rows`` and mocap3d's
  ``calibrate_observations`` from the same corners (mocap3d's detections). Reprojection
  error: every corner triangulated from all cameras (DLT) and reprojected, median and 95th
  percentile (px) — the same measure for both. Truth: camera centres (after the best rigid
  alignment of the centres), orientations (after the best rotation), median adjacent-corner
  distance vs 10 mm.
- *real*: the caliscope 4-webcam footage (``../shared/data/real/caliscope_4cam_charuco``):
  both detectors on all 228 frames (no truth: corner counts), then mocap3d end to end
  (detection + calibration, frames paired by ``sync_index``), the median adjacent-corner
  distance vs 54 mm, and the peer calibration's on the same corners for comparison.

Run under the CPU lock:
    flock /tmp/mocap3d-cpu.lock python tools/bench/calibration.py --json out.json
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time
import tomllib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from mocap3d.calibration.calibrate import calibrate_footage, calibrate_observations  # noqa: E402
from mocap3d.calibration.detect import BoardDetector, CameraDetections  # noqa: E402
from mocap3d.calibration.observations import (  # noqa: E402
    board_observations,
    frame_keys_from_sync_table,
)
from mocap3d.calibration.quality import (  # noqa: E402
    compare_calibrations,
    corner_spacing,
    geometry_summary,
)
from mocap3d.calibration.triangulate import triangulate  # noqa: E402
from mocap3d.camera import Camera, CameraGroup  # noqa: E402
from mocap3d.rig import load_rig, rig_from_dict  # noqa: E402
from mocap3d.simulate.board_footage import (  # noqa: E402
    BoardFootageOptions,
    render_board_footage,
)
from mocap3d.simulate.rig_geometry import camera_layout  # noqa: E402

REAL = ROOT.parent / "shared" / "data" / "real" / "caliscope_4cam_charuco"
if not REAL.is_dir():
    REAL = Path("/work/shared/data/real/caliscope_4cam_charuco")


def seed_rig(fisheye: bool):
    path = ROOT / "rigs" / "mouse-jump-4cam.toml"
    if fisheye:
        return load_rig(path)
    data = tomllib.loads(path.read_text())
    for cam in data["cameras"]:
        cam["lens"] = "pinhole"
    return rig_from_dict(data, base_dir=path.parent, source=str(path))


def render(rig, n_frames: int, seed: int):
    cams = camera_layout(rig, seed=1)
    t = time.perf_counter()
    frames, truth = render_board_footage(
        cams, rig.board, options=BoardFootageOptions(n_frames=n_frames), seed=seed
    )
    return frames, truth, time.perf_counter() - t


def errors_vs_truth(ids_xy: list, truth_corners: np.ndarray) -> np.ndarray:
    errs = []
    for (c, f), (ids, xy) in ids_xy:
        if len(ids):
            e = np.linalg.norm(xy - truth_corners[c, f, ids], axis=1)
            errs.append(e[np.isfinite(e)])
    return np.concatenate(errs) if errs else np.zeros(0)


def bench_detection(frames: dict, truth, spec) -> tuple[list[dict], dict]:
    import cv2
    from aniposelib.boards import CharucoBoard as AniBoard

    names = list(frames)
    images = [((c, f), frames[n][f]) for c, n in enumerate(names) for f in range(len(frames[n]))]
    dict_size = spec.dictionary_size
    bits = int(spec.dictionary.split("_")[1][0])
    ani = AniBoard(
        spec.squares_x,
        spec.squares_y,
        spec.square_length_mm,
        spec.marker_length_mm,
        marker_bits=bits,
        dict_size=dict_size,
    )
    rows = []
    threads = cv2.getNumThreads()

    t = time.perf_counter()
    ani_out = []
    for key, img in images:
        corners, ids = ani.detect_image(img)
        if len(corners):
            ani_out.append((key, (ids.ravel().astype(int), corners.reshape(-1, 2))))
    dt_ani = (time.perf_counter() - t) / len(images)
    e = errors_vs_truth(ani_out, truth.corners)
    rows.append(_det_row("aniposelib", "detect_image", dt_ani, e, f"cv2 threads {threads}"))

    det = BoardDetector(spec)
    out: dict = {}
    for label, n_cv in (("sequential", threads), ("sequential 1 cv2 thread", 1)):
        cv2.setNumThreads(n_cv)
        t = time.perf_counter()
        ours = [(key, det.detect(img)[:2]) for key, img in images]
        dt = (time.perf_counter() - t) / len(images)
        e = errors_vs_truth(ours, truth.corners)
        rows.append(_det_row("mocap3d", f"BoardDetector ({label})", dt, e, f"cv2 threads {n_cv}"))
        out[label] = dt
    cv2.setNumThreads(threads)

    import threading
    from concurrent.futures import ThreadPoolExecutor

    local = threading.local()

    def work(item):
        if getattr(local, "det", None) is None:
            local.det = BoardDetector(spec)
        return item[0], local.det.detect(item[1])[:2]

    n_workers = os.cpu_count() or 1
    cv2.setNumThreads(1)
    t = time.perf_counter()
    with ThreadPoolExecutor(n_workers) as pool:
        ours = list(pool.map(work, images))
    dt_par = (time.perf_counter() - t) / len(images)
    cv2.setNumThreads(threads)
    e = errors_vs_truth(ours, truth.corners)
    rows.append(
        _det_row(
            "mocap3d",
            f"BoardDetector ({n_workers} threads)",
            dt_par,
            e,
            "as detect_cameras runs it",
        )
    )
    ratios = {
        "detection_per_image_vs_aniposelib": dt_ani / out["sequential"],
        "detection_per_image_1thread_vs_aniposelib": dt_ani / out["sequential 1 cv2 thread"],
        "detection_throughput_vs_aniposelib": dt_ani / dt_par,
    }
    detections = _as_detections(ours, names, truth, spec, frames)
    return rows, {"ratios": ratios, "detections": detections}


def _det_row(impl: str, method: str, dt: float, e: np.ndarray, note: str) -> dict:
    return {
        "impl": impl,
        "method": method,
        "per_s": 1.0 / dt,
        "unit": "images",
        "ms_per_image": 1000 * dt,
        "corners": int(e.size),
        "error_median": float(np.median(e)),
        "error_p95": float(np.percentile(e, 95)),
        "error_unit": "px",
        "note": note,
    }


def _as_detections(ours, names, truth, spec, frames) -> dict:
    n_frames = truth.corners.shape[1]
    dets = {}
    for c, name in enumerate(names):
        dense = np.full((n_frames, spec.n_corners, 2), np.nan)
        for (cc, f), (ids, xy) in ours:
            if cc == c and len(ids) >= 6:
                dense[f, ids] = xy
        keep = np.flatnonzero(np.isfinite(dense[:, :, 0]).any(axis=1))
        h, w = frames[name].shape[1:]
        dets[name] = CameraDetections(
            name, "memory", (w, h), n_frames, 1, keep, dense[keep], len(keep)
        )
    return dets


def reprojection(group: CameraGroup, uv: np.ndarray) -> np.ndarray:
    """Errors (px) of every corner seen by ≥ 2 cameras, triangulated from all and reprojected."""
    pts = triangulate(group, uv)  # (F, N, 3)
    proj = group.project(pts)
    e = np.linalg.norm(proj - uv, axis=-1)
    return e[np.isfinite(e)]


def from_anipose(cgroup, names) -> CameraGroup:
    cams = []
    for cam, name in zip(cgroup.cameras, names, strict=True):
        d = cam.get_dict()
        cams.append(
            Camera.from_rvec(
                name,
                tuple(d["size"]),
                np.asarray(d["matrix"]),
                np.asarray(d["distortions"]).ravel(),
                np.asarray(d["rotation"]),
                np.asarray(d["translation"]),
            )
        )
    return CameraGroup(tuple(cams))


def bench_calibration(detections: dict, truth, spec, lenses) -> tuple[list[dict], dict]:
    from aniposelib.boards import CharucoBoard as AniBoard
    from aniposelib.cameras import CameraGroup as AniGroup

    names = list(detections)
    obs = board_observations(detections)
    uv = obs.transpose("view", "frame", "corner", "space").values
    rows = []

    ani_board = AniBoard(
        spec.squares_x,
        spec.squares_y,
        spec.square_length_mm,
        spec.marker_length_mm,
        marker_bits=4,
        dict_size=spec.dictionary_size,
    )
    all_rows = []
    for name in names:
        d = detections[name]
        cam_rows = []
        for f, dense in zip(d.frames, d.corners, strict=True):
            ids = np.flatnonzero(np.isfinite(dense[:, 0]))
            cam_rows.append(
                {
                    "framenum": int(f),
                    "ids": ids.reshape(-1, 1).astype(np.int32),
                    "corners": dense[ids].reshape(-1, 1, 2).astype(np.float32),
                }
            )
        all_rows.append(cam_rows)
    cg = AniGroup.from_names(names)
    for cam, name in zip(cg.cameras, names, strict=True):
        cam.set_size(detections[name].image_size)
    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        cg.calibrate_rows(
            all_rows, ani_board, init_intrinsics=True, init_extrinsics=True, verbose=False
        )
    dt_ani = time.perf_counter() - t
    ani_group = from_anipose(cg, names)
    rows.append(_cal_row("aniposelib", "calibrate_rows", dt_ani, ani_group, uv, truth, obs, spec))

    t = time.perf_counter()
    res = calibrate_observations(obs, spec, lenses=lenses)
    dt_ours = time.perf_counter() - t
    rows.append(
        _cal_row("mocap3d", "calibrate_observations", dt_ours, res.cameras, uv, truth, obs, spec)
    )
    return rows, {"calibration_vs_aniposelib_calibrate_rows": dt_ani / dt_ours}


def _cal_row(impl, method, dt, group, uv, truth, obs, spec) -> dict:
    e = reprojection(group, uv)
    cmp = compare_calibrations(group, truth.cameras, align=True)
    geo = geometry_summary(corner_spacing(group, obs, spec), spec.square_length_mm)
    return {
        "impl": impl,
        "method": method,
        "per_s": 1.0 / dt,
        "unit": "calibrations",
        "seconds": dt,
        "error_median": float(np.median(e)),
        "error_p95": float(np.percentile(e, 95)),
        "error_unit": "px",
        "centre_error_max_mm": max(v["centre_mm"] for v in cmp.values()),
        "rotation_error_max_deg": max(v["rotation_deg"] for v in cmp.values()),
        "focal_error_max_percent": max(abs(v["focal_percent"]) for v in cmp.values()),
        "square_error_percent": geo.get("median_error_percent", float("nan")),
        "per_camera": cmp,
    }


def bench_truth_fisheye(n_frames: int, seed: int) -> dict:
    rig = seed_rig(fisheye=True)
    frames, truth, _ = render(rig, n_frames, seed)
    names = list(frames)
    images = [((c, f), frames[n][f]) for c, n in enumerate(names) for f in range(n_frames)]
    det = BoardDetector(rig.board)
    ours = [(key, det.detect(img)[:2]) for key, img in images]
    dets = _as_detections(ours, names, truth, rig.board, frames)
    obs = board_observations(dets)
    t = time.perf_counter()
    res = calibrate_observations(obs, rig.board, lenses={c.name: c.lens for c in rig.cameras})
    uv = obs.transpose("view", "frame", "corner", "space").values
    row = _cal_row(
        "mocap3d",
        "calibrate_observations (fisheye overhead)",
        time.perf_counter() - t,
        res.cameras,
        uv,
        truth,
        obs,
        rig.board,
    )
    row["note"] = "seed rig as it is; no aniposelib counterpart"
    return row


def bench_detection_real() -> tuple[list[dict], dict]:
    """Both detectors on every frame of the caliscope videos (1280×720, inverted board)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import cv2
    from aniposelib.boards import CharucoBoard as AniBoard

    from mocap3d.calibration.board import load_board_spec

    spec = load_board_spec(ROOT / "calibration" / "boards" / "caliscope-4x5-54mm.toml")
    images = []
    for i in range(4):
        cap = cv2.VideoCapture(str(REAL / f"cam_{i}.mp4"))
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            images.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
        cap.release()
    ani = AniBoard(4, 5, 54.0, 40.5, marker_bits=4, dict_size=1000)
    t = time.perf_counter()
    n_ani = sum(len(ani.detect_image(255 - img)[0]) for img in images)  # it has no "inverted"
    dt_ani = (time.perf_counter() - t) / len(images)
    det = BoardDetector(spec)
    t = time.perf_counter()
    n_ours = sum(len(det.detect(img)[0]) for img in images)
    dt_ours = (time.perf_counter() - t) / len(images)
    local = threading.local()

    def work(img):
        if getattr(local, "det", None) is None:
            local.det = BoardDetector(spec)
        return len(local.det.detect(img)[0])

    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    t = time.perf_counter()
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        n_par = sum(pool.map(work, images))
    dt_par = (time.perf_counter() - t) / len(images)
    cv2.setNumThreads(threads)
    rows = [
        {
            "impl": "aniposelib",
            "method": "detect_image (caliscope real)",
            "per_s": 1 / dt_ani,
            "unit": "images",
            "ms_per_image": 1000 * dt_ani,
            "corners": n_ani,
            "note": f"{n_ani} corners in {len(images)} images",
        },
        {
            "impl": "mocap3d",
            "method": "BoardDetector (caliscope real)",
            "per_s": 1 / dt_ours,
            "unit": "images",
            "ms_per_image": 1000 * dt_ours,
            "corners": n_ours,
            "note": f"{n_ours} corners",
        },
        {
            "impl": "mocap3d",
            "method": "BoardDetector (caliscope real, threads)",
            "per_s": 1 / dt_par,
            "unit": "images",
            "ms_per_image": 1000 * dt_par,
            "corners": n_par,
            "note": f"{n_par} corners",
        },
    ]
    ratios = {
        "detection_real_per_image_vs_aniposelib": dt_ani / dt_ours,
        "detection_real_throughput_vs_aniposelib": dt_ani / dt_par,
    }
    return rows, ratios


def bench_real() -> dict | None:
    from mocap3d.calibration.board import load_board_spec

    if not REAL.is_dir():
        print(f"real data {REAL} not found: skipped")
        return None
    spec = load_board_spec(ROOT / "calibration" / "boards" / "caliscope-4x5-54mm.toml")
    cams = {f"cam_{i}": REAL / f"cam_{i}.mp4" for i in range(4)}
    keys = frame_keys_from_sync_table(REAL / "timestamps.csv", {n: i for i, n in enumerate(cams)})
    t = time.perf_counter()
    res = calibrate_footage(cams, spec, frame_keys=keys)
    dt = time.perf_counter() - t
    g = res.quality.geometry
    peer = peer_calibration(REAL / "peer_camera_array.toml", list(cams))
    peer_geo = geometry_summary(corner_spacing(peer, res.observations, spec), 54.0)
    cmp = compare_calibrations(res.cameras, peer, align=True)
    return {
        "impl": "mocap3d",
        "method": "calibrate_footage (caliscope real)",
        "per_s": 1 / dt,
        "unit": "calibrations",
        "seconds": dt,
        "error_median": float(np.median(res.bundle.errors[np.isfinite(res.bundle.errors)])),
        "error_unit": "px",
        "spacing_median_mm": g["median_mm"],
        "spacing_iqr_mm": [g["q25_mm"], g["q75_mm"]],
        "square_error_percent": g["median_error_percent"],
        "peer_spacing_median_mm_on_our_corners": peer_geo.get("median_mm"),
        "peer_spacing_iqr_mm_on_our_corners": [peer_geo.get("q25_mm"), peer_geo.get("q75_mm")],
        "vs_peer_centre_max_mm": max(v["centre_mm"] for v in cmp.values()),
        "vs_peer_rotation_max_deg": max(v["rotation_deg"] for v in cmp.values()),
        "intrinsics": {n: r.parameters for n, r in res.intrinsics.items()},
    }


def peer_calibration(path: Path, names: list[str]) -> CameraGroup:
    data = tomllib.loads(path.read_text())
    cams = []
    for i, name in enumerate(names):
        d = data["cameras"][str(i)]
        cams.append(
            Camera(
                name,
                tuple(d["size"]),
                np.asarray(d["matrix"]),
                np.asarray(d["distortions"]),
                "pinhole",
                np.asarray(d["rotation"]),
                1000 * np.asarray(d["translation"]),
            )
        )
    return CameraGroup(tuple(cams))


def table(rows: list[dict]) -> str:
    lines = [
        f"{'impl':<11} {'method':<44} {'per s':>9} {'time':>10} {'err med':>8} {'err p95':>8}  note"
    ]
    for r in rows:
        time_s = (
            f"{r['ms_per_image']:.1f} ms" if "ms_per_image" in r else f"{r.get('seconds', 0):.2f} s"
        )
        note = r.get("note", "")
        if "centre_error_max_mm" in r:
            note = (
                f"centres ≤ {r['centre_error_max_mm']:.3f} mm, rotations ≤ "
                f"{r['rotation_error_max_deg']:.3f}°, square {r['square_error_percent']:+.4f} %"
                f"{', ' + note if note else ''}"
            )
        if "spacing_median_mm" in r:
            note = (
                f"spacing {r['spacing_median_mm']:.2f} mm "
                f"({r['square_error_percent']:+.2f} %), peer "
                f"{r['peer_spacing_median_mm_on_our_corners']:.2f} mm"
            )
        lines.append(
            f"{r['impl']:<11} {r['method']:<44} {r['per_s']:>9.2f} {time_s:>10} "
            f"{r.get('error_median', float('nan')):>8.3f} "
            f"{r.get('error_p95', float('nan')):>8.3f}  {note}"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--frames", type=int, default=60, help="board poses")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fisheye", action="store_true", help="also the seed rig with its fisheye")
    ap.add_argument("--skip-real", action="store_true")
    args = ap.parse_args()

    rig = seed_rig(fisheye=False)
    frames, truth, t_render = render(rig, args.frames, args.seed)
    print(f"rendered {len(frames)} cameras × {args.frames} frames in {t_render:.1f} s", flush=True)
    rows, ratios = [], {}
    det_rows, det = bench_detection(frames, truth, rig.board)
    rows += det_rows
    ratios.update(det["ratios"])
    print(table(det_rows), flush=True)
    cal_rows, cal_ratios = bench_calibration(
        det["detections"], truth, rig.board, {c.name: c.lens for c in rig.cameras}
    )
    rows += cal_rows
    ratios.update(cal_ratios)
    print(table(cal_rows).split("\n", 1)[1], flush=True)
    if args.fisheye:
        row = bench_truth_fisheye(args.frames, args.seed)
        rows.append(row)
        print(table([row]).split("\n", 1)[1], flush=True)
    if not args.skip_real and REAL.is_dir():
        real_rows, real_ratios = bench_detection_real()
        rows += real_rows
        ratios.update(real_ratios)
        print(table(real_rows).split("\n", 1)[1], flush=True)
        row = bench_real()
        if row:
            rows.append(row)
            print(table([row]).split("\n", 1)[1], flush=True)
    print()
    print(table(rows))
    for k, v in ratios.items():
        print(f"{k}: {v:,.1f}×")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "benchmark": "calibration",
                    "data": f"seed rig (pinhole lenses), 4 cameras 1280×1024, {args.frames} "
                    "rendered board poses (7×5 ChArUco, 10 mm); caliscope 4-webcam real footage",
                    "rows": rows,
                    "ratios": ratios,
                },
                indent=2,
                default=float,
            )
        )


if __name__ == "__main__":
    main()
