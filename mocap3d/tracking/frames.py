"""Choosing frames to label: k-means on appearance, with a quota for rare poses.

DeepLabCut's ``kmeans`` extraction clusters downsampled frames and takes one per cluster.
In a jump video the animal sits still for most frames and is airborne for a few, so plain
k-means spends almost every label on sitting. Here a share of the frames (``rare_fraction``)
is reserved for *rare* frames — by default those with the most motion energy (mean absolute
difference to the previous frame, highest during push-off and flight), or frames you name
(e.g. the flight phase from the force plate) — and k-means is run separately on those.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mocap3d.errors import InputError
from mocap3d.io.atomic import atomic_path
from mocap3d.io.project import Project
from mocap3d.progress import Progress, report
from mocap3d.tracking.project import Tracking, VideoRef, open_tracking, register_video

log = logging.getLogger(__name__)

FEATURE_SIZE = (32, 24)  # (width, height) of the downsampled grey frames k-means sees


@dataclass(frozen=True)
class VideoFeatures:
    """Appearance features of a video, one row per frame read.

    Attributes
    ----------
    frames : ndarray, (n,) int
        Frame indices in the video.
    features : ndarray, (n, d) float32
        Downsampled grey frames, each standardised to zero mean and unit variance.
    motion : ndarray, (n,) float
        Motion energy: mean absolute grey-level change to the previous frame read (0 first).
    size : (int, int)
        The video's (width, height) in pixels.
    """

    frames: np.ndarray
    features: np.ndarray
    motion: np.ndarray
    size: tuple[int, int]


def video_features(video: str | Path, *, step: int = 1) -> VideoFeatures:
    """Read a video and compute :class:`VideoFeatures` for every ``step``-th frame."""
    import cv2

    video = Path(video)
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise InputError(f"cannot open video {video}; is it a readable .mp4/.avi file?")
    size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    frames, feats, motion = [], [], []
    prev = None
    i = 0
    try:
        while True:
            img = None
            if i % step == 0:
                ok, img = cap.read()
            else:
                ok = cap.grab()
            if not ok:
                break
            if img is not None:
                grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
                small = cv2.resize(grey, FEATURE_SIZE, interpolation=cv2.INTER_AREA)
                small = small.astype(np.float32)
                motion.append(0.0 if prev is None else float(np.mean(np.abs(small - prev))))
                prev = small
                v = small.ravel()
                feats.append((v - v.mean()) / (v.std() + 1e-6))
                frames.append(i)
            i += 1
    finally:
        cap.release()
    if not frames:
        raise InputError(f"video {video} has no readable frames")
    return VideoFeatures(np.asarray(frames), np.stack(feats), np.asarray(motion), size)


def _kmeans_pick(features: np.ndarray, k: int, rng: np.random.Generator) -> list[int]:
    """Indices (into ``features``) of the members closest to each of ``k`` k-means centres."""
    from scipy.cluster.vq import kmeans2

    n = len(features)
    if k <= 0:
        return []
    if k >= n:
        return list(range(n))
    data = features.astype(np.float64)
    centres, assign = kmeans2(data, k, minit="++", seed=rng, iter=20)
    picks = []
    for c in range(k):
        members = np.flatnonzero(assign == c)
        if len(members) == 0:
            continue
        d = np.linalg.norm(data[members] - centres[c], axis=1)
        picks.append(int(members[np.argmin(d)]))
    # empty clusters: fill with the frames farthest from those already picked
    while len(picks) < k:
        dist = np.min(np.linalg.norm(data[:, None, :] - data[picks][None, :, :], axis=2), axis=1)
        dist[picks] = -1
        picks.append(int(np.argmax(dist)))
    return sorted(set(picks))


def select_frames(
    features: np.ndarray,
    n: int,
    *,
    rare: np.ndarray | None = None,
    rare_fraction: float = 0.25,
    seed: int = 0,
) -> np.ndarray:
    """Choose ``n`` diverse rows of ``features`` by k-means, reserving a quota for rare ones.

    Parameters
    ----------
    features : ndarray, (n_frames, d)
        One appearance vector per frame.
    n : int
        How many frames to choose (all of them if fewer).
    rare : ndarray of bool, (n_frames,), optional
        Frames that count as rare (e.g. flight). ``round(n * rare_fraction)`` frames are drawn
        from them by k-means on their own, the rest from all frames.
    rare_fraction : float
        Share of ``n`` reserved for rare frames (in [0, 1]).

    Returns
    -------
    ndarray, (≤ n,) int
        Chosen row indices, sorted, without repeats.
    """
    features = np.asarray(features)
    if features.ndim != 2:
        raise InputError(f"features must be (n_frames, d), found shape {features.shape}")
    if not 0 <= rare_fraction <= 1:
        raise InputError(f"rare_fraction must be in [0, 1], found {rare_fraction}")
    rng = np.random.default_rng(seed)
    total = len(features)
    n = min(int(n), total)
    chosen: list[int] = []
    if rare is not None:
        rare = np.asarray(rare, dtype=bool)
        if rare.shape != (total,):
            raise InputError(f"rare must have one flag per frame ({total}), found {rare.shape}")
        pool = np.flatnonzero(rare)
        n_rare = min(len(pool), round(n * rare_fraction))
        chosen = [int(pool[i]) for i in _kmeans_pick(features[pool], n_rare, rng)]
    rest = np.setdiff1d(np.arange(total), chosen)
    n_common = n - len(chosen)
    chosen += [int(rest[i]) for i in _kmeans_pick(features[rest], n_common, rng)]
    return np.asarray(sorted(set(chosen)), dtype=np.int64)


def motion_rare(motion: np.ndarray, *, quantile: float = 0.9) -> np.ndarray:
    """Frames whose motion energy is at or above the ``quantile`` of the video (bool mask)."""
    motion = np.asarray(motion, dtype=np.float64)
    if motion.size == 0 or not np.any(motion > 0):
        return np.zeros(motion.shape, dtype=bool)
    return motion >= np.quantile(motion, quantile)


def write_frames(video: str | Path, frames: Sequence[int], folder: str | Path) -> list[Path]:
    """Save the given frames of a video as ``img<frame:05d>.png`` in ``folder`` (atomically)."""
    import cv2

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    wanted = sorted(set(int(f) for f in frames))
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise InputError(f"cannot open video {video}")
    out = []
    try:
        for f in wanted:
            cap.set(cv2.CAP_PROP_POS_FRAMES, f)
            ok, img = cap.read()
            if not ok:
                raise InputError(f"video {video}: frame {f} cannot be read")
            ok, data = cv2.imencode(".png", img)
            path = folder / f"img{f:05d}.png"
            with atomic_path(path) as tmp:
                tmp.write_bytes(data.tobytes())
            out.append(path)
    finally:
        cap.release()
    return out


def extract_frames(
    project: Project,
    *,
    frames_per_video: int = 20,
    rare_fraction: float = 0.25,
    rare_quantile: float = 0.9,
    cameras: Sequence[str] | None = None,
    trials: Sequence[str] | None = None,
    step: int = 1,
    seed: int = 0,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> Tracking:
    """Pick frames to label in every split trial's video and write them as DeepLabCut images.

    For each trial in the split (``tracking.toml``) and each camera, frames are chosen by
    :func:`select_frames` with rare frames by motion energy, written to
    ``tracking/<model>/labeled-data/<session>__<trial>__<camera>/img<frame>.png`` and the
    video is added to the model's ``video_sets``. Videos that already have images are skipped
    unless ``overwrite``.

    Parameters
    ----------
    trials : sequence of str, optional
        Trial ids ``session/trial``; default every trial in the split.
    """
    tracking = open_tracking(project)
    if not tracking.split:
        raise InputError(
            f"{tracking.path} has no trial split yet; split the trials first "
            "(`mocap3d track split`)"
        )
    wanted = list(trials) if trials is not None else sorted(tracking.split)
    unknown = [t for t in wanted if t not in tracking.split]
    if unknown:
        raise InputError(f"trials {unknown} are not in the split of {tracking.path}")
    cams = list(cameras) if cameras is not None else list(tracking.models)
    jobs = []
    for trial_id in wanted:
        session_name, trial = trial_id.split("/", 1)
        session = project.session(session_name)
        for cam in cams:
            tracking.model_for(cam)
            jobs.append((VideoRef(session_name, trial, cam), session.video_path(trial, cam)))
    for i, (ref, video) in enumerate(jobs):
        report(progress, i, len(jobs), "extract frames")
        folder = tracking.model_dir(tracking.model_for(ref.camera)) / "labeled-data" / ref.stem
        if not overwrite and folder.is_dir() and any(folder.glob("img*.png")):
            log.info("skipping %s: it already has frames", ref.stem)
            continue
        feats = video_features(video, step=step)
        rare = motion_rare(feats.motion, quantile=rare_quantile)
        rows = select_frames(
            feats.features, frames_per_video, rare=rare, rare_fraction=rare_fraction, seed=seed
        )
        write_frames(video, feats.frames[rows], folder)
        tracking = register_video(tracking, ref, video, feats.size)
    report(progress, len(jobs), len(jobs), "extract frames")
    return tracking
