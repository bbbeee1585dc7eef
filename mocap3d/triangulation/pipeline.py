"""Triangulate a whole recording, chunk by chunk, into a poses3d dataset.

:func:`triangulate` takes a poses2d dataset and a calibration and returns poses3d (mm, in the
calibration's world frame). Underneath, :func:`triangulate_frames` streams: it asks a reader
for one block of frames at a time (with overlap for the spatiotemporal method) and yields the
finished block, so a recording of any length fits in a fixed amount of memory.
"""

from __future__ import annotations

import concurrent.futures as cf
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import xarray as xr

from mocap3d.camera import CameraGroup
from mocap3d.datasets import make_poses3d, validate_poses2d
from mocap3d.errors import InputError
from mocap3d.progress import Progress, report
from mocap3d.timeseries import run_lengths
from mocap3d.triangulation.dlt import Triangulated, triangulate_dlt
from mocap3d.triangulation.inputs import (
    bone_indices,
    check_cameras,
    check_keypoints,
    unseen_keypoints,
    usable,
)
from mocap3d.triangulation.robust import DEFAULT_THRESHOLD_PX, triangulate_robust
from mocap3d.triangulation.spatiotemporal import (
    SpatiotemporalOptions,
    estimate_bones,
    refine,
)

Method = Literal["dlt", "robust", "spatiotemporal"]
METHODS: tuple[str, ...] = get_args(Method)
Reader = Callable[[int, int], tuple[np.ndarray, np.ndarray]]
"""``read(start, stop)`` → pixels (n_cameras, frames, n_points, 2) and confidence
(n_cameras, frames, n_points) of frames ``start:stop``; NaN where missing."""

DEFAULT_CHUNK = {"dlt": 2048, "robust": 2048, "spatiotemporal": 1500}  # frames
DEFAULT_OVERLAP = 50  # frames on each side of a spatiotemporal chunk
_BONE_SAMPLE_FRAMES = 6000


@dataclass(frozen=True)
class Chunk:
    """Triangulated frames ``start:stop`` (array form, points = keypoints × individuals).

    Attributes
    ----------
    start, stop : int
    result : Triangulated
        position (frames, n_points, 3) mm; view_error, used (n_cameras, frames, n_points).
    score : ndarray, (frames, n_points)
        Lowest confidence among the cameras used (as Anipose's ``_score``); NaN where no point.
    """

    start: int
    stop: int
    result: Triangulated
    score: np.ndarray


@dataclass(frozen=True)
class Collected:
    """A recording's triangulation, assembled from its chunks (points = keypoints ×
    individuals): position (frames, n_points, 3) mm; reprojection_error, score
    (frames, n_points); n_views (frames, n_points) int16; view_error (n_cameras, frames,
    n_points) float32."""

    position: np.ndarray
    reprojection_error: np.ndarray
    n_views: np.ndarray
    score: np.ndarray
    view_error: np.ndarray


def collect_chunks(
    chunks: Iterable[Chunk], *, n_frames: int, n_points: int, n_cameras: int
) -> Collected:
    """Assemble :func:`triangulate_frames`' chunks into whole-recording arrays (frames no
    chunk covers stay NaN / 0 views)."""
    out = Collected(
        position=np.full((n_frames, n_points, 3), np.nan),
        reprojection_error=np.full((n_frames, n_points), np.nan),
        n_views=np.zeros((n_frames, n_points), np.int16),
        score=np.full((n_frames, n_points), np.nan),
        view_error=np.full((n_cameras, n_frames, n_points), np.nan, np.float32),
    )
    for ch in chunks:
        sl = slice(ch.start, ch.stop)
        out.position[sl] = ch.result.position
        out.reprojection_error[sl] = ch.result.reprojection_error
        out.n_views[sl] = ch.result.n_views
        out.score[sl] = ch.score
        out.view_error[:, sl] = ch.result.view_error
    return out


def _weights(conf: np.ndarray, uv: np.ndarray, min_score: float, weighted: bool) -> np.ndarray:
    ok = usable(uv, conf, min_score)
    return np.where(ok, np.where(np.isnan(conf), 1.0, conf) if weighted else 1.0, 0.0)


def _score(conf: np.ndarray, used: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        s = np.where(used, np.where(np.isnan(conf), 1.0, conf), np.inf).min(axis=0)
    return np.where(np.isfinite(s), s, np.nan)


def triangulate_frames(
    group: CameraGroup,
    read: Reader,
    n_frames: int,
    *,
    method: Method = "spatiotemporal",
    min_score: float = 0.5,
    weighted: bool = True,
    threshold_px: float = DEFAULT_THRESHOLD_PX,
    fps: float | None = None,
    bones: Sequence[tuple[int, int]] = (),
    bone_lengths: np.ndarray | None = None,
    bone_sd: np.ndarray | None = None,
    options: SpatiotemporalOptions = SpatiotemporalOptions(),
    max_gap: int = 10,
    chunk_frames: int | None = None,
    overlap: int = DEFAULT_OVERLAP,
    workers: int = 1,
    progress: Progress | None = None,
) -> Iterator[Chunk]:
    """Triangulate frames ``0:n_frames`` block by block; yields :class:`Chunk` in order.

    Parameters
    ----------
    group : CameraGroup
        Camera ``i`` observes ``read(...)[0][i]``.
    read : callable
        ``read(start, stop)`` → (pixels, confidence), see :data:`Reader`.
    n_frames : int
    method : {"dlt", "robust", "spatiotemporal"}
        ``dlt``: confidence-weighted DLT of every camera; ``robust``: cameras chosen by
        reprojection consensus; ``spatiotemporal``: robust start, then smooth motion, rigid
        bones and a robust loss over all frames (needs ``fps``).
    min_score : float
        Observations with lower confidence are not used.
    weighted : bool
        Weight observations by their confidence (else all used ones count the same).
    threshold_px : float
        Inlier threshold of the robust method (and of the spatiotemporal start).
    fps : float, optional
        Frame rate; required by the spatiotemporal method.
    bones : sequence of (int, int)
        Point-index pairs with constant distance (spatiotemporal).
    bone_lengths, bone_sd : ndarray, optional
        Their lengths and how much those truly vary (mm); estimated from a robust pass over up
        to 6000 frames otherwise (:func:`~mocap3d.triangulation.spatiotemporal.estimate_bones`).
    options : SpatiotemporalOptions
    max_gap : int
        Spatiotemporal: runs of more than ``max_gap`` frames in which no camera supports a
        point are NaN (shorter gaps are bridged by the motion prior).
    chunk_frames, overlap : int
        Frames per block (default by method) and, for the spatiotemporal method, extra frames
        solved on each side and discarded (≥ ``max_gap``).
    workers : int
        Blocks solved in parallel threads (numpy and LAPACK release the GIL).
    progress : Progress, optional
    """
    if method not in METHODS:
        raise InputError(f"method must be one of {list(METHODS)}, found {method!r}")
    if not 0 <= min_score <= 1:
        raise InputError(f"min_score must be between 0 and 1, found {min_score}")
    if method == "spatiotemporal" and not (fps and fps > 0):
        raise InputError(
            "the spatiotemporal method needs the frame rate: give fps (--fps, or --rig whose "
            "cameras have an fps), or use --method robust"
        )
    if max_gap < 0:
        raise InputError(f"max_gap must be ≥ 0 frames, found {max_gap}")
    chunk = int(chunk_frames or DEFAULT_CHUNK[method])
    if chunk < 1:
        raise InputError(f"chunk_frames must be ≥ 1, found {chunk}")
    overlap = max(int(overlap), max_gap + 1) if method == "spatiotemporal" else 0
    bones = list(bones)
    if method == "spatiotemporal" and bones and bone_lengths is None:
        bone_lengths, bone_sd = _sample_bones(
            group, read, n_frames, bones, min_score, weighted, threshold_px
        )

    frame_rate = float(fps or 0.0)

    def solve(start: int) -> Chunk:
        stop = min(start + chunk, n_frames)
        a, b = max(0, start - overlap), min(n_frames, stop + overlap)
        uv, conf = read(a, b)
        uv = np.asarray(uv, dtype=np.float64)
        conf = np.asarray(conf, dtype=np.float64)
        w = _weights(conf, uv, min_score, weighted)
        xy = group.undistort_points(uv)
        if method == "dlt":
            res = triangulate_dlt(group, uv, w, xy=xy)
        else:
            res = triangulate_robust(group, uv, w, xy=xy, threshold_px=threshold_px)
        if method == "spatiotemporal" and np.isfinite(res.position).any():
            res = refine(
                group,
                uv,
                res.position,
                weight=w,
                xy=xy,
                fps=frame_rate,
                bones=bones,
                bone_lengths=bone_lengths,
                bone_sd=bone_sd,
                options=options,
            )
            res = _drop_long_gaps(res, max_gap)
        keep = slice(start - a, stop - a)
        res = Triangulated(res.position[keep], res.view_error[:, keep], res.used[:, keep])
        return Chunk(start, stop, res, _score(conf[:, keep], res.used))

    starts = list(range(0, n_frames, chunk))
    done = 0
    report(progress, 0, n_frames, f"triangulate ({method})")
    if workers <= 1:
        for s in starts:
            out = solve(s)
            done += out.stop - out.start
            report(progress, done, n_frames, f"triangulate ({method})")
            yield out
        return
    with cf.ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque[cf.Future[Chunk]] = deque()
        it = iter(starts)
        for s in it:
            pending.append(pool.submit(solve, s))
            if len(pending) >= 2 * workers:
                break
        while pending:
            out = pending.popleft().result()
            nxt = next(it, None)
            if nxt is not None:
                pending.append(pool.submit(solve, nxt))
            done += out.stop - out.start
            report(progress, done, n_frames, f"triangulate ({method})")
            yield out


def _drop_long_gaps(res: Triangulated, max_gap: int) -> Triangulated:
    """NaN where no camera supports a point for more than ``max_gap`` consecutive frames."""
    unsupported = res.used.sum(axis=0) == 0  # (T, P)
    lengths = run_lengths(unsupported)
    drop = unsupported & (lengths > max_gap)
    pos = res.position.copy()
    pos[drop] = np.nan
    used = res.used & ~drop[None]
    return Triangulated(pos, np.where(drop[None], np.nan, res.view_error), used)


def _sample_bones(
    group: CameraGroup,
    read: Reader,
    n_frames: int,
    bones: list[tuple[int, int]],
    min_score: float,
    weighted: bool,
    threshold_px: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Bone lengths and spreads from robust triangulation of (up to) 6000 frames spread
    evenly, in blocks of consecutive frames."""
    block = 300
    n_blocks = max(1, min(n_frames // block, _BONE_SAMPLE_FRAMES // block))
    starts = (
        [0]
        if n_frames <= _BONE_SAMPLE_FRAMES
        else np.linspace(0, n_frames - block, n_blocks).astype(int).tolist()
    )
    size = n_frames if n_frames <= _BONE_SAMPLE_FRAMES else block
    found = []
    for s in starts:
        uv, conf = read(s, s + size)
        uv = np.asarray(uv, dtype=np.float64)
        w = _weights(np.asarray(conf, dtype=np.float64), uv, min_score, weighted)
        res = triangulate_robust(group, uv, w, threshold_px=threshold_px)
        pos = np.where((res.n_views >= 3)[..., None], res.position, np.nan)
        found.append(pos)
    return estimate_bones(np.concatenate(found), np.array(bones).reshape(-1, 2))


# ---------------------------------------------------------------------------- datasets


def triangulate(
    poses2d: xr.Dataset,
    calibration: CameraGroup,
    *,
    method: Method = "spatiotemporal",
    min_score: float = 0.5,
    weighted: bool = True,
    threshold_px: float = DEFAULT_THRESHOLD_PX,
    bones: Sequence[tuple[str, str]] = (),
    fps: float | None = None,
    options: SpatiotemporalOptions = SpatiotemporalOptions(),
    max_gap: int = 10,
    chunk_frames: int | None = None,
    workers: int = 1,
    unseen: Literal["raise", "leave_out"] = "raise",
    progress: Progress | None = None,
) -> xr.Dataset:
    """Triangulate multi-camera 2D tracks into 3D.

    Parameters
    ----------
    poses2d : xarray.Dataset
        Tracks of at least two calibrated cameras (``view`` = camera names), px.
    calibration : CameraGroup
        Its world frame and units (mm) are those of the result.
    method, min_score, weighted, threshold_px, options, max_gap, chunk_frames, workers, progress
        See :func:`triangulate_frames`.
    bones : sequence of (str, str)
        Keypoint pairs with constant distance, e.g. ``rig.skeleton.bones`` (spatiotemporal).
    fps : float, optional
        Frame rate; default ``poses2d.attrs["fps"]``.
    unseen : {"raise", "leave_out"}
        A keypoint no two cameras see in any frame (with confidence ≥ ``min_score``):
        raise, or leave it out — NaN in the result, its bones ignored, its name in
        ``attrs["keypoints_left_out"]`` (only keypoints unseen for every individual).

    Returns
    -------
    xarray.Dataset
        poses3d: ``position`` (time, space, keypoint, individual) mm, NaN where not
        reconstructed; ``reprojection_error`` (mean over the cameras used, px); ``n_views``
        (cameras used); plus ``score`` (lowest confidence among the cameras used) and
        ``view_error`` (view, time, keypoint, individual): the reprojection error in every
        camera with an observation, used or rejected, px.

    Raises
    ------
    InputError
        Cameras not in the calibration, fewer than two cameras, a keypoint never seen by two
        cameras, bones naming unknown keypoints, or no frame rate for the spatiotemporal method.
    """
    poses2d = validate_poses2d(poses2d)
    all_keypoints = [str(k) for k in poses2d.keypoint.values]
    left_out = _unseen_by_all(poses2d, min_score) if unseen == "leave_out" else []
    if left_out and len(left_out) < len(all_keypoints):  # none left: check_keypoints raises
        poses2d = poses2d.drop_sel(keypoint=left_out)
        bones = [b for b in bones if b[0] not in left_out and b[1] not in left_out]
    group = check_cameras(poses2d, calibration)
    check_keypoints(poses2d, min_score=min_score)
    keypoints = [str(k) for k in poses2d.keypoint.values]
    individuals = [str(i) for i in poses2d.individual.values]
    C, T, K, ind = len(group), poses2d.sizes["time"], len(keypoints), len(individuals)
    P = K * ind
    uv_all = poses2d.position.transpose("view", "time", "keypoint", "individual", "space")
    uv_all = uv_all.values.reshape(C, T, P, 2)
    conf_all = poses2d.confidence.transpose("view", "time", "keypoint", "individual")
    conf_all = conf_all.values.reshape(C, T, P)
    fps = fps if fps is not None else poses2d.attrs.get("fps")
    point_bones = bone_indices(bones, keypoints, ind) if method == "spatiotemporal" else []

    arrays = collect_chunks(
        triangulate_frames(
            group,
            lambda a, b: (uv_all[:, a:b], conf_all[:, a:b]),
            T,
            method=method,
            min_score=min_score,
            weighted=weighted,
            threshold_px=threshold_px,
            fps=fps,
            bones=point_bones,
            options=options,
            max_gap=max_gap,
            chunk_frames=chunk_frames,
            workers=workers,
            progress=progress,
        ),
        n_frames=T,
        n_points=P,
        n_cameras=C,
    )
    position, error, n_views = arrays.position, arrays.reprojection_error, arrays.n_views
    score, view_error = arrays.score, arrays.view_error
    ds = make_poses3d(
        position.reshape(T, K, ind, 3).transpose(0, 3, 1, 2),
        keypoints=keypoints,
        individuals=individuals,
        reprojection_error=error.reshape(T, K, ind),
        n_views=n_views.reshape(T, K, ind),
        time=poses2d.time.values,
        fps=fps,
        source_software="mocap3d",
        triangulation_method=method,
        min_score=float(min_score),
        cameras=list(group.names),
    )
    for key in ("time_unit", "time_reference"):
        if key in poses2d.attrs:
            ds.attrs[key] = poses2d.attrs[key]
    ds["score"] = (("time", "keypoint", "individual"), score.reshape(T, K, ind))
    ds["view_error"] = (
        ("view", "time", "keypoint", "individual"),
        view_error.reshape(C, T, K, ind),
    )
    ds = ds.assign_coords(view=list(group.names))
    ds["view_error"].attrs["units"] = "px"
    if left_out:
        ds = ds.reindex(keypoint=all_keypoints, fill_value={"n_views": 0})
        ds.attrs["keypoints_left_out"] = left_out
    return ds


def _unseen_by_all(poses2d: xr.Dataset, min_score: float) -> list[str]:
    """Keypoints no two cameras see in one frame, for every individual."""
    unseen = unseen_keypoints(poses2d, min_score=min_score)
    everyone = [str(i) for i in poses2d.individual.values]
    return [str(k) for k in poses2d.keypoint.values if all((str(k), i) in unseen for i in everyone)]
