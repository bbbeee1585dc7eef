"""Faults on demand: what real rigs and trackers get wrong, injected where the truth says.

Recording faults (:class:`Faults`, applied while simulating a session):

- dropped frames: a camera misses frames; the DAQ still shows their exposure pulses, the video
  lacks them and the camera's frame log shows its counter jump;
- TTL glitches: exposure pulses missing from the DAQ (the frames exist) and spurious pulses;
- clocks: the sync box on its own clock (offset + drift in ppm); a non-master DAQ stream whose
  sample clock drifts;
- motion blur: frames integrate the motion over the exposure.

Tracking faults (:func:`simulate_tracks`, applied to exact 2D truth to mimic a tracker such as
DeepLabCut): Gaussian noise, confident outliers, left/right limb swaps and missing keypoints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from mocap3d.errors import InputError

LIMB_KEYPOINTS = ("iliac_crest", "hip", "knee", "ankle", "mtp", "toe")
FAULT_NONE, FAULT_OUTLIER, FAULT_SWAP, FAULT_MISSING = 0, 1, 2, 3


@dataclass(frozen=True)
class Faults:
    """Which faults to inject (all off by default).

    Attributes
    ----------
    dropped_frames : int
        Frames dropped by ``dropped_camera`` in every trial.
    dropped_camera : str or None
        Camera that drops frames (default: the rig's last camera).
    ttl_missing, ttl_extra : int
        Exposure pulses missing from / added to the DAQ record, per session.
    syncbox_offset_s, syncbox_drift_ppm : float
        The sync box's clock: ``master = offset + box · (1 + ppm·1e-6)``.
    stream_drift_ppm : mapping of stream → ppm
        Non-master DAQ streams whose sample clock runs fast (+) or slow (−).
    motion_blur : int
        Sub-exposures averaged per frame (1 = none).
    track_noise_px, track_outliers, track_swaps, track_missing : float
        Tracker noise (px rms) and fractions of visible points that are outliers, of frames
        with left/right limb swaps (per camera) and of visible points that go missing.
    """

    dropped_frames: int = 0
    dropped_camera: str | None = None
    ttl_missing: int = 0
    ttl_extra: int = 0
    syncbox_offset_s: float = 0.0
    syncbox_drift_ppm: float = 0.0
    stream_drift_ppm: Mapping[str, float] = field(default_factory=dict)
    motion_blur: int = 1
    track_noise_px: float = 1.0
    track_outliers: float = 0.0
    track_swaps: float = 0.0
    track_missing: float = 0.0

    def __post_init__(self) -> None:
        for name in ("dropped_frames", "ttl_missing", "ttl_extra"):
            if getattr(self, name) < 0:
                raise InputError(f"faults: {name} must be ≥ 0, found {getattr(self, name)}")
        for name in ("track_outliers", "track_swaps", "track_missing"):
            if not 0.0 <= getattr(self, name) <= 0.5:
                raise InputError(f"faults: {name} must be a fraction in [0, 0.5]")
        if self.motion_blur < 1:
            raise InputError(f"faults: motion_blur must be ≥ 1, found {self.motion_blur}")

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["stream_drift_ppm"] = dict(self.stream_drift_ppm)
        return d


ALL_FAULTS = Faults(
    dropped_frames=3,
    ttl_missing=2,
    ttl_extra=2,
    syncbox_offset_s=-12.345,
    syncbox_drift_ppm=40.0,
    stream_drift_ppm={"slow": -25.0},
    motion_blur=3,
    track_outliers=0.02,
    track_swaps=0.02,
    track_missing=0.03,
)
"""Every fault at once, at moderate levels (``--faults all``)."""


def pick_frames(rng: np.random.Generator, n_frames: int, n: int) -> list[int]:
    """``n`` distinct frame indices, never the first or last two (sorted)."""
    if n <= 0 or n_frames < 8:
        return []
    return sorted(int(k) for k in rng.choice(np.arange(2, n_frames - 2), size=n, replace=False))


def simulate_tracks(
    uv: np.ndarray,
    visible: np.ndarray,
    keypoints: Sequence[str],
    faults: Faults,
    rng: np.random.Generator,
    *,
    swap_uv: np.ndarray | None = None,
    left_right: Sequence[tuple[str, str]] = (),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A tracker's output from exact 2D truth.

    Parameters
    ----------
    uv : (V, T, K, 2) exact pixels; visible : (V, T, K) bool
    keypoints : names of K
    swap_uv : (V, T, K, 2), optional
        Where each keypoint's contralateral counterpart projects (the right limb for the
        labelled left limb's keypoints); used for left/right swaps.
    left_right : pairs of keypoints swapped together (the rig's ``skeleton.left_right``).

    Returns
    -------
    position : (V, T, K, 2) px, NaN where missing
    confidence : (V, T, K) in [0, 1]
    fault : (V, T, K) int8: 0 none, 1 outlier, 2 left/right swap, 3 missing
    """
    V, T, K = visible.shape
    pos = uv + rng.normal(0.0, faults.track_noise_px, uv.shape)
    conf = np.where(
        visible, rng.uniform(0.85, 1.0, visible.shape), rng.uniform(0.0, 0.3, visible.shape)
    )
    hidden = ~visible
    pos[hidden] = uv[hidden] + rng.normal(
        0.0, 4.0 * max(faults.track_noise_px, 1.0), (int(hidden.sum()), 2)
    )
    fault = np.zeros((V, T, K), np.int8)
    if faults.track_swaps > 0:
        limb = [i for i, k in enumerate(keypoints) if k in LIMB_KEYPOINTS]
        pairs = [(keypoints.index(a), keypoints.index(b)) for a, b in left_right]
        frames = rng.random((V, T)) < faults.track_swaps
        for v, t in zip(*np.nonzero(frames), strict=True):
            if swap_uv is not None:
                for i in limb:
                    pos[v, t, i] = swap_uv[v, t, i] + rng.normal(0, faults.track_noise_px, 2)
                    fault[v, t, i] = FAULT_SWAP
            for a, b in pairs:
                pos[v, t, [a, b]] = pos[v, t, [b, a]]
                fault[v, t, [a, b]] = FAULT_SWAP
    free = visible & (fault == FAULT_NONE)
    out = free & (rng.random((V, T, K)) < faults.track_outliers)
    angle = rng.uniform(0, 2 * np.pi, out.sum())
    dist = rng.uniform(15.0, 60.0, out.sum())
    pos[out] = uv[out] + np.stack([np.cos(angle), np.sin(angle)], axis=-1) * dist[:, None]
    conf[out] = rng.uniform(0.6, 0.95, out.sum())
    fault[out] = FAULT_OUTLIER
    miss = free & ~out & (rng.random((V, T, K)) < faults.track_missing)
    pos[miss] = np.nan
    conf[miss] = np.nan
    fault[miss] = FAULT_MISSING
    return pos, conf, fault
