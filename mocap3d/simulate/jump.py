"""A physically consistent mouse jump: stance → crouch → push-off → flight → landing → recovery.

The centre of mass (COM, :func:`~mocap3d.simulate.skeleton.centre_of_mass`) is the primary
trajectory. Its vertical acceleration is designed phase by phase from smooth force profiles
with closed-form integrals, so that at every instant in contact

    Fz(t) = m · (a_z(t) + g),        Fz = 0 in flight,

exactly; the takeoff velocity is therefore the push-off impulse over the mass, and the flight is
ballistic. The posture follows by inverse kinematics with the feet planted: during the crouch
and the recovery one parameter (leg extension) is solved for the COM height; during push-off
and landing two (extension and heel rise) are solved for the COM height *and* its forward
position, whose acceleration is also designed (forward speed at takeoff, braking on landing).
In flight the posture is scheduled (tuck, then reach for landing) and the COM is ballistic.

Times here are seconds from the trial's start ("trial time").
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy.interpolate import CubicHermiteSpline

from mocap3d.simulate.jump_params import TrialParams
from mocap3d.simulate.jump_profiles import Phase, smooth5
from mocap3d.simulate.skeleton import (
    KEYPOINTS,
    N_TAIL,
    LegFamily,
    MouseBody,
    Posture,
    body_points,
    centre_of_mass,
    joint_angles,
)

G = 9.81  # m/s²
_DEG = np.pi / 180.0

# posture keyframes (deg): trunk pitch, head pitch, forelimb, tail
STANCE = {"trunk_pitch": -2.0, "head_pitch": -8.0, "forelimb": 5.0, "tail": 10.0}
CROUCH = {"trunk_pitch": -6.0, "head_pitch": -12.0, "forelimb": 12.0, "tail": 4.0}
TAKEOFF = {"trunk_pitch": 30.0, "head_pitch": 15.0, "forelimb": 45.0, "tail": -8.0}
TUCK = {"trunk_pitch": 12.0, "head_pitch": 4.0, "forelimb": 55.0, "tail": 0.0}
REACH = {"trunk_pitch": -12.0, "head_pitch": -12.0, "forelimb": 35.0, "tail": 12.0}
LANDED = {"trunk_pitch": -8.0, "head_pitch": -12.0, "forelimb": 10.0, "tail": 8.0}
SCHEDULED = tuple(STANCE)
STANCE_EXTENSION = 0.3
STANCE_HEEL_DEG = 15.0
TUCK_EXTENSION, REACH_EXTENSION = 0.40, 0.80
TUCK_METATARSUS_DEG, REACH_METATARSUS_DEG = 120.0, 125.0


@dataclass(frozen=True)
class JumpEvents:
    """Event times of a jump, s of trial time."""

    onset: float  # the centre of mass starts to move (crouch begins)
    pushoff_start: float
    takeoff: float
    landing: float
    landing_end: float
    recovery_end: float

    def as_dict(self) -> dict[str, float]:
        return dict(self.__dict__)


def _ramp(t: np.ndarray, keys: Sequence[tuple[float, float]]) -> np.ndarray:
    """Piecewise smooth (C2) moves between keyframes ``(time, value)``; flat outside."""
    out = np.full(t.shape, keys[0][1], dtype=np.float64)
    for (t0, v0), (t1, v1) in itertools.pairwise(keys):
        u = (t - t0) / max(t1 - t0, 1e-12)
        out = np.where(t >= t0, v0 + (v1 - v0) * smooth5(u), out)
    return out


class Jump:
    """One simulated jump (see the module docstring). Build it from a trial's parameters.

    Parameters
    ----------
    params : TrialParams
    body : MouseBody
    family : LegFamily
    """

    def __init__(
        self, params: TrialParams, body: MouseBody = MouseBody(), family: LegFamily = LegFamily()
    ):
        self.params = params
        self.body = body
        self.family = family
        self.mass = body.mass_kg
        p = params
        h = body.marker_height
        self._anchor0 = np.array([p.start_x_mm, body.limb_offset, h])
        self._gamma_s = STANCE_HEEL_DEG * _DEG
        stance = self._posture(np.zeros(1), STANCE_EXTENSION, np.pi - self._gamma_s, key=STANCE)
        self._com_s = self._anchor0 + self._com_rel(stance)[0]
        # ----------------------------------------------------------------- contact phases (takeoff)
        t_on = p.onset_s
        t_ce = t_on + p.crouch_duration_s
        t_p = t_ce + p.hold_s
        t_to = t_p + p.pushoff_duration_s
        z_s = self._com_s[2] / 1000.0
        d_c = p.crouch_depth_mm / 1000.0
        crouch = Phase("crouch", t_on, p.crouch_duration_s, z0=z_s)
        crouch.az = {"C": -2 * np.pi * d_c / p.crouch_duration_s**2}
        hold = Phase("hold", t_ce, p.hold_s, z0=z_s - d_c)
        # x at push-off start comes from the crouched posture (1-DOF phase)
        self._phases = [crouch, hold]
        self.events_partial = (t_on, t_ce, t_p, t_to)
        x_p = self._solve_1dof(np.array([t_p - 1e-9]))[1][0, 0] / 1000.0
        push = Phase("pushoff", t_p, p.pushoff_duration_s, z0=z_s - d_c, x0=x_p)
        push.az = {"1": 0.0, "S": -G, "B": 2 * p.takeoff_speed_z / p.pushoff_duration_s + G}
        push.ax = {"B": 2 * p.takeoff_speed_x / p.pushoff_duration_s}
        self._phases.append(push)
        z_to, vz_to = push.z_end(), push.vz_end()
        x_to, vx_to = push.x_end(), push.vx_end()
        self.takeoff_speed = np.array([vx_to, vz_to])
        self._pushoff_coarse = self._solve_2dof_sequential(push, self._anchor0)
        # ----------------------------------------------------------------- flight
        flight = Phase("flight", t_to, 1.0, z0=z_to, vz0=vz_to, x0=x_to, vx0=vx_to)
        flight.az = {"1": -G}
        flight.ax = {}
        self._phases.append(flight)
        e_to, g_to = self._pushoff_coarse[-1][1:]
        de, dg = self._takeoff_rates(push)
        reach = self._posture(np.zeros(1), REACH_EXTENSION, REACH_METATARSUS_DEG * _DEG, key=REACH)
        c = self._com_rel(reach)[0, 2] / 1000.0
        # mtp height = COM height − c reaches the marker height at touchdown
        disc = vz_to**2 + 2 * G * (z_to - c - h / 1000.0)
        t_land = t_to + (vz_to + np.sqrt(disc)) / G
        span = t_land - t_to
        t_mid, t_prep = t_to + 0.4 * span, t_to + 0.8 * span
        self._flight_keys = (t_to, t_mid, t_prep)
        self._flight_e = CubicHermiteSpline(
            [t_to, t_mid, t_prep], [e_to, TUCK_EXTENSION, REACH_EXTENSION], [de, 0.0, 0.0]
        )
        a_to = np.pi - g_to
        self._flight_a = CubicHermiteSpline(
            [t_to, t_mid, t_prep],
            [a_to, TUCK_METATARSUS_DEG * _DEG, REACH_METATARSUS_DEG * _DEG],
            [-dg, 0.0, 0.0],
        )
        flight.duration = span
        # ----------------------------------------------------------------- landing and recovery
        z_l, vz_l = flight.z_end(), flight.vz_end()
        x_l, vx_l = flight.x_end(), flight.vx_end()
        com_l = np.array([[x_l * 1000.0, 0.0, z_l * 1000.0]])
        self._anchor1 = (com_l - self._com_rel(self._flight_posture(np.array([t_land]))))[0]
        self._anchor1[1] = body.limb_offset
        self._anchor1[2] = h  # exact (the root of the touchdown equation)
        # landing: the COM comes to rest ``landing_squat_mm`` below its stance height;
        # Δz = D·v/2 − (3/28)·g·D² for the profile below; solved for the duration D
        depth = z_l - (z_s - p.landing_squat_mm / 1000.0)
        a = 3 / 28 * G
        d_l = float((vz_l / 2 + np.sqrt(vz_l**2 / 4 + 4 * a * depth)) / (2 * a))
        t_le = t_land + d_l
        landing = Phase("landing", t_land, d_l, z0=z_l, vz0=vz_l, x0=x_l, vx0=vx_l)
        landing.az = {"1": -G, "S": G, "B": -2 * vz_l / d_l + G}
        landing.ax = {"B": -2 * vx_l / d_l}
        self._phases.append(landing)
        self.events = JumpEvents(t_on, t_p, t_to, t_land, t_le, t_le + p.recovery_duration_s)
        self._landing_coarse = self._solve_2dof_sequential(landing, self._anchor1)
        d_r = z_s - landing.z_end()
        recovery = Phase("recovery", t_le, p.recovery_duration_s, z0=landing.z_end())
        recovery.az = {"C": 2 * np.pi * d_r / p.recovery_duration_s**2}
        self._phases.append(recovery)
        self._gamma_le = self._landing_coarse[-1][2]

    # ------------------------------------------------------------------ public
    @property
    def takeoff_velocity(self) -> np.ndarray:
        """COM velocity at takeoff (3,), m/s, in the world frame."""
        vx, vz = self.takeoff_speed
        return self._rotate(np.array([[vx, 0.0, vz]]))[0]

    @property
    def jump_height_mm(self) -> float:
        """COM rise above its takeoff height: v_z² / 2g, mm."""
        return float(self.takeoff_speed[1] ** 2 / (2 * G) * 1000.0)

    @property
    def flight_time_s(self) -> float:
        return self.events.landing - self.events.takeoff

    @property
    def jump_height_flight_mm(self) -> float:
        """Jump height by the flight-time method g·T²/8 (assumes equal takeoff/landing heights)."""
        return float(G * self.flight_time_s**2 / 8 * 1000.0)

    def force_z(self, t: np.ndarray) -> np.ndarray:
        """Vertical ground reaction force (N) at trial times ``t`` (any shape)."""
        t = np.asarray(t, dtype=np.float64)
        a = np.zeros_like(t)
        flight = np.zeros(t.shape, bool)
        for ph in self._phases:
            inside = ph.contains(t)
            if ph.name == "flight":
                flight |= inside
            a = np.where(inside, ph.az_at(t), a)
        return np.where(flight, 0.0, self.mass * (a + G))

    def com(self, t: np.ndarray) -> np.ndarray:
        """Centre of mass (n, 3) mm in the world frame at trial times ``t`` (n,)."""
        return self.points(t, names=("com",))["com"]

    def com_velocity(self, t: np.ndarray) -> np.ndarray:
        """COM velocity (n, 3) m/s (designed phases exact; 1-DOF phases by differences)."""
        t = np.atleast_1d(np.asarray(t, dtype=np.float64))
        dt = 1e-6
        return (self.com(t + dt) - self.com(t - dt)) / (2 * dt) / 1000.0

    def keypoints(self, t: np.ndarray, names: Sequence[str] = KEYPOINTS) -> np.ndarray:
        """Keypoints (n, len(names), 3) mm in the world frame."""
        pts = self.points(t, names=names)
        return np.stack([pts[k] for k in names], axis=1)

    def poses3d(
        self, t: np.ndarray, *, keypoints: Sequence[str] = KEYPOINTS, fps: float | None = None
    ) -> xr.Dataset:
        """True keypoints at trial times ``t`` as a poses3d dataset (time = ``t``, s)."""
        from mocap3d.datasets import make_poses3d

        t = np.atleast_1d(np.asarray(t, dtype=np.float64))
        pos = np.transpose(self.keypoints(t, keypoints), (0, 2, 1))[..., None]
        return make_poses3d(
            pos, keypoints=list(keypoints), time=t, fps=fps, source_software="mocap3d.simulate"
        )

    def joint_angles(self, t: np.ndarray) -> dict[str, np.ndarray]:
        """Hip, knee, ankle and MTP flexion angles (n,) in radians."""
        return joint_angles(
            self.points(t, names=("iliac_crest", "hip", "knee", "ankle", "mtp", "toe"))
        )

    def points(self, t: np.ndarray, *, names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Every body point (or ``names``; ``"com"`` is the centre of mass) at trial times ``t``.

        Returns ``name → (n, 3)`` mm in the world frame; forepaws and tail are kept above the
        ground.
        """
        t = np.atleast_1d(np.asarray(t, dtype=np.float64))
        posture, anchor = self._posture_and_anchor(t)
        rel = body_points(self.body, posture, self.family)
        rel["com"] = centre_of_mass(rel)
        keep = rel if names is None else {k: rel[k] for k in names}
        out = {k: self._rotate(v + anchor) for k, v in keep.items()}
        floor = self.body.marker_height
        for k in ("forepaw", "forepaw_r", *(f"tail_{i}" for i in range(1, N_TAIL + 1))):
            if k in out:
                out[k][:, 2] = np.maximum(out[k][:, 2], floor if "paw" in k else 0.8)
        return out

    def posture(self, t: np.ndarray) -> Posture:
        return self._posture_and_anchor(np.atleast_1d(np.asarray(t, dtype=np.float64)))[0]

    # ------------------------------------------------------------------ internals
    def _rotate(self, p: np.ndarray) -> np.ndarray:
        yaw = self.params.heading_deg * _DEG
        c, s = np.cos(yaw), np.sin(yaw)
        R = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        pivot = np.array([self.params.start_x_mm, 0.0, 0.0])
        shift = np.array([0.0, self.params.start_y_mm, 0.0])
        return (p - pivot) @ R.T + pivot + shift

    def _schedule(self, t: np.ndarray) -> dict[str, np.ndarray]:
        t_on, t_ce, t_p, t_to = self.events_partial
        ev = getattr(self, "events", None)
        out = {}
        for k in SCHEDULED:
            keys = [(t_on, STANCE[k]), (t_ce, CROUCH[k]), (t_p, CROUCH[k])]
            pitch = self.params.pitch_at_takeoff_deg if k == "trunk_pitch" else TAKEOFF[k]
            keys.append((t_to, pitch))
            if ev is not None:
                t_mid, t_prep = self._flight_keys[1:]
                keys += [(t_mid, TUCK[k]), (t_prep, REACH[k]), (ev.landing, REACH[k])]
                keys += [(ev.landing_end, LANDED[k]), (ev.recovery_end, STANCE[k])]
            out[k] = _ramp(t, keys) * _DEG
        return out

    def _posture(
        self,
        t: np.ndarray,
        extension: np.ndarray | float,
        metatarsus: np.ndarray | float,
        key: dict[str, float] | None = None,
        sched: dict[str, np.ndarray] | None = None,
    ) -> Posture:
        n = t.shape
        if key is not None:
            sched = {k: np.full(n, key[k] * _DEG) for k in SCHEDULED}
        elif sched is None:
            sched = self._schedule(t)
        return Posture(
            metatarsus=np.broadcast_to(metatarsus, n),
            extension=np.broadcast_to(extension, n),
            **sched,
        )

    def _com_rel(self, posture: Posture) -> np.ndarray:
        return centre_of_mass(body_points(self.body, posture, self.family))

    def _target(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Designed COM (x, z) in mm at ``t`` (x is NaN in 1-DOF phases)."""
        x = np.full(t.shape, np.nan)
        z = np.full(t.shape, self._com_s[2])
        for ph in self._phases:
            inside = ph.contains(t)
            z = np.where(inside, ph.z_at(t) * 1000.0, z)
            if ph.ax is not None:
                x = np.where(inside, ph.x_at(t) * 1000.0, x)
        return x, z

    def _solve_1dof(
        self, t: np.ndarray, gamma: np.ndarray | None = None, anchor: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Extension that puts the COM at its designed height; returns (e, COM (n, 3))."""
        anchor = self._anchor0 if anchor is None else anchor
        gamma = np.full(t.shape, self._gamma_s) if gamma is None else gamma
        _, z = self._target(t)

        sched = self._schedule(t)

        def height(e: np.ndarray) -> np.ndarray:
            return self._com_rel(self._posture(t, e, np.pi - gamma, sched=sched))[:, 2] + anchor[2]

        e = np.full(t.shape, STANCE_EXTENSION)
        for _ in range(40):
            r = height(e) - z
            slope = (height(e + 1e-6) - height(e)) / 1e-6
            e = e - r / slope
            if np.max(np.abs(r)) < 1e-9:
                break
        _check(np.abs(height(e) - z), "1-DOF leg extension")
        com = self._com_rel(self._posture(t, e, np.pi - gamma, sched=sched)) + anchor
        return e, com

    def _solve_2dof(
        self, t: np.ndarray, e: np.ndarray, g: np.ndarray, anchor: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Extension and heel rise that put the COM at its designed (x, z), by Newton."""
        x, z = self._target(t)
        target = np.stack([x - anchor[0], z - anchor[2]], axis=-1)

        sched = self._schedule(t)

        def f(e_: np.ndarray, g_: np.ndarray) -> np.ndarray:
            return self._com_rel(self._posture(t, e_, np.pi - g_, sched=sched))[:, [0, 2]]

        for _ in range(30):
            f0 = f(e, g)
            r = f0 - target
            if np.max(np.abs(r)) < 1e-9:
                break
            je = (f(e + 1e-6, g) - f0) / 1e-6
            jg = (f(e, g + 1e-6) - f0) / 1e-6
            det = je[:, 0] * jg[:, 1] - je[:, 1] * jg[:, 0]
            de = (jg[:, 1] * r[:, 0] - jg[:, 0] * r[:, 1]) / det
            dg = (-je[:, 1] * r[:, 0] + je[:, 0] * r[:, 1]) / det
            e, g = e - de, g - dg
        _check(np.abs(f(e, g) - target).max(axis=-1), "2-DOF leg extension and heel rise")
        return e, g

    def _solve_2dof_sequential(
        self, phase: Phase, anchor: np.ndarray
    ) -> list[tuple[float, float, float]]:
        """Solve along a contact phase in ~2.5 ms steps (continuation); (t, e, γ) per step."""
        end = phase.t0 + phase.duration - 1e-9
        steps = np.linspace(phase.t0, end, max(int(phase.duration / 2.5e-3), 8) + 1)
        if phase.name == "pushoff":
            e0, _ = self._solve_1dof(steps[:1])
            g0 = self._gamma_s
            e, g = float(e0[0]), g0
        else:
            post = self._flight_posture(steps[:1])
            e, g = float(post.extension[0]), float(np.pi - post.metatarsus[0])
        out = []
        for ti in steps:
            ee, gg = self._solve_2dof(np.array([ti]), np.array([e]), np.array([g]), anchor)
            e, g = float(ee[0]), float(gg[0])
            out.append((float(ti), e, g))
        return out

    def _takeoff_rates(self, push: Phase) -> tuple[float, float]:
        """d(extension)/dt and d(heel rise)/dt at takeoff (one-sided, second order)."""
        t1 = push.t0 + push.duration
        hs = np.array([0.0, 1e-4, 2e-4])
        e, g = self._contact_solution(t1 - hs, self._pushoff_coarse, self._anchor0)
        rate = lambda v: (3 * v[0] - 4 * v[1] + v[2]) / (2 * 1e-4)  # noqa: E731
        return float(rate(e)), float(rate(g))

    def _contact_solution(
        self, t: np.ndarray, coarse: list[tuple[float, float, float]], anchor: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        ct, ce, cg = (np.array(v) for v in zip(*coarse, strict=True))
        return self._solve_2dof(t, np.interp(t, ct, ce), np.interp(t, ct, cg), anchor)

    def _flight_posture(self, t: np.ndarray) -> Posture:
        tc = np.clip(t, self._flight_keys[0], self._flight_keys[2])
        return self._posture(t, self._flight_e(tc), self._flight_a(tc))

    def _flight_anchor(self, t: np.ndarray) -> np.ndarray:
        x, z = self._target(t)
        com = np.stack([x, np.full(t.shape, 0.0), z], axis=-1)
        anchor = com - self._com_rel(self._flight_posture(t))
        anchor[:, 1] = self.body.limb_offset
        return anchor

    def _posture_and_anchor(self, t: np.ndarray) -> tuple[Posture, np.ndarray]:
        ev = self.events
        n = t.shape
        e = np.full(n, STANCE_EXTENSION)
        meta = np.full(n, np.pi - self._gamma_s)
        anchor = np.broadcast_to(self._anchor0, (*n, 3)).copy()
        crouch = (t >= ev.onset) & (t < ev.pushoff_start)
        push = (t >= ev.pushoff_start) & (t < ev.takeoff)
        flight = (t >= ev.takeoff) & (t < ev.landing)
        land = (t >= ev.landing) & (t < ev.landing_end)
        recov = t >= ev.landing_end
        if crouch.any():
            ee, _ = self._solve_1dof(t[crouch])
            e[crouch] = ee
        if push.any():
            ee, gg = self._contact_solution(t[push], self._pushoff_coarse, self._anchor0)
            e[push], meta[push] = ee, np.pi - gg
        if flight.any():
            fp = self._flight_posture(t[flight])
            e[flight], meta[flight] = fp.extension, fp.metatarsus
            anchor[flight] = self._flight_anchor(t[flight])
        if land.any():
            ee, gg = self._contact_solution(t[land], self._landing_coarse, self._anchor1)
            e[land], meta[land] = ee, np.pi - gg
            anchor[land] = self._anchor1
        if recov.any():
            tr = t[recov]
            g = _ramp(tr, [(ev.landing_end, self._gamma_le), (ev.recovery_end, self._gamma_s)])
            ee, _ = self._solve_1dof(tr, g, self._anchor1)
            e[recov], meta[recov] = ee, np.pi - g
            anchor[recov] = self._anchor1
        return self._posture(t, e, meta), anchor


def _check(residual_mm: np.ndarray, what: str) -> None:
    if residual_mm.size and not np.all(residual_mm < 1e-6):
        raise RuntimeError(
            f"simulated jump: {what} did not converge (worst COM error "
            f"{np.nanmax(residual_mm):.3g} mm); the trial parameters are out of the model's range"
        )
