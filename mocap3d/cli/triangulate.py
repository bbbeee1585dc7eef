"""``mocap3d triangulate --calibration calibration.toml --camera NAME=TRACKS.h5 [...] --out F``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from mocap3d.cli._console import out_console, progress_bar
from mocap3d.errors import InputError

if TYPE_CHECKING:
    import xarray as xr

METHOD_HELP = (
    "dlt: confidence-weighted DLT of every camera (fastest); robust: cameras chosen by "
    "reprojection consensus (rejects outliers and swaps); spatiotemporal: robust start, then "
    "smooth motion, rigid bones and a robust loss over all frames (most accurate; needs the "
    "frame rate)."
)


def _parse_cameras(values: list[str]) -> dict[str, Path]:
    cameras: dict[str, Path] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise InputError(
                f"--camera expects NAME=TRACKS.h5 (a calibrated camera's name and its "
                f"DeepLabCut tracks), found {value!r}"
            )
        if name in cameras:
            raise InputError(f"camera {name!r} is given twice with --camera")
        cameras[name] = Path(path)
    return cameras


def triangulate_command(
    calibration: Path = typer.Option(
        ..., "--calibration", "-c", help="Anipose calibration.toml with the cameras."
    ),
    camera: list[str] = typer.Option(
        ...,
        "--camera",
        help="NAME=TRACKS: a calibrated camera and its DeepLabCut tracks (.h5 or .csv); "
        "repeat for every camera.",
    ),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Output: .csv (Anipose pose-3d layout) or .h5 (session group)."
    ),
    method: str = typer.Option("spatiotemporal", "--method", "-m", help=METHOD_HELP),
    rig: Path | None = typer.Option(
        None, "--rig", help="Rig TOML: skeleton bones and frame rate (spatiotemporal)."
    ),
    fps: float | None = typer.Option(None, "--fps", help="Frame rate (default: the rig's)."),
    min_score: float = typer.Option(
        0.5, "--min-score", help="Ignore 2D detections with a lower confidence."
    ),
    unweighted: bool = typer.Option(
        False, "--unweighted", help="Do not weight detections by their confidence."
    ),
    threshold_px: float = typer.Option(
        8.0, "--threshold-px", help="Robust: max reprojection error of an agreeing camera, px."
    ),
    accel_sd: float = typer.Option(
        20.0, "--accel-sd", help="Spatiotemporal: acceleration prior SD, m/s² (smaller: smoother)."
    ),
    bone_sd: float = typer.Option(
        0.5,
        "--bone-sd",
        help="Spatiotemporal: the least a bone's length may vary, mm (bones measured to vary "
        "more get their measured spread).",
    ),
    max_gap: int = typer.Option(
        10, "--max-gap", help="Spatiotemporal: longest gap without cameras to bridge, frames."
    ),
    group: str = typer.Option("poses3d", "--group", help="Group in an .h5 output file."),
    workers: int = typer.Option(1, "--workers", help="Chunks solved in parallel threads."),
) -> None:
    """Triangulate DeepLabCut tracks of calibrated cameras into 3D (mm, calibration frame)."""
    from mocap3d.camera import CameraGroup
    from mocap3d.io.dlc import read_dlc_tracks
    from mocap3d.triangulation import METHODS, SpatiotemporalOptions, combine_views, triangulate

    if method not in METHODS:
        raise InputError(f"--method must be one of {list(METHODS)}, found {method!r}")
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".h5"):
        raise InputError(f"--out must end in .csv or .h5, found {out.name!r}")
    cameras = _parse_cameras(camera)
    calib = CameraGroup.load(calibration)
    unknown = [n for n in cameras if n not in calib.names]
    if unknown:
        raise InputError(
            f"camera(s) {unknown} given with --camera are not in {calibration}, whose cameras "
            f"are {calib.names}"
        )
    bones: list[tuple[str, str]] = []
    if rig is not None:
        from mocap3d.rig import load_rig

        r = load_rig(rig)
        bones = list(r.skeleton.bones)
        if fps is None:
            fps = r.fps
    tracks = {name: read_dlc_tracks(path, view=name, fps=fps) for name, path in cameras.items()}
    poses2d = combine_views(tracks)
    options = SpatiotemporalOptions(accel_sd=accel_sd * 1000.0, bone_sd_mm=bone_sd)
    start = time.perf_counter()
    with progress_bar() as progress:
        ds = triangulate(
            poses2d,
            calib,
            method=method,  # type: ignore[arg-type]
            min_score=min_score,
            weighted=not unweighted,
            threshold_px=threshold_px,
            bones=bones,
            fps=fps,
            options=options,
            max_gap=max_gap,
            workers=workers,
            progress=progress,
        )
    elapsed = time.perf_counter() - start
    ds.attrs["calibration_file"] = str(calibration)
    if suffix == ".csv":
        from mocap3d.io.pose3d_csv import write_pose3d_csv

        write_pose3d_csv(ds, out)
    else:
        from mocap3d.io.session import write_dataset

        write_dataset(out, group, ds)
    _summary(ds, out, method, elapsed)


def _summary(ds: xr.Dataset, out: Path, method: str, elapsed: float) -> None:
    import numpy as np

    console = out_console()
    ok = np.isfinite(ds.position).all("space")
    err = ds.reprojection_error.where(ok).values
    med = f"{np.median(err[np.isfinite(err)]):.2f} px" if np.isfinite(err).any() else "—"
    console.print(
        f"triangulated {ds.sizes['time']} frames × {ds.sizes['keypoint']} keypoints "
        f"with {method} in {elapsed:.1f} s: {100 * float(ok.mean()):.1f}% of points "
        f"reconstructed, median reprojection error {med} → {out}",
        markup=False,
    )
    for kp in ds.keypoint.values:
        k_ok = ok.sel(keypoint=kp).values
        if not k_ok.any():
            console.print(f"  {kp}: not reconstructed", markup=False)
            continue
        nv = ds.n_views.sel(keypoint=kp).values[k_ok]
        e = ds.reprojection_error.sel(keypoint=kp).values[k_ok]
        e = e[np.isfinite(e)]
        console.print(
            f"  {kp}: {100 * k_ok.mean():.1f}% reconstructed, {nv.mean():.1f} cameras on "
            f"average, median error {np.median(e) if e.size else float('nan'):.2f} px",
            markup=False,
        )


def register(app: typer.Typer) -> None:
    app.command("triangulate")(triangulate_command)
