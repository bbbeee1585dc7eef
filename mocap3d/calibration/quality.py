"""How good is a calibration? Numbers a rig builder can check, and warnings when it is weak.

- **Reprojection error** per camera and per board view (px), after bundle adjustment.
- **Board geometry check**: every corner seen by two or more cameras is triangulated with the
  calibration alone (no board model), and the distances between adjacent corners are
  compared with the square length: median and interquartile range in mm. A scale error of the
  printed board, an unsynchronised camera or a wrong calibration all show up here.
- **Coverage**: which part of each image saw corners (8 × 8 grid), for the lens distortion.
- **Warnings** when views, shared views or coverage are too few, intrinsics had to fall back
  to fewer parameters, or the errors are high.

:func:`assess_calibration` computes a :class:`QualityReport`; its :meth:`~QualityReport.to_dict`
is what ``quality.json`` holds. Figures: :mod:`mocap3d.calibration.figures`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mocap3d.calibration.board import BoardSpec
from mocap3d.calibration.bundle import BundleReport
from mocap3d.calibration.intrinsics import IntrinsicsResult
from mocap3d.calibration.observations import as_array
from mocap3d.calibration.triangulate import triangulate
from mocap3d.camera import CameraGroup

COVERAGE_GRID = 8
MIN_VIEWS = 10
MIN_COVERAGE = 0.5
MIN_SHARED = 5


@dataclass(frozen=True)
class QualityReport:
    """Quality figures of a calibration (see the module docstring).

    Attributes
    ----------
    cameras : dict of str to dict
        Per camera: ``rms_px``, ``median_px``, ``p95_px``, ``n_observations``,
        ``n_outliers``, ``n_views``, ``coverage`` (share of the 8 × 8 image grid with
        corners), ``intrinsics`` (terms fitted) and ``intrinsics_notes``.
    view_frames : (n_views,) int64 ndarray
        Frame keys of the adjusted board views.
    view_rms_px : (n_cameras, n_views) ndarray
        RMS error per camera and view; NaN where the camera did not see the view.
    geometry : dict
        ``square_length_mm``, ``n_pairs``, ``median_mm``, ``q25_mm``, ``q75_mm``, ``iqr_mm``,
        ``median_error_percent``.
    spacing_mm : (n_pairs,) ndarray
        Every adjacent-corner distance measured.
    coverage : dict of str to (G, G) ndarray
        Corner counts on the grid per camera.
    warnings : list of str
    """

    cameras: dict[str, dict[str, Any]]
    view_frames: np.ndarray
    view_rms_px: np.ndarray
    geometry: dict[str, float]
    spacing_mm: np.ndarray
    coverage: dict[str, np.ndarray]
    warnings: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (what ``quality.json`` holds)."""
        names = list(self.cameras)
        return {
            "cameras": self.cameras,
            "board_geometry": self.geometry,
            "views": {
                "frame": self.view_frames.tolist(),
                "rms_px": {
                    n: [None if not np.isfinite(v) else round(float(v), 4) for v in row]
                    for n, row in zip(names, self.view_rms_px, strict=True)
                },
            },
            "coverage_grid": {n: g.astype(int).tolist() for n, g in self.coverage.items()},
            "warnings": self.warnings,
            **self.extra,
        }


def adjacent_pairs(spec: BoardSpec) -> np.ndarray:
    """Corner id pairs (n, 2) one square apart (along rows and along columns)."""
    nx, ny = spec.squares_x - 1, spec.squares_y - 1
    ids = np.arange(nx * ny).reshape(ny, nx)
    rows = np.stack([ids[:, :-1].ravel(), ids[:, 1:].ravel()], axis=1)
    cols = np.stack([ids[:-1, :].ravel(), ids[1:, :].ravel()], axis=1)
    return np.concatenate([rows, cols])


def corner_spacing(group: CameraGroup, observations: Any, spec: BoardSpec) -> np.ndarray:
    """Distances (mm) between adjacent triangulated corners over every frame.

    Corners seen by fewer than two cameras in a frame are skipped.
    """
    uv = as_array(observations)  # (C, F, N, 2)
    names = [str(v) for v in observations.coords["view"].values]
    pts = triangulate(group.subset(names), uv)  # (F, N, 3)
    pairs = adjacent_pairs(spec)
    d = np.linalg.norm(pts[:, pairs[:, 0]] - pts[:, pairs[:, 1]], axis=-1)
    return d[np.isfinite(d)]


def geometry_summary(spacing: np.ndarray, square_mm: float) -> dict[str, float]:
    if spacing.size == 0:
        return {"square_length_mm": square_mm, "n_pairs": 0}
    q25, med, q75 = np.percentile(spacing, [25, 50, 75])
    return {
        "square_length_mm": square_mm,
        "n_pairs": int(spacing.size),
        "median_mm": float(med),
        "q25_mm": float(q25),
        "q75_mm": float(q75),
        "iqr_mm": float(q75 - q25),
        "median_error_percent": float(100 * (med - square_mm) / square_mm),
    }


def coverage_grid(corners: np.ndarray, size: tuple[int, int], n: int = COVERAGE_GRID) -> np.ndarray:
    """Corner counts on an ``n × n`` grid over the image; corners (..., 2), NaN ignored."""
    p = corners.reshape(-1, 2)
    p = p[np.isfinite(p[:, 0])]
    w, h = size
    gx = np.clip((p[:, 0] + 0.5) / w * n, 0, n - 1).astype(int)
    gy = np.clip((p[:, 1] + 0.5) / h * n, 0, n - 1).astype(int)
    grid = np.zeros((n, n))
    np.add.at(grid, (gy, gx), 1)
    return grid


def assess_calibration(
    group: CameraGroup,
    observations: Any,
    spec: BoardSpec,
    bundle: BundleReport,
    intrinsics: Mapping[str, IntrinsicsResult] | None = None,
) -> QualityReport:
    """Compute the quality report of a calibration.

    Parameters
    ----------
    group : CameraGroup
        The calibration (any world frame).
    observations : xarray.DataArray
        The corners it was made from, dims ``(view, frame, corner, space)``.
    spec : BoardSpec
    bundle : BundleReport
    intrinsics : mapping of str to IntrinsicsResult, optional
    """
    names = [str(v) for v in observations.coords["view"].values]
    uv = as_array(observations)
    sizes = observations.attrs.get("image_sizes", {})
    summary = bundle.camera_summary()
    warnings: list[str] = []
    coverage = {}
    cams: dict[str, dict[str, Any]] = {}
    for c, name in enumerate(names):
        size = tuple(sizes.get(name, group[name].size))
        grid = coverage_grid(uv[c], size)
        coverage[name] = grid
        share = float(np.mean(grid > 0))
        info: dict[str, Any] = {**summary.get(name, {}), "coverage": share}
        if intrinsics and name in intrinsics:
            info["intrinsics"] = intrinsics[name].parameters
            info["intrinsics_notes"] = list(intrinsics[name].notes)
            if intrinsics[name].notes:
                warnings.append(f"{name}: " + "; ".join(intrinsics[name].notes))
        cams[name] = info
        n_views = int(np.any(np.isfinite(uv[c, :, :, 0]), axis=1).sum())
        if n_views < MIN_VIEWS:
            warnings.append(
                f"{name}: only {n_views} views of the board (≥ {MIN_VIEWS} recommended); "
                "film more board poses in this camera"
            )
        if share < MIN_COVERAGE:
            warnings.append(
                f"{name}: corners cover only {share:.0%} of the image (8×8 grid); move the "
                "board into the image corners and edges for a reliable lens distortion"
            )
        if np.isfinite(info.get("rms_px", np.nan)) and info["rms_px"] > 1.0:
            warnings.append(
                f"{name}: high reprojection error (rms {info['rms_px']:.2f} px): check the "
                "focus, motion blur, the board's flatness and the camera's sync"
            )
    for pair in bundle.pairs:
        child, parent = pair["cameras"]
        in_tree = bundle.tree.get(child) == parent or bundle.tree.get(parent) == child
        if in_tree and pair["agreeing_frames"] < MIN_SHARED:
            warnings.append(
                f"{child} and {parent} are linked by only {pair['agreeing_frames']} shared "
                f"frame(s) (≥ {MIN_SHARED} recommended); film the board where both see it"
            )
    spacing = corner_spacing(group, observations, spec)
    geometry = geometry_summary(spacing, spec.square_length_mm)
    if geometry.get("n_pairs", 0) == 0:
        warnings.append("no corner was seen by two cameras at once: no board geometry check")
    elif abs(geometry["median_error_percent"]) > 1.0:
        warnings.append(
            f"adjacent corners are {geometry['median_mm']:.2f} mm apart (median), the spec "
            f"says {spec.square_length_mm:g} mm: check the printed square size with a ruler "
            "(printer scaling) and that the cameras are synchronised"
        )
    seen = np.isfinite(bundle.errors)
    n_seen = seen.sum(axis=2)
    sq = np.where(seen, bundle.errors, 0.0) ** 2
    view_rms = np.where(n_seen > 0, np.sqrt(sq.sum(axis=2) / np.maximum(n_seen, 1)), np.nan)
    return QualityReport(
        cameras=cams,
        view_frames=np.asarray(bundle.frames),
        view_rms_px=view_rms,
        geometry=geometry,
        spacing_mm=spacing,
        coverage=coverage,
        warnings=warnings,
    )


def compare_calibrations(
    estimate: CameraGroup, reference: CameraGroup, *, align: bool = False
) -> dict[str, dict[str, float]]:
    """Per-camera differences between two calibrations of the same cameras.

    Parameters
    ----------
    estimate, reference : CameraGroup
        Cameras are matched by name.
    align : bool
        Compare the rig's shape, not where its world frame lies: centres after the rigid
        transform that best maps the estimated centres onto the reference's (Kabsch; with
        fewer than three cameras, the mean offset after the orientation alignment),
        orientations after the rotation that best maps the estimated orientations onto the
        reference's.

    Returns
    -------
    dict of str to dict
        Per camera: ``centre_mm`` (distance between centres), ``rotation_deg`` (angle of the
        relative rotation), ``focal_percent`` (mean of fx, fy relative difference),
        ``principal_point_px``.
    """
    from mocap3d.calibration.poses import make_T, project_to_rotation
    from mocap3d.calibration.world import rigid_fit, transform_group

    est = estimate.subset(reference.names)
    rot_est = est
    if align:
        # orientations: the rotation that best maps the estimated camera orientations onto
        # the reference's (chordal mean); centres: the rigid fit of the centres (Kabsch),
        # whose long baselines fix the rotation better than any one camera's orientation
        M = sum(r.R.T @ e.R for r, e in zip(reference, est, strict=True))
        R = project_to_rotation(np.asarray(M))
        rot_est = transform_group(est, make_T(R, np.zeros(3)))
        if len(est) >= 3:
            est = transform_group(est, rigid_fit(est.centers, reference.centers))
        else:
            est = transform_group(
                rot_est, make_T(np.eye(3), (reference.centers - rot_est.centers).mean(axis=0))
            )
    out = {}
    for e, q, r in zip(est, rot_est, reference, strict=True):
        cos = (np.trace(q.R @ r.R.T) - 1) / 2
        out[r.name] = {
            "centre_mm": float(np.linalg.norm(e.center - r.center)),
            "rotation_deg": float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))),
            "focal_percent": float(
                100 * np.mean([e.K[0, 0] / r.K[0, 0] - 1, e.K[1, 1] / r.K[1, 1] - 1])
            ),
            "principal_point_px": float(np.hypot(*(e.K[:2, 2] - r.K[:2, 2]))),
        }
    return out
