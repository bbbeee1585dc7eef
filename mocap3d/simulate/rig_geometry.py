"""Synthetic rig geometry: where a rig's cameras stand around the jump arena, and their lenses.

World frame of every simulated rig (mm): origin at the centre of the force platform's top
surface, x along the jump direction, y to the animal's left, z up. The animal takes off from
the platform and lands ``ARENA_LANDING_X`` mm ahead.

Cameras with the seed rig's names get the seed rig's places (``side_left``/``side_right`` look
across the jump, ``front`` faces the animal, ``overhead`` looks down); other names are spread
evenly on a ring. Intrinsics are chosen so the working volume fills most of the image, with
realistic distortion for the rig's lens model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from mocap3d.camera import Camera, CameraGroup
from mocap3d.errors import InputError
from mocap3d.rig import Rig

ARENA_LANDING_X = 60.0
ARENA_TARGET = np.array([35.0, 0.0, 35.0])  # mm: middle of the jump's working volume

# azimuth (deg, from +x towards +y), elevation (deg), distance factor
NAMED_POSES: Mapping[str, tuple[float, float, float]] = {
    "side_left": (90.0, 15.0, 1.0),
    "side_right": (-90.0, 15.0, 1.0),
    "front": (20.0, 25.0, 1.0),
    "overhead": (100.0, 72.0, 1.0),  # tilted sideways: the jump runs along the image width
}


@dataclass(frozen=True)
class LayoutOptions:
    """Knobs of :func:`camera_layout`.

    Attributes
    ----------
    distance_mm : float
        Camera distance from :data:`ARENA_TARGET`.
    field_of_view_mm : float
        Width of the scene (at the target distance) that fills the image width.
    distortion : bool
        Add lens distortion (pinhole: barrel k1 < 0; fisheye: Kannala–Brandt).
    jitter_deg : float
        Random perturbation of the camera directions (deg), so that no two simulated rigs are
        exactly symmetric; 0 for the nominal layout.
    """

    distance_mm: float = 350.0
    field_of_view_mm: float = 190.0
    distortion: bool = True
    jitter_deg: float = 2.0


def look_at(center: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World → camera ``R, t`` of a camera at ``center`` looking at ``target``, z up in world.

    The image's y axis points as close to world −z as possible (no roll).
    """
    z_c = np.asarray(target, float) - np.asarray(center, float)
    z_c /= np.linalg.norm(z_c)
    up = np.array([0.0, 0.0, 1.0])
    x_c = np.cross(z_c, up)
    if np.linalg.norm(x_c) < 1e-6:  # looking straight up or down: use +x as "up"
        x_c = np.cross(z_c, np.array([1.0, 0.0, 0.0]))
    x_c /= np.linalg.norm(x_c)
    y_c = np.cross(z_c, x_c)
    R = np.stack([x_c, y_c, z_c])
    return R, -R @ np.asarray(center, float)


def _direction(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    az, el = np.radians(azimuth_deg), np.radians(elevation_deg)
    return np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])


def camera_layout(
    rig: Rig,
    *,
    options: LayoutOptions = LayoutOptions(),
    seed: int = 0,
) -> CameraGroup:
    """Place the rig's cameras around the arena; returns their true calibration.

    Parameters
    ----------
    rig : Rig
        Camera names, resolutions and lens models come from here.
    options : LayoutOptions
    seed : int
        Seeds the direction jitter and the small per-camera differences of the lenses.
    """
    rng = np.random.default_rng(seed)
    others = [c.name for c in rig.cameras if c.name not in NAMED_POSES]
    cameras = []
    for spec in rig.cameras:
        if spec.name in NAMED_POSES:
            az, el, factor = NAMED_POSES[spec.name]
        else:
            az, el, factor = 360.0 * others.index(spec.name) / max(len(others), 1) + 45, 20, 1.0
        az += rng.normal(0, options.jitter_deg)
        el += rng.normal(0, options.jitter_deg)
        distance = options.distance_mm * factor
        center = ARENA_TARGET + distance * _direction(az, el)
        aim = ARENA_TARGET + rng.normal(0, options.jitter_deg, 3)  # aim a few mm off-centre
        R, t = look_at(center, aim)
        width, height = spec.resolution
        f = width * distance / options.field_of_view_mm
        f = f * (0.75 if spec.lens == "fisheye" else 1.0)
        K = np.array(
            [
                [
                    f * (1 + rng.normal(0, 0.002)),
                    0.0,
                    (width - 1) / 2 + rng.normal(0, 0.01 * width),
                ],
                [
                    0.0,
                    f * (1 + rng.normal(0, 0.002)),
                    (height - 1) / 2 + rng.normal(0, 0.01 * height),
                ],
                [0.0, 0.0, 1.0],
            ]
        )
        if not options.distortion:
            dist = np.zeros(4 if spec.lens == "fisheye" else 5)
        elif spec.lens == "fisheye":
            dist = np.array([0.05, -0.012, 0.002, 0.0]) + rng.normal(0, 0.002, 4)
        else:
            dist = np.array([-0.12, 0.08, 0.0, 0.0, 0.0]) + rng.normal(
                0, [0.01, 0.01, 5e-4, 5e-4, 0]
            )
        cameras.append(Camera(spec.name, (width, height), K, dist, spec.lens, R, t))
    return CameraGroup(tuple(cameras), {"source": "mocap3d.simulate", "seed": seed})


def scale_cameras(group: CameraGroup, factor: float) -> CameraGroup:
    """The same cameras at ``factor`` × their resolution (intrinsics scaled to match).

    Pixel centres follow OpenCV's convention, so ``c' = (c + 0.5) · factor − 0.5``. Sizes
    are rounded to even numbers (video codecs with 4:2:0 chroma need them).
    """
    if not factor > 0:
        raise InputError(f"resolution scale must be > 0, found {factor}")
    cams = []
    for c in group:
        w, h = c.size
        size = (even_size(w * factor), even_size(h * factor))
        sx, sy = size[0] / w, size[1] / h
        K = c.K.copy()
        K[0, 0] *= sx
        K[1, 1] *= sy
        K[0, 2] = (K[0, 2] + 0.5) * sx - 0.5
        K[1, 2] = (K[1, 2] + 0.5) * sy - 0.5
        cams.append(c.replace(size=size, K=K))
    return group.replace(cameras=tuple(cams))


def even_size(pixels: float) -> int:
    """The nearest even number of pixels, at least 8."""
    return max(round(pixels / 2.0) * 2, 8)
