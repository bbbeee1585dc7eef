"""Rig planner: the 3D accuracy a camera layout will give, before the rig is built.

Monte-Carlo over simulated jumps: every landmark's true 2D position in every camera (with
self-occlusion, as the renderer sees it) gets Gaussian pixel noise of the tracker's expected
size, is triangulated by mocap3d's DLT, and compared with the truth. The result is the expected
3D error per landmark (median and 95th percentile, mm) and how often each landmark is seen by
fewer than two cameras during the jump (then it cannot be triangulated at all).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mocap3d.camera import CameraGroup
from mocap3d.datasets import make_poses2d
from mocap3d.errors import InputError
from mocap3d.progress import Progress, report
from mocap3d.rig import Rig
from mocap3d.simulate.jump import Jump
from mocap3d.simulate.jump_params import draw_trial, group_by_name
from mocap3d.simulate.render import project_truth
from mocap3d.simulate.rig_geometry import camera_layout
from mocap3d.simulate.skeleton import KEYPOINTS

#: time before movement onset and after the landing that count as "the jump", s
_MARGIN_S = 0.05


@dataclass(frozen=True)
class LandmarkPlan:
    """Expected accuracy of one landmark.

    Attributes
    ----------
    keypoint : str
    error_median_mm, error_p95_mm : float
        3D error over all draws and frames where the landmark is seen by ≥ 2 cameras;
        NaN if it never is.
    under_two_views : float
        Fraction of jump frames in which fewer than 2 cameras see the landmark.
    mean_views : float
        Mean number of cameras that see it.
    """

    keypoint: str
    error_median_mm: float
    error_p95_mm: float
    under_two_views: float
    mean_views: float


@dataclass(frozen=True)
class RigPlan:
    """The planner's answer for one layout and noise level."""

    rig: str
    cameras: list[str]
    noise_px: float
    n_jumps: int
    n_draws: int
    landmarks: list[LandmarkPlan]

    @property
    def poorly_seen(self) -> list[str]:
        """Landmarks seen by fewer than 2 cameras in some frames of the jump."""
        return [lm.keypoint for lm in self.landmarks if lm.under_two_views > 0]


def plan_rig(
    rig: Rig,
    *,
    cameras: CameraGroup | None = None,
    noise_px: float = 1.0,
    n_jumps: int = 4,
    n_draws: int = 25,
    group: str = "control",
    seed: int = 0,
    progress: Progress | None = None,
) -> RigPlan:
    """Predict the 3D error per landmark of a camera layout (Monte-Carlo).

    Parameters
    ----------
    rig : Rig
        Cameras (names, resolutions, lenses) and frame rate.
    cameras : CameraGroup, optional
        The layout to assess (e.g. a planned or existing ``calibration.toml``); default the
        simulator's layout of the rig (:func:`~mocap3d.simulate.rig_geometry.camera_layout`).
    noise_px : float
        Standard deviation of the 2D tracking error per coordinate, px.
    n_jumps : int
        Simulated jumps (different trial parameters) to average over.
    n_draws : int
        Noise draws per jump.
    group : str
        Jump group of the simulated mouse (``control`` or ``perturbed``).
    seed : int

    Returns
    -------
    RigPlan
    """
    from mocap3d.triangulation.pipeline import triangulate

    if not noise_px >= 0:
        raise InputError(f"noise_px must be ≥ 0 px, found {noise_px}")
    if n_jumps < 1 or n_draws < 1:
        raise InputError(f"n_jumps and n_draws must be ≥ 1, found {n_jumps} and {n_draws}")
    cams = cameras if cameras is not None else camera_layout(rig, seed=seed)
    missing = [c for c in rig.camera_names if c not in cams.names]
    if missing:
        raise InputError(
            f"the layout has no camera(s) {missing} of rig {rig.name!r}; "
            f"it has {cams.names} — give a calibration of the same rig"
        )
    cams = cams.subset(rig.camera_names)
    keypoints = [k for k in rig.keypoints if k in KEYPOINTS]
    unknown = [k for k in rig.keypoints if k not in KEYPOINTS]
    if unknown:
        raise InputError(
            f"the simulated mouse has no landmark(s) {unknown}; it has {list(KEYPOINTS)}"
        )
    rng = np.random.default_rng(seed)
    errors: list[np.ndarray] = []  # (draws·frames, K) per jump
    views: list[np.ndarray] = []  # (frames, K)
    for j in range(n_jumps):
        report(progress, j, n_jumps, "plan")
        jump = Jump(draw_trial(group_by_name(group), int(rng.integers(2**31))))
        ev = jump.events
        times = np.arange(ev.onset - _MARGIN_S, ev.recovery_end + _MARGIN_S, 1.0 / rig.fps)
        truth, uv, vis = project_truth(cams, jump, times, keypoints)
        seen = vis & np.stack([c.in_image(p) for c, p in zip(cams, uv, strict=True)])
        views.append(seen.sum(axis=0))
        clean = np.where(seen[..., None], uv, np.nan)  # (C, n, K, 2)
        noisy = clean[:, None] + rng.normal(0.0, noise_px, size=(len(cams), n_draws, *uv.shape[1:]))
        n = len(times)
        pos = noisy.reshape(len(cams), n_draws * n, len(keypoints), 2)
        pos = np.moveaxis(pos, -1, 2)[..., None]  # (view, time, space, keypoint, individual)
        p2d = make_poses2d(pos, views=cams.names, keypoints=keypoints, fps=rig.fps)
        p3d = triangulate(p2d, cams, method="dlt")
        est = p3d.position.transpose("time", "keypoint", "individual", "space").values[:, :, 0]
        true = np.tile(truth, (n_draws, 1, 1))
        errors.append(np.linalg.norm(est - true, axis=-1))
    report(progress, n_jumps, n_jumps, "plan")
    err = np.concatenate(errors)
    nv = np.concatenate(views)
    landmarks = []
    for k, kp in enumerate(keypoints):
        e = err[:, k][np.isfinite(err[:, k])]
        landmarks.append(
            LandmarkPlan(
                keypoint=kp,
                error_median_mm=float(np.median(e)) if e.size else float("nan"),
                error_p95_mm=float(np.percentile(e, 95)) if e.size else float("nan"),
                under_two_views=float(np.mean(nv[:, k] < 2)),
                mean_views=float(np.mean(nv[:, k])),
            )
        )
    return RigPlan(rig.name, cams.names, float(noise_px), n_jumps, n_draws, landmarks)


def plan_table(plan: RigPlan) -> list[Sequence[str]]:
    """Rows of the planner's table: landmark, median and p95 error (mm), % frames < 2 views."""
    return [
        (
            lm.keypoint,
            f"{lm.error_median_mm:.3f}",
            f"{lm.error_p95_mm:.3f}",
            f"{100 * lm.under_two_views:.1f}",
            f"{lm.mean_views:.2f}",
        )
        for lm in plan.landmarks
    ]
