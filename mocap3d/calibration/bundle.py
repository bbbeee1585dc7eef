"""Extrinsic calibration: pose chain, then bundle adjustment over all cameras and board views.

:func:`bundle_adjust` takes cameras with their intrinsics (poses are ignored) and the board
observations, and returns a *new* :class:`~mocap3d.camera.CameraGroup` plus a
:class:`BundleReport`. Steps:

1. board pose in every camera and frame (PnP on the undistorted corners);
2. first camera poses by the pose chain (:mod:`mocap3d.calibration.chain`), which works when
   no frame shows the board to every camera;
3. sparse bundle adjustment of every camera pose (the reference camera is held: it defines
   the world until :mod:`mocap3d.calibration.world` moves it), every board pose and optionally
   the intrinsics, with a robust loss (:mod:`mocap3d.calibration._lm`);
4. outlier rejection (observations far off the fit, and whole views that do not fit), then a
   final adjustment.

The world frame of the result is the reference camera's; lengths in mm.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mocap3d.calibration._ba import Problem
from mocap3d.calibration._lm import Loss, solve
from mocap3d.calibration.board import BoardSpec
from mocap3d.calibration.chain import Chain, chain_poses
from mocap3d.calibration.observations import as_array
from mocap3d.calibration.poses import invert_T, rt_from_T, view_poses
from mocap3d.camera import Camera, CameraGroup
from mocap3d.errors import InputError
from mocap3d.progress import Progress, report

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BundleOptions:
    """Knobs of :func:`bundle_adjust`.

    Attributes
    ----------
    refine_intrinsics : bool
        Also adjust each camera's intrinsics (the terms its intrinsic fit kept).
    loss : {"soft_l1", "huber", "cauchy", "linear"}
    f_scale_px : float
        Pixel error where the robust loss starts to discount.
    outlier_px : float or None
        Observations with a larger error after the first adjustment are dropped; None: eight
        times the median error, at least 2 px.
    max_views : int
        At most this many board views enter the adjustment (evenly spread; views seen by
        several cameras first).
    """

    refine_intrinsics: bool = True
    loss: Loss = "soft_l1"
    f_scale_px: float = 1.0
    outlier_px: float | None = None
    max_views: int = 300


@dataclass(frozen=True)
class BundleReport:
    """How the adjustment went.

    Attributes
    ----------
    reference_camera : str
    pairs : list of dict
        Per camera pair sharing frames: ``cameras``, ``shared_frames``, ``agreeing_frames``.
    tree : dict of str to str
        The pose chain: each camera's parent (the camera it was placed from).
    frames : (n_views,) int64 ndarray
        Frame keys of the board views adjusted.
    board_to_world : (n_views, 4, 4) ndarray
    errors : (n_cameras, n_views, n_corners) ndarray
        Final reprojection error (px) of every observation; NaN where none (or dropped).
    outliers : (n_cameras, n_views, n_corners) bool ndarray
        Observations dropped as outliers.
    iterations : int
    converged : bool
    seconds : float
    """

    reference_camera: str
    pairs: list[dict[str, Any]]
    tree: dict[str, str]
    frames: np.ndarray
    board_to_world: np.ndarray
    errors: np.ndarray
    outliers: np.ndarray
    iterations: int
    converged: bool
    seconds: float
    camera_names: list[str] = field(default_factory=list)

    def camera_summary(self) -> dict[str, dict[str, float]]:
        """Per camera: rms, median and 95th percentile error (px), observations, outliers."""
        out = {}
        for c, name in enumerate(self.camera_names):
            e = self.errors[c][np.isfinite(self.errors[c])]
            out[name] = {
                "rms_px": float(np.sqrt(np.mean(e**2))) if e.size else float("nan"),
                "median_px": float(np.median(e)) if e.size else float("nan"),
                "p95_px": float(np.percentile(e, 95)) if e.size else float("nan"),
                "n_observations": int(e.size),
                "n_outliers": int(self.outliers[c].sum()),
                "n_views": int(np.any(np.isfinite(self.errors[c]), axis=1).sum()),
            }
        return out


def _select_views(seen: np.ndarray, max_views: int) -> np.ndarray:
    """Frames to adjust: all seen by ≥ 2 cameras first, evenly thinned to ``max_views``."""
    n_cams = seen.sum(axis=0)
    multi = np.flatnonzero(n_cams >= 2)
    single = np.flatnonzero(n_cams == 1)
    if len(multi) >= max_views:
        keep = multi[np.linspace(0, len(multi) - 1, max_views).round().astype(int)]
        return np.unique(keep)
    room = max_views - len(multi)
    if len(single) > room:
        single = single[np.linspace(0, len(single) - 1, room).round().astype(int)]
    return np.sort(np.concatenate([multi, single]))


def _build(
    cameras: list[Camera],
    free: list[np.ndarray],
    ref: int,
    obj: np.ndarray,
    uv_all: np.ndarray,
    keep: np.ndarray,
    poses: np.ndarray,
) -> tuple[Problem, tuple]:
    cam_idx, view_idx, corner_idx = np.nonzero(keep)
    problem = Problem(
        cameras=cameras,
        free_intrinsics=free,
        fixed_pose=np.arange(len(cameras)) == ref,
        obj=obj,
        cam=cam_idx,
        view=view_idx,
        corner=corner_idx,
        uv=uv_all[cam_idx, view_idx, corner_idx],
        poses=poses,
    )
    return problem, (cam_idx, view_idx, corner_idx)


def bundle_adjust(
    cameras: CameraGroup,
    observations: Any,
    spec: BoardSpec,
    *,
    reference_camera: str | None = None,
    free_intrinsics: Mapping[str, Sequence[int]] | None = None,
    options: BundleOptions = BundleOptions(),
    progress: Progress | None = None,
) -> tuple[CameraGroup, BundleReport]:
    """Calibrate the camera poses (and refine intrinsics) from board observations.

    Parameters
    ----------
    cameras : CameraGroup
        Intrinsics of every camera, named as the observations' ``view`` coordinate; their
        poses are not used. Never modified.
    observations : xarray.DataArray
        Corners with dims ``(view, frame, corner, space)``
        (:func:`~mocap3d.calibration.observations.board_observations`).
    spec : BoardSpec
    reference_camera : str, optional
        Camera that defines the world frame (default: the best connected one).
    free_intrinsics : mapping of str to sequence of int, optional
        Per camera, the intrinsics (indices into ``[fx, fy, cx, cy, d0, …]``) to refine when
        ``options.refine_intrinsics``; default: focal lengths, principal point and every
        distortion term of the camera.
    options : BundleOptions
    progress : Progress, optional

    Returns
    -------
    group : CameraGroup
        New cameras in the observations' view order, world = reference camera frame.
    report : BundleReport

    Raises
    ------
    InputError
        Observations and cameras do not match, or a camera never shares a frame with the
        others.
    """
    start_time = time.perf_counter()
    names = [str(v) for v in observations.coords["view"].values]
    missing = [n for n in names if n not in cameras.names]
    if missing:
        raise InputError(f"no intrinsics for camera(s) {missing}; cameras are {cameras.names}")
    cams = [cameras[n].replace(R=np.eye(3), t=np.zeros(3)) for n in names]
    uv = as_array(observations)  # (C, F, N, 2)
    frame_keys = np.asarray(observations.coords["frame"].values)
    obj = spec.corner_points_mm()
    if uv.shape[2] != len(obj):
        raise InputError(
            f"observations have {uv.shape[2]} corners per frame but the board has {len(obj)}"
        )
    report(progress, 0, 4, "bundle adjustment")
    T_cf = np.full((*uv.shape[:2], 4, 4), np.nan)
    pnp_rms = np.full(uv.shape[:2], np.inf)
    for c, cam in enumerate(cams):
        T_cf[c], pnp_rms[c] = view_poses(cam, obj, uv[c])
    ref = names.index(reference_camera) if reference_camera is not None else None
    chain = chain_poses(T_cf, names, reference=ref)
    ref = chain.reference
    report(progress, 1, 4, "bundle adjustment")

    has_pose = np.all(np.isfinite(T_cf.reshape(*T_cf.shape[:2], 16)), axis=2)
    seen = has_pose if options.refine_intrinsics else has_pose & (has_pose.sum(axis=0) >= 2)
    views = _select_views(seen, options.max_views)
    poses0 = np.stack([_initial_board_pose(chain, T_cf[:, f], pnp_rms[:, f]) for f in views])
    uv_v = uv[:, views]
    keep = np.isfinite(uv_v[..., 0]) & has_pose[:, views][:, :, None]
    if not options.refine_intrinsics:
        keep &= (has_pose[:, views].sum(axis=0) >= 2)[None, :, None]
    for c, cam in enumerate(cams):
        cams[c] = cam.replace(R=chain.T_cw[c][:3, :3], t=chain.T_cw[c][:3, 3])
    free = [
        np.asarray(
            (free_intrinsics or {}).get(n, range(4 + (5 if cams[c].model == "pinhole" else 4))),
            dtype=np.intp,
        )
        if options.refine_intrinsics
        else np.zeros(0, np.intp)
        for c, n in enumerate(names)
    ]

    problem, index = _build(cams, free, ref, obj, uv_v, keep, poses0)
    sol = solve(problem, loss=options.loss, f_scale=options.f_scale_px)
    report(progress, 2, 4, "bundle adjustment")
    outliers = np.zeros_like(keep)
    iterations = sol.iterations
    err = np.linalg.norm(sol.residuals, axis=1)
    limit = options.outlier_px or max(2.0, 8.0 * float(np.median(err)))
    bad = err > limit
    bad_views = _bad_views(index, err, limit, keep.shape)
    bad |= bad_views[index[0], index[1]]
    if np.any(bad):
        outliers[tuple(i[bad] for i in index)] = True
        keep2 = keep & ~outliers
        cams_now, poses_now = problem.unpack(sol.x)
        problem, index = _build(cams_now, free, ref, obj, uv_v, keep2, poses_now)
        sol = solve(problem, loss=options.loss, f_scale=options.f_scale_px)
        iterations += sol.iterations
        log.info("bundle adjustment: dropped %d outlier observations (> %.2f px)", bad.sum(), limit)
    report(progress, 3, 4, "bundle adjustment")
    final, poses = problem.unpack(sol.x)
    errors = np.full(keep.shape, np.nan)
    errors[index] = np.linalg.norm(sol.residuals, axis=1)
    group = CameraGroup(tuple(final), dict(cameras.metadata))
    rep = BundleReport(
        reference_camera=names[ref],
        pairs=[
            {
                "cameras": [names[e.a], names[e.b]],
                "shared_frames": e.n_shared,
                "agreeing_frames": e.n_agree,
            }
            for e in chain.edges
        ],
        tree={names[c]: names[p] for c, p in enumerate(chain.parents) if p >= 0},
        frames=frame_keys[views],
        board_to_world=np.stack([_T(p) for p in poses]),
        errors=errors,
        outliers=outliers,
        iterations=iterations,
        converged=sol.converged,
        seconds=time.perf_counter() - start_time,
        camera_names=names,
    )
    report(progress, 4, 4, "bundle adjustment")
    return group, rep


def _T(rt: np.ndarray) -> np.ndarray:
    from mocap3d.calibration.poses import T_from_rt

    return T_from_rt(rt)


def _initial_board_pose(chain: Chain, T_cf: np.ndarray, rms: np.ndarray) -> np.ndarray:
    """Board → world of one frame from the camera whose PnP fits best."""
    c = int(np.argmin(rms))
    return rt_from_T(invert_T(chain.T_cw[c]) @ T_cf[c])


def _bad_views(index: tuple, err: np.ndarray, limit: float, shape: tuple) -> np.ndarray:
    """(camera, view) pairs whose median error exceeds the outlier limit: a wrong board pose."""
    cam, view, _ = index
    n_cams, n_views = shape[:2]
    flat = cam * n_views + view
    med = np.full(n_cams * n_views, 0.0)
    for k in np.unique(flat):
        med[k] = np.median(err[flat == k])
    return (med > limit).reshape(n_cams, n_views)
