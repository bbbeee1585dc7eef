"""Overlay videos: each camera with its 2D tracks and the reprojected 3D skeleton, and a grid of
all cameras on the session clock.

Drawing conventions: a **ring** in the keypoint's colour is the 2D track (grey when its
confidence is below ``min_confidence``); a **magenta dot** and magenta bones are the 3D skeleton
projected into the camera through its calibration (with distortion, :meth:`Camera.project`),
so a ring centred on its dot means tracking and triangulation agree. Frames are matched to
poses by the poses' ``frame_index`` (from sync) or, without it, row = video frame.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mocap3d.camera import CameraGroup
from mocap3d.errors import InputError
from mocap3d.progress import Progress, report
from mocap3d.report.figures.common import phases
from mocap3d.report.video import Codec, VideoSink, video_suffix
from mocap3d.results import TrialResults

# BGR; no magenta-like colour, which is reserved for the reprojected skeleton.
KEYPOINT_BGR = [
    (180, 119, 31), (14, 127, 255), (44, 160, 44), (40, 39, 214), (75, 86, 140),
    (34, 189, 188), (207, 190, 23), (0, 215, 255), (128, 128, 128), (128, 0, 0),
]  # fmt: skip
REPROJECTED_BGR = (255, 0, 255)
LOW_CONFIDENCE_BGR = (150, 150, 150)
_SHIFT = 4  # sub-pixel drawing: coordinates in 1/16 px


@dataclass(frozen=True)
class OverlayOptions:
    """How overlay videos look and are written.

    Attributes
    ----------
    codec : {"auto", "h264", "vp8", "mp4v", "mjpg"}
        See :mod:`mocap3d.report.video`.
    playback_fps : float
        Frame rate of the written videos (500 fps recorded at 50 fps playback = 10× slower).
    scale : int, optional
        Pixel magnification of camera overlays; default the smallest making them ≥ 320 px wide.
    min_confidence : float
        Tracks below this confidence are drawn grey.
    cameras, grid : bool
        Write the per-camera videos / the grid of all cameras.
    """

    codec: Codec = "auto"
    playback_fps: float = 50.0
    scale: int | None = None
    min_confidence: float = 0.5
    individual: str | None = None
    cameras: bool = True
    grid: bool = True


def _px(uv: np.ndarray, scale: int) -> np.ndarray:
    """Image pixels → fixed-point pixels of the magnified frame (pixel centres stay centres)."""
    return np.round(((uv + 0.5) * scale - 0.5) * (1 << _SHIFT)).astype(np.int64)


def phase_at(t: float, events: Mapping[str, float]) -> str:
    """The jump phase at time ``t`` (s), or ``""``."""
    for label, a, b in phases(events):
        if a <= t < b:
            return label
    return ""


def draw_overlay(
    frame: np.ndarray,
    *,
    scale: int = 1,
    tracks: np.ndarray | None = None,
    confidence: np.ndarray | None = None,
    reprojected: np.ndarray | None = None,
    bones: Sequence[tuple[int, int]] = (),
    min_confidence: float = 0.5,
    text: Sequence[str] = (),
) -> np.ndarray:
    """One overlay frame.

    Parameters
    ----------
    frame : (h, w) or (h, w, 3) uint8
        The video frame (grey or BGR).
    scale : int
        Magnification of the output, (h·scale, w·scale, 3).
    tracks : (n_keypoints, 2) array, optional
        2D tracks, px (NaN: not tracked); rings.
    confidence : (n_keypoints,) array, optional
    reprojected : (n_keypoints, 2) array, optional
        The 3D skeleton projected into this camera, px; magenta dots and bones.
    bones : sequence of (int, int)
        Keypoint index pairs.
    text : sequence of str
        Lines written in the top-left corner.
    """
    import cv2

    img = frame if frame.ndim == 3 else cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    if scale != 1:
        img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    else:
        img = img.copy()
    r = max(3, 2 * scale + 1)
    if tracks is not None:
        conf = np.ones(len(tracks)) if confidence is None else np.asarray(confidence)
        ok = np.isfinite(tracks).all(axis=1)
        p = _px(np.where(ok[:, None], tracks, 0), scale)
        for k in np.flatnonzero(ok):
            good = conf[k] >= min_confidence
            colour = KEYPOINT_BGR[k % len(KEYPOINT_BGR)] if good else LOW_CONFIDENCE_BGR
            cv2.circle(img, tuple(p[k]), r << _SHIFT, colour, 1, cv2.LINE_AA, _SHIFT)
    if reprojected is not None:
        ok = np.isfinite(reprojected).all(axis=1)
        p = _px(np.where(ok[:, None], reprojected, 0), scale)
        for a, b in bones:
            if ok[a] and ok[b]:
                cv2.line(img, tuple(p[a]), tuple(p[b]), REPROJECTED_BGR, 1, cv2.LINE_AA, _SHIFT)
        for k in np.flatnonzero(ok):
            cv2.circle(
                img, tuple(p[k]), max(1, scale) << _SHIFT, REPROJECTED_BGR, -1, cv2.LINE_AA, _SHIFT
            )
    for i, line in enumerate(text):
        y = 12 + 13 * i
        cv2.putText(img, line, (4, y), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(
            img, line, (4, y), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (255, 255, 255), 1, cv2.LINE_AA
        )
    return img


def _nearest(src: np.ndarray, dst: np.ndarray, tol: float) -> np.ndarray:
    """For each time in ``dst`` the index of the nearest time in ``src`` within ``tol``, or -1."""
    if not src.size:
        return np.full(dst.shape, -1)
    j = np.clip(np.searchsorted(src, dst), 1, max(src.size - 1, 1)) if src.size > 1 else 0 * dst
    j = np.asarray(j, dtype=np.int64)
    if src.size > 1:
        j = np.where(np.abs(src[j - 1] - dst) <= np.abs(src[j] - dst), j - 1, j)
    return np.where(np.abs(src[j] - dst) <= tol, j, -1)


class _Reader:
    """Reads one video forward, frame by frame, for the frames asked for in increasing order."""

    def __init__(self, path: Path):
        import cv2

        self.cap = cv2.VideoCapture(str(path))
        if not self.cap.isOpened():
            raise InputError(f"cannot open video {path}")
        self.n = int(self.cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.next = 0
        self.path = path

    def read(self) -> np.ndarray | None:
        ok, frame = self.cap.read()
        if not ok:
            return None
        self.next += 1
        return np.asarray(frame)

    def close(self) -> None:
        self.cap.release()


def render_overlays(
    out_dir: str | Path,
    trial: TrialResults,
    *,
    bones: Sequence[tuple[str, str]],
    cameras: CameraGroup | None = None,
    options: OverlayOptions = OverlayOptions(),
    progress: Progress | None = None,
) -> dict[str, Path]:
    """Write a trial's camera overlays (``<camera>_overlay``) and the grid (``grid``).

    Parameters
    ----------
    out_dir : path-like
        Folder for the videos.
    trial : TrialResults
        Needs ``videos``; ``poses2d`` and ``poses3d`` are drawn when present (3D only for
        cameras in ``cameras``).
    bones : sequence of (str, str)
        Skeleton edges by keypoint name.

    Returns
    -------
    dict of str to Path
        Camera name (and ``"grid"``) → video written.
    """
    if not trial.videos:
        raise InputError(f"trial {trial.name!r} has no videos to overlay")
    out_dir = Path(out_dir)
    p2, p3 = trial.poses2d, trial.poses3d
    ind = options.individual or trial.individuals[0]
    cams = [c for c in trial.videos if p2 is None or c in [str(v) for v in p2["view"].values]]
    base = p2 if p2 is not None else p3
    kps = [str(k) for k in base["keypoint"].values] if base is not None else []
    bone_idx = [(kps.index(a), kps.index(b)) for a, b in bones if a in kps and b in kps]
    readers = {c: _Reader(trial.videos[c]) for c in cams}
    try:
        if base is not None:
            times = base["time"].values
        else:  # videos only: the first camera's exposure times, else frame numbers
            first = trial.exposures.get(cams[0])
            n = readers[cams[0]].n
            times = first[:n] if first is not None else np.arange(n, dtype=np.float64)
        fps = float(base.attrs.get("fps", 0)) if base is not None else 0.0
        if fps > 0:
            period = 1.0 / fps
        else:
            period = float(np.median(np.diff(times))) if times.size > 1 else 1.0
        frame_of = {}
        for c in cams:
            if p2 is not None and "frame_index" in p2:
                frame_of[c] = p2["frame_index"].sel(view=c).values.astype(np.int64)
            else:
                frame_of[c] = np.where(
                    np.arange(times.size) < readers[c].n, np.arange(times.size), -1
                )
        reproj: dict[str, np.ndarray] = {}
        if p3 is not None and cameras is not None:
            pos = p3["position"].sel(individual=ind, keypoint=kps)
            xyz = pos.transpose("time", "keypoint", "space").values
            rows = _nearest(p3["time"].values, times, 0.25 * period)
            for c in cams:
                if c in cameras.names:
                    uv = cameras[c].project(xyz)
                    reproj[c] = np.where(
                        (rows >= 0)[:, None, None], uv[np.maximum(rows, 0)], np.nan
                    )
        scale = options.scale or max(1, min(4, int(np.ceil(320 / readers[cams[0]].cap.get(3)))))
        return _write(
            out_dir,
            trial,
            cams,
            readers,
            frame_of,
            times,
            reproj,
            bone_idx,
            scale,
            ind,
            options,
            progress,
        )
    finally:
        for r in readers.values():
            r.close()


def _write(
    out_dir: Path,
    trial: TrialResults,
    cams: list[str],
    readers: dict[str, _Reader],
    frame_of: dict[str, np.ndarray],
    times: np.ndarray,
    reproj: dict[str, np.ndarray],
    bone_idx: list[tuple[int, int]],
    scale: int,
    ind: str,
    options: OverlayOptions,
    progress: Progress | None,
) -> dict[str, Path]:
    import cv2

    p2 = trial.poses2d
    suffix = video_suffix(options.codec)
    sizes = {c: (int(readers[c].cap.get(3)), int(readers[c].cap.get(4))) for c in cams}
    tile = (max(w for w, _ in sizes.values()), max(h for _, h in sizes.values()))
    ncols = 1 if len(cams) == 1 else 2
    nrows = int(np.ceil(len(cams) / ncols))
    paths: dict[str, Path] = {}
    with contextlib.ExitStack() as stack:
        sinks: dict[str, VideoSink] = {}
        if options.cameras:
            for c in cams:
                w, h = sizes[c]
                paths[c] = out_dir / f"{c}_overlay{suffix}"
                size = (w * scale + (w * scale) % 2, h * scale + (h * scale) % 2)
                sinks[c] = stack.enter_context(
                    VideoSink(paths[c], size, options.playback_fps, options.codec)
                )
        grid = None
        if options.grid:
            paths["grid"] = out_dir / f"grid{suffix}"
            gsize = (tile[0] * ncols, tile[1] * nrows)
            grid = stack.enter_context(
                VideoSink(paths["grid"], gsize, options.playback_fps, options.codec)
            )

        tracks_of: dict[str, np.ndarray] = {}
        conf_of: dict[str, np.ndarray] = {}
        if p2 is not None:
            for c in cams:
                one = p2.sel(view=c, individual=ind)
                tracks_of[c] = one["position"].transpose("time", "keypoint", "space").values
                conf_of[c] = one["confidence"].transpose("time", "keypoint").values

        def overlay(c: str, frame: np.ndarray, i: int | None, s: int) -> np.ndarray:
            tracks = conf = rp = None
            if i is not None and c in tracks_of:
                tracks, conf = tracks_of[c][i], conf_of[c][i]
            if i is not None and c in reproj:
                rp = reproj[c][i]
            t = f"{times[i]:.4f} s {phase_at(times[i], trial.events)}" if i is not None else ""
            return draw_overlay(
                frame,
                scale=s,
                tracks=tracks,
                confidence=conf,
                reprojected=rp,
                bones=bone_idx,
                min_confidence=options.min_confidence,
                text=[f"{trial.name} {c}", t],
            )

        def emit(c: str, img: np.ndarray) -> None:
            if c in sinks:
                w, h = sinks[c].size
                out = np.zeros((h, w, 3), np.uint8)
                out[: img.shape[0], : img.shape[1]] = img
                sinks[c].write(out)

        for i in range(times.size):
            tiles = []
            for c in cams:
                j = int(frame_of[c][i])
                shown = tile_img = None
                while j >= 0 and readers[c].next <= j:
                    k = readers[c].next
                    frame = readers[c].read()
                    if frame is None:
                        break
                    img = overlay(c, frame, i if k == j else None, scale)
                    emit(c, img)
                    if k == j:
                        shown, tile_img = frame, img if scale == 1 else None
                if shown is not None and tile_img is None:
                    tile_img = overlay(c, shown, i, 1)
                tiles.append(tile_img)
            if grid is not None:
                img = np.zeros((grid.size[1], grid.size[0], 3), np.uint8)
                for n, (c, t) in enumerate(zip(cams, tiles, strict=True)):
                    y, x = divmod(n, ncols)
                    if t is None:
                        t = np.zeros((tile[1], tile[0], 3), np.uint8)
                        cv2.putText(t, f"{c}: no frame", (8, 20), 0, 0.45, (255, 255, 255), 1)
                    img[
                        y * tile[1] : y * tile[1] + t.shape[0],
                        x * tile[0] : x * tile[0] + t.shape[1],
                    ] = t
                grid.write(img)
            if i % 25 == 0:
                report(progress, i, times.size, f"overlays {trial.name}")
        for c in cams:  # video frames after the last pose row
            while (frame := readers[c].read()) is not None:
                emit(c, overlay(c, frame, None, scale))
    report(progress, times.size, times.size, f"overlays {trial.name}")
    return paths
