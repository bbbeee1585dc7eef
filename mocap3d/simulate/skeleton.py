"""A mouse skeleton: bone lengths of a ~25 g mouse and forward kinematics from joint angles.

The model is planar per side: the labelled hindlimb's skin markers (iliac crest, hip, knee,
ankle, MTP, toe) lie in a sagittal plane at ``y = +limb_offset`` (the animal's left side); the
right hindlimb mirrors it at ``y = -limb_offset``. Because the chain is planar, the flexion
angles of the rig (hip = iliac_crest–hip–knee, knee = hip–knee–ankle, ankle = knee–ankle–mtp,
mtp = ankle–mtp–toe) computed from the 3D keypoints equal the model's joint angles exactly.

A posture (all angles in radians, arrays of shape ``(n,)`` over time) is

``metatarsus``
    absolute direction of the MTP → ankle segment in the sagittal (x, z) plane, measured from
    +x towards +z (π − 15° is a foot resting with the heel 15° above the MTP);
``extension``
    one number in [0, 1] that opens hip, knee and ankle together from a crouch (0) to full
    extension (1) along :class:`LegFamily`;
``trunk_pitch``, ``head_pitch``
    absolute pitch of the back (iliac crest → withers) and of the head, up positive;
``forelimb``
    angle of the forelimb from straight down, forward positive;
``tail``
    pitch of the tail from horizontal-backward, up positive.

The toe segment (MTP → toe) always points forward, parallel to the ground. Points are
returned relative to the MTP marker; :func:`centre_of_mass` uses fixed weights over body
points (forepaws and tail tip excluded, so that ground clamping of those does not move it).

Coordinates: x forward, y left, z up, mm (the world frame of :mod:`rig_geometry` before the
trial's heading and placement).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

import numpy as np

from mocap3d.errors import InputError

KEYPOINTS = (
    "nose",
    "eye",
    "forepaw",
    "iliac_crest",
    "hip",
    "knee",
    "ankle",
    "mtp",
    "toe",
    "tail_base",
)
"""The landmarks the simulator models (the seed rig's skeleton)."""

FLEXION_ANGLES: Mapping[str, tuple[str, str, str]] = {
    "hip": ("iliac_crest", "hip", "knee"),
    "knee": ("hip", "knee", "ankle"),
    "ankle": ("knee", "ankle", "mtp"),
    "mtp": ("ankle", "mtp", "toe"),
}

# fixed weights of the centre of mass (sum 1); points named as in body_points()
COM_WEIGHTS: Mapping[str, float] = {
    "trunk_centre": 0.66,
    "head_centre": 0.10,
    "thigh_l": 0.06,
    "thigh_r": 0.06,
    "shank_l": 0.025,
    "shank_r": 0.025,
    "foot_l": 0.01,
    "foot_r": 0.01,
    "tail_base": 0.04,
}
N_TAIL = 6


@dataclass(frozen=True)
class MouseBody:
    """Bone lengths (mm), body shape radii (mm) and mass of a mouse.

    Defaults are those of a ~25 g adult C57BL/6 mouse. :meth:`scaled` gives a larger or
    smaller animal with the same proportions (mass ∝ length³).
    """

    mass_g: float = 25.0
    toe: float = 5.5  # MTP → toe tip
    metatarsus: float = 9.0  # MTP → ankle
    shank: float = 17.0  # ankle → knee (tibia)
    thigh: float = 15.0  # knee → hip (femur)
    pelvis: float = 9.0  # hip → iliac crest
    limb_offset: float = 9.0  # lateral (y) distance of the hindlimb marker plane
    back: float = 40.0  # iliac crest (midline) → withers
    tail_base: float = 9.0  # iliac crest (midline) → tail base
    tail: float = 75.0
    neck: float = 6.0  # withers → occiput
    head: float = 22.0  # occiput → nose tip
    eye_back: float = 9.0  # nose tip → eye, along the head
    eye_up: float = 3.0
    eye_side: float = 5.0
    shoulder_back: float = 7.0  # withers → shoulder, along the back
    shoulder_down: float = 11.0
    shoulder_side: float = 6.0
    forelimb: float = 15.0  # shoulder → forepaw
    trunk_width: float = 11.0  # trunk radii
    trunk_height: float = 10.0
    marker_height: float = 1.2  # marker centre above the ground when the foot is planted

    def scaled(self, factor: float) -> MouseBody:
        """All lengths × ``factor``, mass × ``factor³``."""
        if not factor > 0:
            raise InputError(f"body scale factor must be > 0, found {factor}")
        changes = {
            f.name: getattr(self, f.name) * factor for f in fields(self) if f.name != "mass_g"
        }
        return replace(self, mass_g=self.mass_g * factor**3, **changes)

    @property
    def mass_kg(self) -> float:
        return self.mass_g / 1000.0


@dataclass(frozen=True)
class LegFamily:
    """Hip, knee and ankle flexion angles (deg) from crouched (extension 0) to extended (1).

    Angles interpolate linearly in ``extension``; 180° is a straight joint.
    """

    hip: tuple[float, float] = (45.0, 150.0)
    knee: tuple[float, float] = (35.0, 150.0)
    ankle: tuple[float, float] = (30.0, 150.0)

    def angles(self, extension: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(hip, knee, ankle) in radians for ``extension`` (any shape)."""
        e = np.asarray(extension, dtype=np.float64)
        return tuple(  # type: ignore[return-value]
            np.radians(lo + (hi - lo) * e) for lo, hi in (self.hip, self.knee, self.ankle)
        )


@dataclass(frozen=True)
class Posture:
    """Posture parameters over time, each ``(n,)`` radians (``extension`` unitless)."""

    metatarsus: np.ndarray
    extension: np.ndarray
    trunk_pitch: np.ndarray
    head_pitch: np.ndarray
    forelimb: np.ndarray
    tail: np.ndarray

    def __post_init__(self) -> None:
        n = None
        for f in fields(self):
            a = np.atleast_1d(np.asarray(getattr(self, f.name), dtype=np.float64))
            if n is None:
                n = a.shape
            if a.shape != n:
                raise InputError(f"posture field {f.name} has shape {a.shape}, expected {n}")
            object.__setattr__(self, f.name, a)

    def __len__(self) -> int:
        return len(self.extension)

    def take(self, index: np.ndarray | slice) -> Posture:
        return Posture(**{f.name: getattr(self, f.name)[index] for f in fields(self)})


def _dir(angle: np.ndarray) -> np.ndarray:
    """Unit vectors (n, 3) in the x–z plane at ``angle`` from +x towards +z."""
    return np.stack([np.cos(angle), np.zeros_like(angle), np.sin(angle)], axis=-1)


def body_points(
    body: MouseBody, posture: Posture, family: LegFamily = LegFamily()
) -> dict[str, np.ndarray]:
    """Forward kinematics: every named body point ``(n, 3)`` mm, relative to the left MTP marker.

    Returns the 10 keypoints (left side) plus the right hindlimb (``*_r``), the right eye and
    forepaw, shoulders, ears, withers, occiput, head and trunk centres, segment midpoints used
    by the centre of mass, and ``tail_0`` … ``tail_6`` along the tail.
    """
    p = posture
    n = len(p)
    hip_a, knee_a, ankle_a = family.angles(p.extension)
    a_mt = p.metatarsus
    a_sh = a_mt + np.pi + ankle_a
    a_th = a_sh + np.pi - knee_a
    a_pv = a_th + np.pi + hip_a
    side = np.array([0.0, body.limb_offset, 0.0])
    pts: dict[str, np.ndarray] = {}
    mtp = np.zeros((n, 3))
    pts["mtp"] = mtp
    pts["toe"] = mtp + np.array([body.toe, 0.0, 0.0])
    pts["ankle"] = mtp + body.metatarsus * _dir(a_mt)
    pts["knee"] = pts["ankle"] + body.shank * _dir(a_sh)
    pts["hip"] = pts["knee"] + body.thigh * _dir(a_th)
    pts["iliac_crest"] = pts["hip"] + body.pelvis * _dir(a_pv)
    for name in ("mtp", "toe", "ankle", "knee", "hip", "iliac_crest"):
        pts[name + "_r"] = pts[name] - 2 * side
    ic_mid = pts["iliac_crest"] - side
    pts["ic_mid"] = ic_mid
    u_t = _dir(p.trunk_pitch)
    n_t = _dir(p.trunk_pitch + np.pi / 2)
    withers = ic_mid + body.back * u_t
    pts["withers"] = withers
    pts["trunk_centre"] = ic_mid + 0.5 * body.back * u_t - 0.8 * body.trunk_height * n_t
    pts["tail_base"] = ic_mid + body.tail_base * _dir(p.trunk_pitch + np.pi + 0.35)
    # head
    occiput = withers + body.neck * _dir(p.trunk_pitch + 0.3)
    u_h, n_h = _dir(p.head_pitch), _dir(p.head_pitch + np.pi / 2)
    pts["occiput"] = occiput
    pts["nose"] = occiput + body.head * u_h - 2.0 * n_h
    eye_base = pts["nose"] - body.eye_back * u_h + body.eye_up * n_h
    pts["eye"] = eye_base + np.array([0.0, body.eye_side, 0.0])
    pts["eye_r"] = eye_base - np.array([0.0, body.eye_side, 0.0])
    pts["head_centre"] = occiput + 0.45 * body.head * u_h - 1.0 * n_h
    ear = occiput + 2.0 * u_h + 3.5 * n_h
    pts["ear"] = ear + np.array([0.0, 4.5, 0.0])
    pts["ear_r"] = ear - np.array([0.0, 4.5, 0.0])
    # forelimbs (paw height is clamped at the ground by the caller)
    shoulder = withers - body.shoulder_back * u_t - body.shoulder_down * n_t
    fore = body.forelimb * _dir(-np.pi / 2 + p.forelimb)
    for suffix, sign in (("", 1.0), ("_r", -1.0)):
        s = shoulder + sign * np.array([0.0, body.shoulder_side, 0.0])
        pts["shoulder" + suffix] = s
        pts["forepaw" + suffix] = s + fore
    # segment midpoints for the centre of mass
    for suffix in ("", "_r"):
        tag = "_l" if suffix == "" else "_r"
        pts["thigh" + tag] = 0.5 * (pts["hip" + suffix] + pts["knee" + suffix])
        pts["shank" + tag] = 0.5 * (pts["knee" + suffix] + pts["ankle" + suffix])
        pts["foot" + tag] = 0.5 * (pts["ankle" + suffix] + pts["mtp" + suffix])
    # tail: a gentle curve from the tail base
    seg = body.tail / N_TAIL
    pts["tail_0"] = pts["tail_base"]
    angle = np.pi + p.tail
    for i in range(1, N_TAIL + 1):
        angle = angle - 0.10 * (i / N_TAIL)  # droops towards the tip
        pts[f"tail_{i}"] = pts[f"tail_{i - 1}"] + seg * _dir(angle)
    return pts


def centre_of_mass(points: Mapping[str, np.ndarray]) -> np.ndarray:
    """Centre of mass ``(n, 3)`` mm: the fixed weighting :data:`COM_WEIGHTS` of body points."""
    return sum(w * points[name] for name, w in COM_WEIGHTS.items())  # type: ignore[return-value]


def flexion_angle(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Angle at ``b`` between ``b→a`` and ``b→c`` (radians; π = straight), for ``(..., 3)``.

    NaN in any point gives NaN.
    """
    u = np.asarray(a, float) - b
    v = np.asarray(c, float) - b
    cos = np.sum(u * v, axis=-1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))
    return np.arccos(np.clip(cos, -1.0, 1.0))


def joint_angles(points: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Hip, knee, ankle and MTP flexion angles (radians) from keypoints ``(n, 3)``."""
    return {
        name: flexion_angle(points[a], points[b], points[c])
        for name, (a, b, c) in FLEXION_ANGLES.items()
    }


def check_keypoints(keypoints: list[str], *, where: str) -> None:
    """Raise :class:`InputError` if the rig asks for landmarks the simulator does not model."""
    unknown = [k for k in keypoints if k not in KEYPOINTS]
    if unknown:
        raise InputError(
            f"{where}: the simulator models the landmarks {list(KEYPOINTS)}; "
            f"it cannot produce {unknown} — use a rig whose skeleton.keypoints are a subset"
        )
