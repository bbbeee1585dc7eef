"""Acceleration profiles with closed-form integrals, for the phases of a simulated jump.

A phase's acceleration (m/s²) is a combination of four shapes of the phase's normalised time
``u = (t - t0) / duration`` ∈ [0, 1]:

==== =============================== ==========
key  shape                           ∫₀¹ du
==== =============================== ==========
"1"  1                               1
"S"  smooth step 10u³ − 15u⁴ + 6u⁵    1/2
"B"  bump sin²(πu)                    1/2
"C"  cycle sin(2πu)                   0
==== =============================== ==========

Velocity and position follow in closed form, so force, velocity and position are exactly
consistent at any time (no numerical integration).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

_TWO_PI = 2.0 * np.pi


def smooth5(u: np.ndarray | float) -> np.ndarray:
    """C2 smooth step from 0 (u ≤ 0) to 1 (u ≥ 1)."""
    u = np.clip(np.asarray(u, dtype=np.float64), 0.0, 1.0)
    return u**3 * (10.0 - 15.0 * u + 6.0 * u**2)


def _shape(key: str, u: np.ndarray, order: int) -> np.ndarray:
    """The shape (order 0), its integral (1) or double integral (2) from 0 to ``u``."""
    if key == "1":
        return (np.ones_like(u), u, u**2 / 2)[order]
    if key == "S":
        return (
            u**3 * (10 - 15 * u + 6 * u**2),
            2.5 * u**4 - 3 * u**5 + u**6,
            0.5 * u**5 - 0.5 * u**6 + u**7 / 7,
        )[order]
    if key == "B":
        return (
            np.sin(np.pi * u) ** 2,
            u / 2 - np.sin(_TWO_PI * u) / (4 * np.pi),
            u**2 / 4 + (np.cos(_TWO_PI * u) - 1) / (8 * np.pi**2),
        )[order]
    if key == "C":
        return (
            np.sin(_TWO_PI * u),
            (1 - np.cos(_TWO_PI * u)) / _TWO_PI,
            u / _TWO_PI - np.sin(_TWO_PI * u) / _TWO_PI**2,
        )[order]
    raise KeyError(key)


@dataclass
class Phase:
    """One phase: acceleration coefficients for z (and optionally x) and the starting state.

    ``az``/``ax`` map shape keys to coefficients (m/s²); ``ax = None`` means the forward
    position is not designed in this phase (it follows from the posture). Units: s, m, m/s.
    """

    name: str
    t0: float
    duration: float
    z0: float = 0.0
    vz0: float = 0.0
    x0: float = 0.0
    vx0: float = 0.0
    az: dict[str, float] = field(default_factory=dict)
    ax: dict[str, float] | None = None

    def contains(self, t: np.ndarray) -> np.ndarray:
        return (t >= self.t0) & (t < self.t0 + self.duration)

    def _u(self, t: np.ndarray) -> np.ndarray:
        return np.clip((np.asarray(t, dtype=np.float64) - self.t0) / self.duration, 0.0, 1.0)

    def _sum(self, coeffs: dict[str, float], u: np.ndarray, order: int) -> np.ndarray:
        out = np.zeros_like(u)
        for key, c in coeffs.items():
            out = out + c * _shape(key, u, order)
        return out

    # vertical
    def az_at(self, t: np.ndarray) -> np.ndarray:
        return self._sum(self.az, self._u(t), 0)

    def vz_at(self, t: np.ndarray) -> np.ndarray:
        return self.vz0 + self.duration * self._sum(self.az, self._u(t), 1)

    def z_at(self, t: np.ndarray) -> np.ndarray:
        u = self._u(t)
        d = self.duration
        return self.z0 + self.vz0 * d * u + d * d * self._sum(self.az, u, 2)

    # forward
    def x_at(self, t: np.ndarray) -> np.ndarray:
        u = self._u(t)
        d = self.duration
        return self.x0 + self.vx0 * d * u + d * d * self._sum(self.ax or {}, u, 2)

    def vx_at(self, t: np.ndarray) -> np.ndarray:
        return self.vx0 + self.duration * self._sum(self.ax or {}, self._u(t), 1)

    # end state
    def z_end(self) -> float:
        return float(self.z_at(np.array(self.t0 + self.duration)))

    def vz_end(self) -> float:
        return float(self.vz_at(np.array(self.t0 + self.duration)))

    def x_end(self) -> float:
        return float(self.x_at(np.array(self.t0 + self.duration)))

    def vx_end(self) -> float:
        return float(self.vx_at(np.array(self.t0 + self.duration)))
