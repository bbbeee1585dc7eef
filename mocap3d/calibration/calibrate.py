"""From board footage to a calibration and its quality report: the whole job in one call.

:func:`calibrate_footage` (videos or image folders per camera), :func:`calibrate_project`
(a project folder and its rig) and :func:`calibrate_observations` (corners already detected)
run detection → intrinsics per camera → pose chain and bundle adjustment → world frame →
quality report, and return a :class:`CalibrationResult`. Nothing is written until
:meth:`CalibrationResult.save`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mocap3d._version import __version__
from mocap3d.calibration.board import BoardSpec
from mocap3d.calibration.bundle import BundleOptions, BundleReport, bundle_adjust
from mocap3d.calibration.detect import CameraDetections, DetectorOptions, detect_cameras
from mocap3d.calibration.intrinsics import (
    FISHEYE_LEVELS,
    PINHOLE_LEVELS,
    IntrinsicsResult,
    calibrate_intrinsics,
)
from mocap3d.calibration.observations import as_array, board_observations, frame_keys_from_logs
from mocap3d.calibration.poses import invert_T
from mocap3d.calibration.quality import QualityReport, assess_calibration
from mocap3d.calibration.world import (
    board_pose_from_views,
    world_from_board,
    world_from_points,
)
from mocap3d.camera import CameraGroup, LensModel
from mocap3d.errors import InputError
from mocap3d.progress import Progress, report


@dataclass(frozen=True)
class WorldFrame:
    """Where the world origin and axes go.

    Attributes
    ----------
    kind : {"camera", "board_on_platform", "reference_points"}
        ``camera``: the reference camera's frame. ``board_on_platform``: the board lying on
        the platform in frame ``platform_frame`` (see :mod:`mocap3d.calibration.world`).
        ``reference_points``: named points of known coordinates.
    platform_frame : int
        Frame key of the board lying on the platform.
    board_thickness_mm : float
    pixels, world_mm : mappings
        Reference points: pixel positions per point and camera, and world coordinates.
    """

    kind: Literal["camera", "board_on_platform", "reference_points"] = "camera"
    platform_frame: int = 0
    board_thickness_mm: float = 0.0
    pixels: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    world_mm: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CalibrationOptions:
    """Knobs of the whole calibration (each step has its own options object)."""

    stride: int = 1
    detector: DetectorOptions = field(default_factory=DetectorOptions)
    min_views: int = 3
    max_views_intrinsics: int = 40
    max_std_px: float = 1.0
    bundle: BundleOptions = field(default_factory=BundleOptions)


@dataclass(frozen=True)
class CalibrationResult:
    """A calibration and the evidence for it.

    Attributes
    ----------
    cameras : CameraGroup
        The calibration (world frame as asked, mm).
    intrinsics : dict of str to IntrinsicsResult
    bundle : BundleReport
        Board poses in ``bundle.board_to_world`` are in the final world frame.
    quality : QualityReport
    observations : xarray.DataArray
        The corners used, dims ``(view, frame, corner, space)``.
    spec : BoardSpec
    detections : dict of str to CameraDetections, optional
    """

    cameras: CameraGroup
    intrinsics: dict[str, IntrinsicsResult]
    bundle: BundleReport
    quality: QualityReport
    observations: Any
    spec: BoardSpec
    detections: dict[str, CameraDetections] | None = None

    def summary(self) -> dict[str, Any]:
        """Calibration facts for ``quality.json`` and the command line."""
        errs = self.bundle.errors[np.isfinite(self.bundle.errors)]
        return {
            "calibrated_by": f"mocap3d {__version__}",
            "board": self.spec.to_dict(),
            "reference_camera": self.bundle.reference_camera,
            "world_frame": self.cameras.metadata.get("world_frame", "camera"),
            "reprojection_rms_px": float(np.sqrt(np.mean(errs**2))) if errs.size else None,
            "pose_chain": self.bundle.tree,
            "camera_pairs": self.bundle.pairs,
            "bundle_iterations": self.bundle.iterations,
            "bundle_seconds": round(self.bundle.seconds, 3),
        }

    def save(self, path: str | Path, *, report_dir: str | Path | None = None) -> list[Path]:
        """Write ``calibration.toml`` (Anipose) and the quality report; returns the paths.

        The report goes to ``report_dir`` (default ``<path stem>-report/`` beside ``path``).
        """
        from mocap3d.calibration.figures import write_quality_report

        path = Path(path)
        folder = Path(report_dir) if report_dir else path.with_name(f"{path.stem}-report")
        written = write_quality_report(
            self.quality, folder, observations=self.observations, summary=self.summary()
        )
        self.cameras.save(path)
        return [path, *written]


def _free_intrinsics(result: IntrinsicsResult) -> list[int]:
    levels = PINHOLE_LEVELS if result.camera.model == "pinhole" else FISHEYE_LEVELS
    terms = next(free for label, free, _ in levels if label == result.parameters)
    return [0, 1, 2, 3] + [4 + d for d in terms]


def calibrate_observations(
    observations: Any,
    spec: BoardSpec,
    *,
    lenses: Mapping[str, LensModel] | None = None,
    reference_camera: str | None = None,
    world: WorldFrame = WorldFrame(),
    options: CalibrationOptions = CalibrationOptions(),
    detections: dict[str, CameraDetections] | None = None,
    progress: Progress | None = None,
) -> CalibrationResult:
    """Calibrate from detected corners (dims ``(view, frame, corner, space)``).

    ``lenses`` gives each camera's model (default pinhole); image sizes come from the
    observations' ``image_sizes`` attribute.
    """
    names = [str(v) for v in observations.coords["view"].values]
    sizes = observations.attrs.get("image_sizes", {})
    uv = as_array(observations)
    intrinsics: dict[str, IntrinsicsResult] = {}
    for c, name in enumerate(names):
        report(progress, c, len(names), "intrinsics")
        if name not in sizes:
            raise InputError(f"observations lack the image size of camera {name!r}")
        seen = np.any(np.isfinite(uv[c, :, :, 0]), axis=1)
        intrinsics[name] = calibrate_intrinsics(
            name,
            uv[c, seen],
            spec,
            tuple(sizes[name]),
            model=(lenses or {}).get(name, "pinhole"),
            max_views=options.max_views_intrinsics,
            max_std_px=options.max_std_px,
        )
    report(progress, len(names), len(names), "intrinsics")
    group0 = CameraGroup(tuple(intrinsics[n].camera for n in names))
    group, bundle = bundle_adjust(
        group0,
        observations,
        spec,
        reference_camera=reference_camera,
        free_intrinsics={n: _free_intrinsics(r) for n, r in intrinsics.items()},
        options=options.bundle,
        progress=progress,
    )
    group, bundle = _apply_world(group, bundle, observations, spec, world)
    meta = {
        "calibrated_by": f"mocap3d {__version__}",
        "board": spec.name or "board",
        "square_length_mm": spec.square_length_mm,
        "reference_camera": bundle.reference_camera,
        "world_frame": world.kind,
        "reprojection_rms_px": float(np.sqrt(np.nanmean(bundle.errors**2)))
        if np.any(np.isfinite(bundle.errors))
        else None,
    }
    group = group.replace(metadata={**dict(group.metadata), **meta})
    quality = assess_calibration(group, observations, spec, bundle, intrinsics)
    return CalibrationResult(group, intrinsics, bundle, quality, observations, spec, detections)


def _apply_world(
    group: CameraGroup, bundle: BundleReport, observations: Any, spec: BoardSpec, world: WorldFrame
) -> tuple[CameraGroup, BundleReport]:
    if world.kind == "camera":
        return group, bundle
    old = group
    if world.kind == "board_on_platform":
        keys = np.asarray(bundle.frames)
        hit = np.flatnonzero(keys == world.platform_frame)
        if hit.size:
            T_board = bundle.board_to_world[hit[0]]
        else:
            frames = np.asarray(observations.coords["frame"].values)
            if world.platform_frame not in frames:
                raise InputError(
                    f"world frame: no camera sees the board in frame {world.platform_frame} "
                    "(the frame that should show it lying on the platform); give the right "
                    "frame (--platform-frame) or another world frame (--world camera)"
                )
            sel = observations.sel(frame=world.platform_frame)
            corners = {str(v): sel.sel(view=v).values for v in sel.coords["view"].values}
            T_board = board_pose_from_views(group, corners, spec)
        group = world_from_board(group, T_board, spec, thickness_mm=world.board_thickness_mm)
    elif world.kind == "reference_points":
        group = world_from_points(group, world.pixels, world.world_mm)
    else:
        raise InputError(f"unknown world frame {world.kind!r}")
    T_new_old = invert_T(_T_world(group)) @ _T_world(old)
    poses = np.einsum("ij,njk->nik", T_new_old, bundle.board_to_world)
    return group, dataclasses.replace(bundle, board_to_world=poses)


def _T_world(group: CameraGroup) -> np.ndarray:
    """World → first camera transform."""
    from mocap3d.calibration.poses import make_T

    return make_T(group[0].R, group[0].t)


def calibrate_footage(
    footage: Mapping[str, str | Path],
    spec: BoardSpec,
    *,
    lenses: Mapping[str, LensModel] | None = None,
    frame_keys: Mapping[str, Any] | None = None,
    reference_camera: str | None = None,
    world: WorldFrame = WorldFrame(),
    options: CalibrationOptions = CalibrationOptions(),
    cache_dir: str | Path | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> CalibrationResult:
    """Calibrate cameras from their board footage (videos or image folders).

    Parameters
    ----------
    footage : mapping of str to path
        Camera name → video file or image folder.
    spec : BoardSpec
    lenses : mapping of str to {"pinhole", "fisheye"}, optional
    frame_keys : mapping of str to (n_frames,) int array, optional
        Keys pairing frames across cameras that are not triggered together; default: frame
        logs beside the footage (``<camera>.frames.csv``), else the frame index.
    reference_camera : str, optional
    world : WorldFrame
    options : CalibrationOptions
    cache_dir : path, optional
        Detection cache (None: no cache).
    workers : int, optional
        Detection threads.
    progress : Progress, optional

    Raises
    ------
    InputError
        Unreadable footage, mixed image sizes, no board in a camera (with a diagnosis of the
        board spec), cameras that never share a frame, a wrong world-frame request.
    """
    if len(footage) < 2:
        raise InputError(f"calibration needs footage of at least two cameras, got {list(footage)}")
    detections = detect_cameras(
        footage,
        spec,
        stride=options.stride,
        options=options.detector,
        workers=workers,
        cache_dir=cache_dir,
        min_views=options.min_views,
        progress=progress,
    )
    keys = dict(frame_keys_from_logs(footage))
    keys.update(frame_keys or {})
    observations = board_observations(detections, frame_keys=keys or None)
    return calibrate_observations(
        observations,
        spec,
        lenses=lenses,
        reference_camera=reference_camera,
        world=world,
        options=options,
        detections=detections,
        progress=progress,
    )


def calibrate_project(
    project: Any,
    *,
    world: WorldFrame | None = None,
    options: CalibrationOptions = CalibrationOptions(),
    workers: int | None = None,
    use_cache: bool = True,
    progress: Progress | None = None,
) -> CalibrationResult:
    """Calibrate a project's rig from ``calibration/footage/`` (see :mod:`mocap3d.io.project`).

    The rig gives the cameras, their lens models, the board and the reference camera; the
    world frame defaults to the rig's ``calibration.world_frame`` (reference points are read
    from ``calibration/reference_points.toml``).
    """
    rig = project.rig()
    footage = {name: project.camera_footage(name) for name in rig.camera_names}
    if world is None:
        kind = rig.calibration.world_frame
        if kind == "reference_points":
            from mocap3d.calibration.world import load_reference_points

            pixels, world_mm = load_reference_points(
                project.calibration_dir / "reference_points.toml"
            )
            world = WorldFrame(kind="reference_points", pixels=pixels, world_mm=world_mm)
        else:
            world = WorldFrame(kind=kind)
    return calibrate_footage(
        footage,
        rig.board,
        lenses={c.name: c.lens for c in rig.cameras},
        reference_camera=rig.calibration.reference_camera,
        world=world,
        options=options,
        workers=workers,
        progress=progress,
        cache_dir=project.calibration_dir / ".cache" if use_cache else None,
    )
