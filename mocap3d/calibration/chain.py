"""First guess of the camera poses: a chain of relative poses over the co-visibility graph.

Two cameras that see the board in the same frame know their relative pose from that frame
(board → camera A, then camera B → board). Averaged robustly over all such frames, each pair
gives an edge weighted by the number of frames that agree. The maximum spanning tree from the
reference camera then chains the edges, so a rig where no frame shows the board to every
camera (cameras facing each other, a ring of cameras) still gets every camera placed, as long
as the graph is connected.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mocap3d.calibration.poses import invert_T, robust_mean_T
from mocap3d.errors import InputError


@dataclass(frozen=True)
class Edge:
    """Relative pose between two cameras from the frames both saw."""

    a: int
    b: int
    T_ab: np.ndarray  # camera b → camera a, 4×4
    n_shared: int  # frames with a pose in both cameras
    n_agree: int  # of those, frames agreeing with the robust mean


@dataclass(frozen=True)
class Chain:
    """Initial world → camera transforms (world = the reference camera's frame).

    Attributes
    ----------
    T_cw : (n_cameras, 4, 4) ndarray
    reference : int
    edges : list of Edge
        Every pair that shares frames.
    parents : list of int
        Spanning-tree parent of every camera (−1 for the reference).
    """

    T_cw: np.ndarray
    reference: int
    edges: list[Edge]
    parents: list[int]


def pair_edges(T_cf: np.ndarray, *, min_shared: int = 1) -> list[Edge]:
    """Edges between every pair of cameras from board poses ``T_cf`` (n_cams, n_frames, 4, 4).

    ``T_cf[c, f]`` is the board → camera pose (NaN when camera c has none in frame f).
    """
    have = np.all(np.isfinite(T_cf.reshape(*T_cf.shape[:2], 16)), axis=2)
    edges = []
    n = len(T_cf)
    for a in range(n):
        for b in range(a + 1, n):
            shared = np.flatnonzero(have[a] & have[b])
            if len(shared) < min_shared:
                continue
            rel = [T_cf[a, f] @ invert_T(T_cf[b, f]) for f in shared]
            T, n_agree = robust_mean_T(rel, max_angle_deg=3.0)
            edges.append(Edge(a, b, T, len(shared), n_agree))
    return edges


def chain_poses(T_cf: np.ndarray, names: list[str], *, reference: int | None = None) -> Chain:
    """Place every camera by chaining relative poses along the strongest edges.

    Raises
    ------
    InputError
        A camera (or group of cameras) never sees the board in a frame together with the
        others; the message names them and says what to film.
    """
    n = len(T_cf)
    edges = pair_edges(T_cf)
    weight = np.zeros((n, n))
    by_pair: dict[tuple[int, int], Edge] = {}
    for e in edges:
        weight[e.a, e.b] = weight[e.b, e.a] = e.n_agree
        by_pair[(e.a, e.b)] = e
    if reference is None:
        reference = int(np.argmax(weight.sum(axis=1)))
    T_cw = np.full((n, 4, 4), np.nan)
    T_cw[reference] = np.eye(4)
    parents = [-1] * n
    placed = {reference}
    while len(placed) < n:  # Prim: strongest edge from the placed set to a new camera
        best = (0.0, -1, -1)
        for a in placed:
            for b in range(n):
                if b not in placed and weight[a, b] > best[0]:
                    best = (weight[a, b], a, b)
        if best[1] < 0:
            raise InputError(_disconnected_message(names, placed, T_cf))
        _, a, b = best
        e = by_pair[(min(a, b), max(a, b))]
        T_ab = e.T_ab if e.a == a else invert_T(e.T_ab)  # b → a
        T_cw[b] = invert_T(T_ab) @ T_cw[a]
        parents[b] = a
        placed.add(b)
    return Chain(T_cw, reference, edges, parents)


def _disconnected_message(names: list[str], placed: set[int], T_cf: np.ndarray) -> str:
    have = np.all(np.isfinite(T_cf.reshape(*T_cf.shape[:2], 16)), axis=2)
    lonely = [i for i in range(len(names)) if i not in placed]
    joined = [names[i] for i in sorted(placed)]
    parts = []
    for i in lonely:
        n_alone = int(have[i].sum())
        parts.append(f"{names[i]!r} ({n_alone} frame(s) with a board pose)")
    return (
        f"camera(s) {', '.join(parts)} never see the board in the same frame as "
        f"{', '.join(repr(j) for j in joined)}, so they cannot be placed relative to them; "
        "film the board where each of these cameras and one of the others see it at the same "
        "time (a few frames with the board turned between them are enough), or, if the "
        "cameras are not triggered together, give frame keys that pair their frames"
    )
