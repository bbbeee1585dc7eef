"""Why was no board found? Compare what the footage shows with what the board spec says.

Called when a camera yields no (or too few) board views. A few frames are searched for ArUco
markers of every OpenCV dictionary, in normal and inverted polarity; then boards of other
sizes and of the other (legacy / new) layout are tried. The message names the likely cause
and the line of the spec to change.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np

from mocap3d.calibration.board import BoardSpec, aruco_dictionary_names

if TYPE_CHECKING:
    from mocap3d.calibration.detect import CameraDetections
    from mocap3d.calibration.footage import Footage

_N_SAMPLES = 6


def sample_frames(footage: Footage, n: int = _N_SAMPLES) -> list[np.ndarray]:
    """Up to ``n`` frames spread over the footage."""
    stride = max(1, footage.n_frames // n)
    out = []
    for _, img in footage.frames(stride=stride):
        out.append(img)
        if len(out) == n:
            break
    return out


def _markers(img: np.ndarray, dictionary: str) -> np.ndarray:
    import cv2

    det = cv2.aruco.ArucoDetector(
        cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, dictionary)),
        cv2.aruco.DetectorParameters(),
    )
    _, ids, _ = det.detectMarkers(img)
    return np.zeros(0, int) if ids is None else ids.ravel()


def _n_corners(images: list[np.ndarray], spec: BoardSpec) -> int:
    import cv2

    det = cv2.aruco.CharucoDetector(spec.to_cv2())
    total = 0
    for img in images:
        _, ids, _, _ = det.detectBoard(cv2.bitwise_not(img) if spec.inverted else img)
        total += 0 if ids is None else len(ids)
    return total


def diagnose_spec(images: list[np.ndarray], spec: BoardSpec) -> list[str]:
    """Likely mismatches between the board in ``images`` and ``spec``, each with its fix.

    Parameters
    ----------
    images : list of (H, W) uint8 ndarray
        Grayscale frames that should show the board.
    spec : BoardSpec

    Returns
    -------
    list of str
        Empty when nothing points at the spec (e.g. no markers at all).
    """
    import cv2

    found: Counter[tuple[str, bool]] = Counter()
    ids_seen: dict[tuple[str, bool], set[int]] = {}
    for img in images:
        for inverted in (False, True):
            view = cv2.bitwise_not(img) if inverted else img
            for name in aruco_dictionary_names():
                ids = _markers(view, name)
                found[(name, inverted)] += len(ids)
                ids_seen.setdefault((name, inverted), set()).update(int(i) for i in ids)
    if not found or max(found.values()) == 0:
        return []
    best, n_best = found.most_common(1)[0]
    n_spec = found[(spec.dictionary, spec.inverted)]
    hints: list[str] = []
    if n_best >= max(4, 1.5 * n_spec + 2):
        name, inverted = best
        if name != spec.dictionary and not _same_family(name, spec.dictionary, ids_seen[best]):
            hints.append(
                f"the markers are from {name}, not {spec.dictionary}: set "
                f'dictionary = "{name}" in the board spec'
            )
        if inverted != spec.inverted:
            what = "white markers on black" if inverted else "black markers on white"
            hints.append(
                f"the board is printed {what}: set inverted = {str(inverted).lower()} in the "
                "board spec"
            )
        return hints
    seen = ids_seen[(spec.dictionary, spec.inverted)]
    if n_spec == 0:
        return []
    hints += _size_hints(images, spec, seen)
    return hints


def _same_family(a: str, b: str, ids: set[int]) -> bool:
    """DICT_4X4_50 is the start of DICT_4X4_100 …: ids below the smaller size fit both."""
    fa, fb = a.rsplit("_", 1), b.rsplit("_", 1)
    if fa[0] != fb[0] or not (fa[1].isdigit() and fb[1].isdigit()):
        return False
    return max(ids, default=0) < min(int(fa[1]), int(fb[1]))


def _size_hints(images: list[np.ndarray], spec: BoardSpec, seen: set[int]) -> list[str]:
    base = _n_corners(images, spec)
    candidates: list[dict[str, Any]] = [{"legacy_pattern": not spec.legacy_pattern}]
    if spec.squares_x != spec.squares_y:
        candidates.append({"squares_x": spec.squares_y, "squares_y": spec.squares_x})
    max_id = max(seen)
    if max_id >= spec.n_markers:
        for sx in range(3, 25):
            for sy in range(3, 25):
                n = (sx * sy) // 2
                if max_id < n <= max_id + max(sx, sy) and n <= spec.dictionary_size:
                    candidates.append({"squares_x": sx, "squares_y": sy})
    scored = []
    for change in candidates:
        for legacy in ({}, {"legacy_pattern": not spec.legacy_pattern}):
            trial = {**spec.model_dump(), **legacy, **change}
            try:
                other = BoardSpec.model_validate(trial)
            except ValueError:
                continue
            scored.append((_n_corners(images, other), {**legacy, **change}))
    hints = []
    if scored:
        n, change = max(scored, key=lambda s: s[0])
        if n > max(1.5 * base, base + 4):
            fix = ", ".join(f"{k} = {str(v).lower()}" for k, v in change.items())
            hints.append(
                f"the board's layout does not match the spec ({base} corners found with the "
                f"spec, {n} with {fix}): set {fix} in the board spec"
            )
    if max_id >= spec.n_markers and not hints:
        hints.append(
            f"marker id {max_id} was seen but a {spec.squares_x}×{spec.squares_y} board has "
            f"only {spec.n_markers} markers (ids 0–{spec.n_markers - 1}): squares_x / "
            "squares_y in the spec are smaller than the printed board"
        )
    return hints


def no_board_message(
    footage: Footage, det: CameraDetections, spec: BoardSpec, min_views: int
) -> str:
    """The error message for a camera in which (too few) boards were found."""
    where = f"camera {footage.camera!r} ({footage.path})"
    got = (
        f"no ChArUco corners were found in any of the {det.n_examined} frames examined"
        if det.n_views == 0
        else f"only {det.n_views} frame(s) with the board were found in {det.n_examined} "
        f"examined, {min_views} needed"
    )
    hints = diagnose_spec(sample_frames(footage), spec)
    flags = (", inverted" if spec.inverted else "") + (
        ", legacy pattern" if spec.legacy_pattern else ""
    )
    board = (
        f"{spec.name or 'board'}: {spec.squares_x}×{spec.squares_y} squares, "
        f"{spec.dictionary}{flags}"
    )
    if hints:
        return f"{where}: {got}; the board does not match the spec ({board}): " + "; ".join(hints)
    if det.marker_frames:
        return (
            f"{where}: {got}, although markers were seen in {det.marker_frames} frames; the "
            f"board ({board}) is too small, too oblique or partly hidden — film it closer and "
            "more face-on, or check squares_x/squares_y in the spec"
        )
    return (
        f"{where}: {got}, and no ArUco markers of any dictionary are visible; check that "
        "this camera films the board (in focus, not over- or under-exposed, markers at least "
        "~15 px wide), or remove the camera from the calibration"
    )
