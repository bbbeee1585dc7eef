"""DeepLabCut files: 2D tracks (``*DLC_*.h5`` / ``.csv``) and labelled frames (``CollectedData``).

Tracks: a pandas DataFrame under HDF5 key ``df_with_missing``, columns
``(scorer, bodyparts, coords)`` with coords ``x, y, likelihood`` (multi-animal files add an
``individuals`` level), one row per frame. Labels: ``CollectedData_<scorer>.h5`` (+ ``.csv``)
with coords ``x, y`` and one row per labelled image, indexed by
``("labeled-data", <video>, <image>)`` (DeepLabCut 3) or the joined path string (DeepLabCut 2).

pandas/PyTables are imported only here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from mocap3d.datasets import DEFAULT_INDIVIDUAL, make_poses2d
from mocap3d.errors import InputError
from mocap3d.io.atomic import atomic_path

TRACKS_KEY = "df_with_missing"


def _read_frame(path: Path) -> Any:
    import pandas as pd

    if not path.is_file():
        raise InputError(f"DeepLabCut file {path} does not exist")
    try:
        if path.suffix == ".h5":
            with pd.HDFStore(path, mode="r") as store:
                keys = store.keys()
                if not keys:
                    raise InputError(f"{path} holds no table; is it a DeepLabCut .h5 file?")
                key = f"/{TRACKS_KEY}" if f"/{TRACKS_KEY}" in keys else keys[0]
                return store[key]
        if path.suffix == ".csv":
            header = path.read_text(encoding="utf-8").splitlines()[:4]
            n = 4 if len(header) > 3 and header[1].startswith("individuals") else 3
            return pd.read_csv(path, header=list(range(n)), index_col=0)
    except InputError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path} is not a readable DeepLabCut table: {exc}") from None
    raise InputError(f"{path}: expected a DeepLabCut .h5 or .csv file, found {path.suffix!r}")


def _levels(df: Any, path: Path) -> tuple[list[str], list[str]]:
    names = list(df.columns.names)
    if "bodyparts" not in names or "coords" not in names:
        raise InputError(f"{path}: columns must have levels scorer/bodyparts/coords, found {names}")
    keypoints = list(dict.fromkeys(df.columns.get_level_values("bodyparts")))
    if "individuals" in names:
        individuals = list(dict.fromkeys(df.columns.get_level_values("individuals")))
    else:
        individuals = [DEFAULT_INDIVIDUAL]
    return keypoints, individuals


def _column(df: Any, individual: str, keypoint: str, coord: str) -> np.ndarray:
    cols = df.columns
    mask = (cols.get_level_values("bodyparts") == keypoint) & (
        cols.get_level_values("coords") == coord
    )
    if "individuals" in cols.names:
        mask &= cols.get_level_values("individuals") == individual
    if not mask.any():
        return np.full(len(df), np.nan)
    return np.asarray(df.loc[:, mask].iloc[:, 0], dtype=np.float64)


def read_dlc_tracks(path: str | Path, *, view: str, fps: float | None = None) -> xr.Dataset:
    """Read a DeepLabCut tracks file into a one-view poses2d dataset.

    Parameters
    ----------
    path : path-like
        ``.h5`` (key ``df_with_missing``) or ``.csv``, single- or multi-animal.
    view : str
        Camera name for the ``view`` coordinate.
    fps : float, optional
        Frame rate; ``time`` is ``frame / fps`` (frame index if not given).

    Returns
    -------
    xarray.Dataset
        poses2d with ``view = [view]``; missing detections are NaN, ``likelihood`` becomes
        ``confidence``. Attribute ``scorer`` holds DeepLabCut's scorer name.
    """
    path = Path(path)
    df = _read_frame(path)
    keypoints, individuals = _levels(df, path)
    n = len(df)
    pos = np.full((1, n, 2, len(keypoints), len(individuals)), np.nan)
    conf = np.full((1, n, len(keypoints), len(individuals)), np.nan)
    for i, ind in enumerate(individuals):
        for k, kp in enumerate(keypoints):
            pos[0, :, 0, k, i] = _column(df, ind, kp, "x")
            pos[0, :, 1, k, i] = _column(df, ind, kp, "y")
            conf[0, :, k, i] = _column(df, ind, kp, "likelihood")
    has_likelihood = "likelihood" in set(df.columns.get_level_values("coords"))
    if not has_likelihood:
        conf = np.where(np.isfinite(pos).all(axis=2), 1.0, np.nan)
    scorer = str(df.columns.get_level_values(0)[0]) if len(df.columns) else ""
    ds = make_poses2d(
        pos,
        conf,
        views=[view],
        keypoints=keypoints,
        individuals=individuals,
        fps=fps,
        source_software="DeepLabCut",
        scorer=scorer,
        source_file=str(path),
    )
    return ds


def write_dlc_tracks(
    ds: xr.Dataset, path: str | Path, *, view: str | None = None, scorer: str = "mocap3d"
) -> None:
    """Write one view of a poses2d dataset as a DeepLabCut tracks file (``.h5`` or ``.csv``).

    Single-individual datasets are written in the single-animal layout. NaN positions stay NaN.
    """
    import pandas as pd

    path = Path(path)
    if view is None:
        if ds.sizes["view"] != 1:
            raise InputError(f"the dataset has views {list(ds.view.values)}; name one with view=")
        view = str(ds.view.values[0])
    one = ds.sel(view=view)
    keypoints = [str(k) for k in one.keypoint.values]
    individuals = [str(i) for i in one.individual.values]
    multi = len(individuals) > 1
    columns, data = [], []
    for ind in individuals:
        for kp in keypoints:
            p = one.position.sel(individual=ind, keypoint=kp)
            c = one.confidence.sel(individual=ind, keypoint=kp)
            for coord, values in (
                ("x", p.sel(space="x")),
                ("y", p.sel(space="y")),
                ("likelihood", c),
            ):
                columns.append((scorer, ind, kp, coord) if multi else (scorer, kp, coord))
                data.append(np.asarray(values.transpose("time").values, dtype=np.float64))
    names = (
        ["scorer", "individuals", "bodyparts", "coords"]
        if multi
        else ["scorer", "bodyparts", "coords"]
    )
    df = pd.DataFrame(
        np.column_stack(data) if data else np.empty((one.sizes["time"], 0)),
        columns=pd.MultiIndex.from_tuples(columns, names=names),
    )
    _write_table(df, path)


def _write_table(df: Any, path: Path, *, hdf_format: str = "table") -> None:
    """Tracks use PyTables' "table" format (as analyze_videos); labels "fixed" (a MultiIndex
    row index, as DeepLabCut 3 writes CollectedData)."""
    with atomic_path(path) as tmp:
        if path.suffix == ".h5":
            df.to_hdf(tmp, key=TRACKS_KEY, mode="w", format=hdf_format)
        elif path.suffix == ".csv":
            df.to_csv(tmp)
        else:
            raise InputError(f"{path}: write DeepLabCut files as .h5 or .csv")


# ------------------------------------------------------------------------- labelled frames


@dataclass(frozen=True)
class LabelledFrames:
    """Labelled images of one DeepLabCut video folder.

    Attributes
    ----------
    images : list of str
        Paths relative to the project, ``labeled-data/<video>/<image>.png``.
    keypoints : list of str
    xy : ndarray, (n_images, n_keypoints, 2)
        Pixel coordinates; NaN where a keypoint was not labelled (not visible).
    scorer : str
    """

    images: list[str]
    keypoints: list[str]
    xy: np.ndarray
    scorer: str


def read_collected_data(path: str | Path) -> LabelledFrames:
    """Read ``CollectedData_<scorer>.h5`` or ``.csv`` (DeepLabCut 2 or 3 index style)."""
    path = Path(path)
    df = _read_frame(path)
    keypoints, individuals = _levels(df, path)
    if len(individuals) > 1:
        raise InputError(f"{path} is a multi-animal labels file; mocap3d tracks one animal")
    xy = np.stack(
        [
            np.stack([_column(df, individuals[0], kp, c) for c in ("x", "y")], axis=-1)
            for kp in keypoints
        ],
        axis=1,
    )
    images = ["/".join(map(str, i)) if isinstance(i, tuple) else str(i) for i in df.index]
    scorer = str(df.columns.get_level_values(0)[0])
    return LabelledFrames(images, keypoints, xy, scorer)


def write_collected_data(folder: str | Path, labels: LabelledFrames) -> Path:
    """Write ``CollectedData_<scorer>.h5`` and ``.csv`` into a ``labeled-data/<video>`` folder.

    The index is DeepLabCut 3's ``("labeled-data", video, image)`` triple.
    """
    import pandas as pd

    folder = Path(folder)
    n, k = len(labels.images), len(labels.keypoints)
    if labels.xy.shape != (n, k, 2):
        raise InputError(f"labels.xy must have shape ({n}, {k}, 2), found {labels.xy.shape}")
    parts = [tuple(p.split("/")) for p in labels.images]
    if any(len(p) != 3 for p in parts):
        raise InputError("label image paths must look like labeled-data/<video>/<image>.png")
    columns = pd.MultiIndex.from_tuples(
        [(labels.scorer, kp, c) for kp in labels.keypoints for c in ("x", "y")],
        names=["scorer", "bodyparts", "coords"],
    )
    df = pd.DataFrame(
        labels.xy.reshape(n, 2 * k), index=pd.MultiIndex.from_tuples(parts), columns=columns
    )
    h5 = folder / f"CollectedData_{labels.scorer}.h5"
    folder.mkdir(parents=True, exist_ok=True)
    _write_table(df, h5, hdf_format="fixed")
    _write_table(df, h5.with_suffix(".csv"))
    return h5


def tracks_keypoints(path: str | Path) -> Sequence[str]:
    """Keypoint names in a DeepLabCut tracks or labels file, in file order."""
    path = Path(path)
    return _levels(_read_frame(path), path)[0]
