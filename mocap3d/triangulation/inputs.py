"""What triangulation accepts: per-camera 2D tracks checked against the calibration.

Every problem is an :class:`~mocap3d.errors.InputError` that names the camera or keypoint:
cameras missing from the calibration, fewer than two cameras, keypoints that no two cameras
see, and tracks of different lengths — those must be aligned by synchronisation first; they
are never cut to the shortest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr

from mocap3d.camera import CameraGroup
from mocap3d.datasets import make_poses2d, validate_poses2d
from mocap3d.errors import InputError


def combine_views(tracks: Mapping[str, xr.Dataset]) -> xr.Dataset:
    """Stack one-camera poses2d datasets (e.g. one DeepLabCut file per camera) into one.

    Parameters
    ----------
    tracks : mapping of camera name → poses2d dataset
        Each with a single view (its name is replaced by the key) and the same frames. The
        keypoints and individuals are the union over cameras (NaN where a camera lacks one).

    Raises
    ------
    InputError
        If the tracks have different numbers of frames, or different time stamps after
        synchronisation. Cameras triggered together record the same frames; a dropped or extra
        frame must be found by synchronisation — tracks are never cut to the shortest.
    """
    if not tracks:
        raise InputError("no camera tracks given; pass one tracks file per camera")
    items = [(name, validate_poses2d(ds)) for name, ds in tracks.items()]
    for name, ds in items:
        if ds.sizes["view"] != 1:
            raise InputError(
                f"tracks for camera {name!r} hold {ds.sizes['view']} views "
                f"{list(ds.view.values)}; give one file per camera"
            )
    lengths = {name: ds.sizes["time"] for name, ds in items}
    if len(set(lengths.values())) > 1:
        listing = ", ".join(f"{n}: {k} frames" for n, k in lengths.items())
        raise InputError(
            f"the cameras' tracks have different lengths ({listing}). Cameras triggered "
            "together must have the same frames: find the dropped or extra frames by "
            "synchronising the videos to the DAQ clock (mocap3d sync) and triangulate the "
            "synchronised tracks — mocap3d never cuts tracks to the shortest"
        )
    synced = [ds.attrs.get("time_reference") == "session" for _, ds in items]
    times = items[0][1].time.values
    if all(synced):
        for name, ds in items[1:]:
            if not np.allclose(ds.time.values, times, rtol=0, atol=1e-9):
                raise InputError(
                    f"camera {name!r} has different time stamps from camera {items[0][0]!r}; "
                    "synchronised tracks must share the session clock's frame times"
                )
    keypoints = list(dict.fromkeys(str(k) for _, ds in items for k in ds.keypoint.values))
    individuals = list(dict.fromkeys(str(i) for _, ds in items for i in ds.individual.values))
    n = len(times)
    pos = np.full((len(items), n, 2, len(keypoints), len(individuals)), np.nan)
    conf = np.full((len(items), n, len(keypoints), len(individuals)), np.nan)
    for v, (_, ds) in enumerate(items):
        full = ds.reindex(keypoint=keypoints, individual=individuals)  # NaN where absent
        pos[v] = full.position.transpose("view", "time", "space", "keypoint", "individual")[0]
        conf[v] = full.confidence.transpose("view", "time", "keypoint", "individual")[0]
    first = items[0][1]
    fps = first.attrs.get("fps")
    return make_poses2d(
        pos,
        conf,
        views=[name for name, _ in items],
        keypoints=keypoints,
        individuals=individuals,
        fps=fps,
        time=times if (all(synced) or fps is None) else None,
        source_software=str(first.attrs.get("source_software", "")),
    )


def check_cameras(poses2d: xr.Dataset, calibration: CameraGroup) -> CameraGroup:
    """The calibration's cameras for the dataset's views, in the dataset's view order.

    Raises
    ------
    InputError
        If a view is not a camera of the calibration, or fewer than two views are given.
    """
    views = [str(v) for v in poses2d.view.values]
    unknown = [v for v in views if v not in calibration.names]
    if unknown:
        raise InputError(
            f"camera(s) {unknown} in the tracks are not in the calibration, whose cameras are "
            f"{calibration.names}; name each tracks file after its calibrated camera "
            "(--camera NAME=TRACKS.h5 with NAME from calibration.toml)"
        )
    if len(views) < 2:
        raise InputError(
            f"triangulation needs tracks from at least two cameras, found {len(views)} "
            f"({views}); add --camera NAME=TRACKS.h5 for another calibrated camera"
        )
    return calibration.subset(views)


def usable(uv: np.ndarray, conf: np.ndarray, min_score: float) -> np.ndarray:
    """Which 2D detections are used: a finite position with confidence ≥ ``min_score`` and
    > 0; a position without a confidence (NaN) counts as sure.

    ``uv`` (..., 2), ``conf`` (...) → bool (...).
    """
    conf = np.where(np.isnan(conf), 1.0, conf)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(uv[..., 0]) & np.isfinite(uv[..., 1]) & (conf >= min_score) & (conf > 0)
    return np.asarray(ok, dtype=bool)


def unseen_keypoints(poses2d: xr.Dataset, *, min_score: float) -> dict[tuple[str, str], list[str]]:
    """(keypoint, individual) never seen by two cameras in one frame → the cameras that see
    it at all (:func:`usable` detections)."""
    pos = poses2d.position.transpose("view", "time", "keypoint", "individual", "space").values
    conf = poses2d.confidence.transpose("view", "time", "keypoint", "individual").values
    good = usable(pos, conf, min_score)
    pairs = np.asarray((good.sum(axis=0) >= 2).any(axis=0))  # (keypoint, individual)
    per_view = np.asarray(good.any(axis=1))  # (view, keypoint, individual)
    views = [str(v) for v in poses2d.view.values]
    return {
        (kp, ind): [v for c, v in enumerate(views) if per_view[c, k, i]]
        for k, kp in enumerate(map(str, poses2d.keypoint.values))
        for i, ind in enumerate(map(str, poses2d.individual.values))
        if not pairs[k, i]
    }


def check_keypoints(poses2d: xr.Dataset, *, min_score: float) -> None:
    """Raise if a keypoint (of any individual) is never seen by two cameras in one frame."""
    unseen = unseen_keypoints(poses2d, min_score=min_score)
    if not unseen:
        return
    problems = []
    for (kp, ind), seen in unseen.items():
        who = f" of {ind!r}" if poses2d.sizes["individual"] > 1 else ""
        where = f"only by {seen}" if seen else "by no camera"
        problems.append(f"{kp!r}{who} is seen {where}")
    raise InputError(
        "keypoint(s) with no data to triangulate — never seen by two cameras in the same "
        f"frame with confidence ≥ {min_score:g}: " + "; ".join(problems) + ". Check the "
        "tracking of these keypoints, lower --min-score, or drop them from the tracks"
    )


def bone_indices(
    bones: Sequence[tuple[str, str]], keypoints: Sequence[str], n_individuals: int
) -> list[tuple[int, int]]:
    """Bones as pairs of point indices along the flattened (keypoint, individual) axis."""
    keypoints = list(keypoints)
    out = []
    for a, b in bones:
        missing = [k for k in (a, b) if k not in keypoints]
        if missing:
            raise InputError(
                f"bone ({a!r}, {b!r}) names keypoint(s) {missing} that the tracks do not have; "
                f"the tracks' keypoints are {keypoints} — fix skeleton.bones in the rig"
            )
        ka, kb = keypoints.index(a), keypoints.index(b)
        out += [(ka * n_individuals + i, kb * n_individuals + i) for i in range(n_individuals)]
    return out
