"""Why was no board found? Compare what the footage shows with what the board spec says.

Called when a camera yields no (or too few) board views. A few frames are searched for ArUco
markers of every OpenCV dictionary, in normal and inverted polarity; then boards of other
sizes and of the other (legacy / new) layout are tried. The message names the likely cause
and the line of the spec to change.
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np

from mocap3d.calibration.board import BoardSpec, aruco_dictionary_names

if TYPE_CHECKING:
    from mocap3d.calibration.detect import CameraDetections
    from mocap3d.calibration.footage import Footage

_N_SAMPLES = 12


def sample_frames(footage: Footage, n: int = _N_SAMPLES) -> list[np.ndarray]:
    """Up to ``n`` frames spread over the footage."""
    stride = max(1, footage.n_frames // n)
    out = []
    for _, img in footage.frames(stride=stride):
        out.append(img)
        if len(out) == n:
            break
    return out


def _candidates(img: np.ndarray) -> list[np.ndarray]:
    """Dark quadrilaterals that could be markers (accepted or rejected by any dictionary)."""
    import cv2

    det = cv2.aruco.ArucoDetector(
        cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_4X4_50), cv2.aruco.DetectorParameters()
    )
    corners, _, rejected = det.detectMarkers(img)
    quads = [np.asarray(q, np.float32).reshape(4, 2) for q in (*corners, *rejected)]
    quads.sort(key=lambda q: -cv2.contourArea(q))
    return quads[:60]


def _bits(img: np.ndarray, quad: np.ndarray, n: int) -> np.ndarray | None:
    """Inner ``n × n`` bits (1 = white) of a marker candidate, or None if its border is not
    black."""
    import cv2

    cell = 8
    side = (n + 2) * cell
    dst = np.array([[0, 0], [side - 1, 0], [side - 1, side - 1], [0, side - 1]], np.float32)
    warped = cv2.warpPerspective(img, cv2.getPerspectiveTransform(quad, dst), (side, side))
    _, binary = cv2.threshold(warped, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    m = cell // 4
    cells = binary.reshape(n + 2, cell, n + 2, cell)[:, m:-m, :, m:-m].mean(axis=(1, 3))
    border = np.concatenate([cells[0], cells[-1], cells[1:-1, 0], cells[1:-1, -1]])
    if border.mean() > 0.2:
        return None
    return (cells[1:-1, 1:-1] > 0.5).astype(np.uint8)


@functools.cache
def _code_table(name: str) -> np.ndarray:
    """Bits (n_markers, n·n) of every marker of a predefined dictionary."""
    import cv2

    d = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, name))
    n = d.markerSize
    table = d.bytesList
    return np.stack(
        [d.getBitsFromByteList(table[i : i + 1], n).ravel() for i in range(len(table))]
    ).astype(np.uint8)


def _identify(img: np.ndarray) -> dict[str, set[int]]:
    """Marker ids of every predefined dictionary found (exact codes, any rotation)."""
    names = aruco_dictionary_names()
    sizes = {name: int(np.sqrt(_code_table(name).shape[1])) for name in names}
    found: dict[str, set[int]] = {}
    for quad in _candidates(img):
        for n in sorted(set(sizes.values())):
            bits = _bits(img, quad, n)
            if bits is None:
                continue
            rotations = np.stack([np.rot90(bits, k).ravel() for k in range(4)])  # (4, n·n)
            for name in names:
                if sizes[name] != n:
                    continue
                hit = np.flatnonzero(
                    np.any(np.all(_code_table(name)[:, None, :] == rotations[None], axis=2), axis=1)
                )
                if hit.size:
                    found.setdefault(name, set()).add(int(hit[0]))
    return found


def _n_corners(images: list[np.ndarray], spec: BoardSpec, cache: dict[Any, Any]) -> int:
    """ChArUco corners found in ``images`` with ``spec`` (markers found once per image and
    dictionary, kept in ``cache``)."""
    import cv2

    board = spec.to_cv2()
    det = cv2.aruco.CharucoDetector(board)
    markers = cv2.aruco.ArucoDetector(board.getDictionary(), cv2.aruco.DetectorParameters())
    total = 0
    for img in images:
        view = cv2.bitwise_not(img) if spec.inverted else img
        key = (id(img), spec.dictionary, spec.inverted)
        if key not in cache:
            cache[key] = markers.detectMarkers(view)[:2]
        corners, ids = cache[key]
        if ids is None or len(ids) == 0:
            continue
        _, found, _, _ = det.detectBoard(view, markerCorners=corners, markerIds=ids)
        total += 0 if found is None else len(found)
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

    frames_with: dict[tuple[str, bool], Counter[int]] = {}
    for img in images:
        for inverted in (False, True):
            view = cv2.bitwise_not(img) if inverted else img
            for name, ids in _identify(view).items():
                frames_with.setdefault((name, inverted), Counter()).update(ids)
    ids_seen = {key: _real_ids(counts) for key, counts in frames_with.items()}
    found = Counter({key: len(ids) for key, ids in ids_seen.items()})
    if not found or max(found.values()) == 0:
        return []
    best, n_best = max(
        found.items(), key=lambda kv: (kv[1], kv[0] == (spec.dictionary, spec.inverted))
    )
    n_spec = found[(spec.dictionary, spec.inverted)]
    hints: list[str] = []
    if n_best >= max(4, 1.5 * n_spec + 2):
        name, inverted = best
        name = _smallest_of_family(name, ids_seen[best])
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
    seen = ids_seen.get((spec.dictionary, spec.inverted), set())
    if n_spec == 0:
        return []
    hints += _size_hints(images, spec, seen)
    return hints


def _real_ids(counts: Counter[int]) -> set[int]:
    """The ids that look like a board's: a board's markers are ids 0 … n−1, so they crowd at
    the low end, while chance matches of background clutter (likely with the big
    dictionaries) are spread over all ids."""
    ids = set(counts)
    return {i for i in ids if i < 2 * len(ids) + 4}


def _smallest_of_family(name: str, ids: set[int]) -> str:
    """DICT_4X4_1000 → DICT_4X4_50 when every id seen is below 50, etc."""
    family, _, size = name.rpartition("_")
    if not size.isdigit():
        return name
    sizes = sorted(
        int(n.rpartition("_")[2])
        for n in aruco_dictionary_names()
        if n.rpartition("_")[0] == family and n.rpartition("_")[2].isdigit()
    )
    fits = [n for n in sizes if n > max(ids, default=0)]
    return f"{family}_{fits[0]}" if fits else name


def _same_family(a: str, b: str, ids: set[int]) -> bool:
    """DICT_4X4_50 is the start of DICT_4X4_100 …: ids below the smaller size fit both."""
    fa, fb = a.rsplit("_", 1), b.rsplit("_", 1)
    if fa[0] != fb[0] or not (fa[1].isdigit() and fb[1].isdigit()):
        return False
    return max(ids, default=0) < min(int(fa[1]), int(fb[1]))


def _size_hints(images: list[np.ndarray], spec: BoardSpec, seen: set[int]) -> list[str]:
    images = images[:3]
    cache: dict[Any, Any] = {}
    base = _n_corners(images, spec, cache)
    candidates: list[dict[str, Any]] = [{"legacy_pattern": not spec.legacy_pattern}]
    if spec.squares_x != spec.squares_y:
        candidates.append({"squares_x": spec.squares_y, "squares_y": spec.squares_x})
    max_id = max(seen)
    for sx in range(3, 17):  # boards with just enough markers for the ids seen
        for sy in range(3, 17):
            n = (sx * sy) // 2
            if (
                (sx, sy) != (spec.squares_x, spec.squares_y)
                and max_id < n <= max_id + max(sx, sy)
                and n <= spec.dictionary_size
            ):
                candidates.append({"squares_x": sx, "squares_y": sy})
    scored = []
    for change in candidates:
        for legacy in ({}, {"legacy_pattern": not spec.legacy_pattern}):
            trial = {**spec.model_dump(), **legacy, **change}
            try:
                other = BoardSpec.model_validate(trial)
            except ValueError:
                continue
            scored.append((_n_corners(images, other, cache), {**legacy, **change}))
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
        f"{where}: {got}, and no ArUco markers of any dictionary are visible in the "
        f"{_N_SAMPLES} frames sampled; check that "
        "this camera films the board (in focus, not over- or under-exposed, markers at least "
        "~15 px wide), or remove the camera from the calibration"
    )
