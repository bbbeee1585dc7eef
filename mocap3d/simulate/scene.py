"""The mouse as shaded 3D ellipsoids, built from the skeleton's points, and the arena floor.

Every body part is an ellipsoid (spheres for eyes, nose, paws and skin markers) with a grey
level (albedo) and a fur texture that moves with the body. The labelled side's skin markers
(white dots, as labs paint them over joints) are spheres centred *on* the keypoints; the limb
ellipsoids run just medial of the marker plane, so that a marker shows as a half-sphere on the
limb's lateral surface. Nose, eye and forepaw keypoints are the centres of the nose tip, eye
and paw spheres.

Arrays carry a leading time axis: ``centres (n, P, 3)``, ``axes (n, P, 3, 3)`` (rows are the
unit axes), ``radii (n, P, 3)`` in mm, world frame.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from mocap3d.simulate.skeleton import KEYPOINTS, N_TAIL

FUR, SKIN, EYE, MARKER, EAR = 0.16, 0.62, 0.04, 0.97, 0.45
MARKER_RADIUS = 1.0
FEATURE_RADIUS = {"nose": 1.3, "eye": 1.4, "forepaw": 1.5}


@dataclass(frozen=True)
class Primitives:
    """Ellipsoids over time (see the module docstring) and their appearance (per primitive)."""

    names: tuple[str, ...]
    centres: np.ndarray
    axes: np.ndarray
    radii: np.ndarray
    albedo: np.ndarray  # (P,)
    texture: np.ndarray  # (P,) fur texture contrast, 0 for none
    keypoint_feature: Mapping[str, int]  # keypoint → index of its marker/feature primitive

    def __len__(self) -> int:
        return len(self.names)

    def frame(self, i: int) -> Primitives:
        """One time step (leading axis of length 1)."""
        s = slice(i, i + 1)
        return Primitives(
            self.names,
            self.centres[s],
            self.axes[s],
            self.radii[s],
            self.albedo,
            self.texture,
            self.keypoint_feature,
        )

    def replace_albedo(self, index: list[int], value: float) -> Primitives:
        alb = self.albedo.copy()
        alb[index] = value
        return Primitives(
            self.names,
            self.centres,
            self.axes,
            self.radii,
            alb,
            self.texture,
            self.keypoint_feature,
        )


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


class _Builder:
    def __init__(self, n: int, lateral: np.ndarray):
        self.n = n
        self.lateral = lateral  # (n, 3) unit vector to the animal's left
        self.names: list[str] = []
        self.c: list[np.ndarray] = []
        self.ax: list[np.ndarray] = []
        self.r: list[np.ndarray] = []
        self.alb: list[float] = []
        self.tex: list[float] = []

    def segment(
        self,
        name: str,
        a: np.ndarray,
        b: np.ndarray,
        r_side: float,
        r_up: float,
        albedo: float,
        *,
        overlap: float = 1.0,
        texture: float = 0.25,
        shift: np.ndarray | None = None,
    ) -> None:
        """An ellipsoid along a → b (long radius half the length + ``overlap``)."""
        u = _unit(b - a)
        side = _unit(self.lateral - np.sum(self.lateral * u, axis=-1, keepdims=True) * u)
        up = np.cross(u, side)
        half = 0.5 * np.linalg.norm(b - a, axis=-1) + overlap
        centre = 0.5 * (a + b) + (0.0 if shift is None else shift)
        radii = np.stack([half, np.full(self.n, r_side), np.full(self.n, r_up)], axis=-1)
        self._add(name, centre, np.stack([u, side, up], axis=1), radii, albedo, texture)

    def sphere(self, name: str, c: np.ndarray, r: float, albedo: float, texture: float = 0.0):
        eye = np.broadcast_to(np.eye(3), (self.n, 3, 3))
        self._add(name, c, eye, np.full((self.n, 3), r), albedo, texture)

    def _add(
        self,
        name: str,
        centre: np.ndarray,
        axes: np.ndarray,
        radii: np.ndarray,
        albedo: float,
        texture: float,
    ) -> None:
        self.names.append(name)
        self.c.append(centre)
        self.ax.append(axes)
        self.r.append(radii)
        self.alb.append(albedo)
        self.tex.append(texture)


def mouse_primitives(points: Mapping[str, np.ndarray]) -> Primitives:
    """Ellipsoids of the mouse from :meth:`Jump.points` (``name → (n, 3)`` world mm)."""
    p = points
    n = len(p["nose"])
    lateral = _unit(p["iliac_crest"] - p["iliac_crest_r"])
    b = _Builder(n, lateral)
    # trunk: along the back, hanging below it
    back = p["withers"] - p["ic_mid"]
    down = p["trunk_centre"] - 0.5 * (p["withers"] + p["ic_mid"])
    b.segment(
        "trunk",
        p["ic_mid"] - 0.18 * back,
        p["withers"] + 0.12 * back,
        10.5,
        10.0,
        FUR,
        overlap=2.0,
        shift=down,
    )
    b.segment(
        "neck",
        p["withers"] - 0.1 * back,
        p["occiput"],
        7.5,
        7.0,
        FUR,
        overlap=3.0,
        shift=0.5 * down,
    )
    # head: cranium and snout
    snout_base = p["nose"] + 0.55 * (p["occiput"] - p["nose"])
    b.segment("cranium", p["occiput"], snout_base, 7.0, 6.5, FUR, overlap=2.0)
    b.segment("snout", snout_base, p["nose"], 4.0, 3.6, FUR, overlap=0.0)
    b.sphere("nose", p["nose"], FEATURE_RADIUS["nose"], SKIN)
    b.sphere("eye", p["eye"], FEATURE_RADIUS["eye"], EYE)
    b.sphere("eye_r", p["eye_r"], FEATURE_RADIUS["eye"], EYE)
    for suffix in ("", "_r"):
        ear_axis = _unit(p["occiput"] - p["nose"])
        b.segment(
            "ear" + suffix,
            p["ear" + suffix] - 1.5 * ear_axis,
            p["ear" + suffix] + 1.5 * ear_axis,
            0.8,
            4.0,
            EAR,
            overlap=1.5,
            texture=0.0,
        )
    # limbs (markers on the left side only)
    for suffix, sign in (("", 1.0), ("_r", -1.0)):
        shift = -sign * lateral
        b.segment(
            "forelimb" + suffix,
            p["shoulder" + suffix],
            p["forepaw" + suffix],
            2.2,
            2.4,
            FUR,
            overlap=0.5,
            shift=shift * 1.5,
        )
        b.sphere("forepaw" + suffix, p["forepaw" + suffix], FEATURE_RADIUS["forepaw"], SKIN)
        for name, a, c, r, alb in (
            ("thigh", "hip", "knee", 3.8, FUR),
            ("shank", "knee", "ankle", 2.3, FUR),
            ("foot", "ankle", "mtp", 1.5, SKIN),
            ("toes", "mtp", "toe", 1.1, SKIN),
        ):
            b.segment(
                name + suffix,
                p[a + suffix],
                p[c + suffix],
                r,
                r,
                alb,
                overlap=0.8,
                texture=0.25 if alb == FUR else 0.08,
                shift=shift * r,
            )
        b.segment(
            "pelvis" + suffix,
            p["hip" + suffix],
            p["iliac_crest" + suffix],
            3.5,
            3.5,
            FUR,
            overlap=0.5,
            shift=shift * 3.5,
        )
    # tail
    for i in range(N_TAIL):
        r = 1.7 - 1.1 * i / (N_TAIL - 1)
        b.segment(
            f"tail{i}",
            p[f"tail_{i}"],
            p[f"tail_{i + 1}"],
            r,
            r,
            0.42,
            overlap=r,
            texture=0.1,
            shift=np.array([0.0, 0.0, -r]),
        )  # marker on the tail's top
    # skin markers
    features = {
        "nose": b.names.index("nose"),
        "eye": b.names.index("eye"),
        "forepaw": b.names.index("forepaw"),
    }
    for kp in KEYPOINTS:
        if kp not in features:
            features[kp] = len(b.names)
            b.sphere("marker_" + kp, p[kp], MARKER_RADIUS, MARKER)
    return Primitives(
        names=tuple(b.names),
        centres=np.stack(b.c, axis=1),
        axes=np.stack(b.ax, axis=1),
        radii=np.stack(b.r, axis=1),
        albedo=np.array(b.alb),
        texture=np.array(b.tex),
        keypoint_feature=features,
    )


@dataclass(frozen=True)
class Arena:
    """The floor (z = 0) with the force platform inset flush; mm."""

    platform_size_mm: tuple[float, float] = (60.0, 60.0)
    floor_half_mm: float = 160.0
    floor_albedo: float = 0.72
    platform_albedo: float = 0.55
    far_albedo: float = 0.30

    def shade(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Grey level (0..1) of the floor at world (x, y); NaN-free."""
        w, h = self.platform_size_mm[0] / 2, self.platform_size_mm[1] / 2
        out = np.full(x.shape, self.floor_albedo, dtype=np.float32)
        # subtle fixed texture so the floor is not flat grey
        out += 0.03 * np.sin(0.37 * x + 1.3 * np.sin(0.11 * y)) * np.sin(0.29 * y + 0.5)
        on_plate = (np.abs(x) <= w) & (np.abs(y) <= h)
        out = np.where(on_plate, self.platform_albedo + 0.02 * np.sin(0.8 * x), out)
        gap = on_plate & ((np.abs(x) > w - 1.0) | (np.abs(y) > h - 1.0))
        out = np.where(gap, 0.15, out)
        # 10 mm ruler ticks along the platform's front edge
        tick = (np.abs(y + h + 4.0) < 2.5) & (np.abs(((x + 5.0) % 10.0) - 5.0) < 0.6)
        out = np.where(tick & (np.abs(x) < 150), 0.25, out)
        outside = (np.abs(x) > self.floor_half_mm) | (np.abs(y) > self.floor_half_mm)
        return np.where(outside, self.far_albedo, out).astype(np.float32)
