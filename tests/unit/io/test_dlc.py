"""DeepLabCut files: round trips, DLC 2 and 3 label layouts, the real example project."""

from __future__ import annotations

import numpy as np
import pytest

from mocap3d.datasets import make_poses2d
from mocap3d.errors import InputError
from mocap3d.io.dlc import (
    LabelledFrames,
    read_collected_data,
    read_dlc_tracks,
    tracks_keypoints,
    write_collected_data,
    write_dlc_tracks,
)


def tracks(rng, n=30, individuals=("individual_0",)):
    pos = rng.uniform(0, 300, size=(1, n, 2, 3, len(individuals)))
    pos[0, 4, :, 1, 0] = np.nan
    conf = rng.uniform(size=(1, n, 3, len(individuals)))
    conf[0, 4, 1, 0] = 0.0
    return make_poses2d(
        pos,
        conf,
        views=["front"],
        keypoints=["nose", "hip", "toe"],
        individuals=list(individuals),
        fps=500,
    )


@pytest.mark.parametrize("suffix", [".h5", ".csv"])
@pytest.mark.parametrize("individuals", [("individual_0",), ("m1", "m2")])
def test_tracks_round_trip(tmp_path, rng, suffix, individuals):
    ds = tracks(rng, individuals=individuals)
    path = tmp_path / f"front{suffix}"
    write_dlc_tracks(ds, path, scorer="DLC_test")
    back = read_dlc_tracks(path, view="front", fps=500)
    np.testing.assert_allclose(back.position.values, ds.position.values, rtol=1e-12)
    np.testing.assert_allclose(back.confidence.values, ds.confidence.values, rtol=1e-12)
    assert list(back.individual.values) == list(individuals)
    assert back.attrs["scorer"] == "DLC_test" and back.attrs["source_software"] == "DeepLabCut"
    assert tracks_keypoints(path) == ["nose", "hip", "toe"]


def test_tracks_file_has_deeplabcut_layout(tmp_path, rng):
    import pandas as pd

    write_dlc_tracks(tracks(rng), tmp_path / "t.h5", scorer="DLC_resnet50")
    df = pd.read_hdf(tmp_path / "t.h5", key="df_with_missing")
    assert df.columns.names == ["scorer", "bodyparts", "coords"]
    assert list(df.columns[:3]) == [("DLC_resnet50", "nose", c) for c in ("x", "y", "likelihood")]


def test_without_fps_time_counts_frames(tmp_path, rng):
    write_dlc_tracks(tracks(rng), tmp_path / "t.h5")
    ds = read_dlc_tracks(tmp_path / "t.h5", view="front")
    assert ds.attrs["time_unit"] == "frame" and ds.time.values[5] == 5


def test_real_labels_load(real_data):
    labels = read_collected_data(
        real_data / "dlc_openfield/labeled-data/m4s1/CollectedData_Pranav.h5"
    )
    assert labels.keypoints == ["snout", "leftear", "rightear", "tailbase"]
    assert labels.scorer == "Pranav" and len(labels.images) == 116
    assert labels.images[0] == "labeled-data/m4s1/img0000.png"
    np.testing.assert_allclose(labels.xy[0, 0], [21.521, 265.428])
    assert np.isfinite(labels.xy).mean() > 0.9
    csv = read_collected_data(
        real_data / "dlc_openfield/labeled-data/m4s1/CollectedData_Pranav.csv"
    )
    np.testing.assert_allclose(csv.xy, labels.xy, equal_nan=True)


def test_labels_round_trip_in_deeplabcut3_layout(tmp_path, rng):
    import pandas as pd

    xy = rng.uniform(0, 100, size=(4, 2, 2))
    xy[1, 0] = np.nan
    labels = LabelledFrames(
        [f"labeled-data/trial_1_front/img{i:04d}.png" for i in range(4)], ["nose", "toe"], xy, "sim"
    )
    h5 = write_collected_data(tmp_path / "labeled-data" / "trial_1_front", labels)
    assert h5.name == "CollectedData_sim.h5" and h5.with_suffix(".csv").is_file()
    df = pd.read_hdf(h5)
    assert df.index[0] == ("labeled-data", "trial_1_front", "img0000.png")
    back = read_collected_data(h5)
    np.testing.assert_allclose(back.xy, xy, equal_nan=True)
    assert back.images == labels.images


def test_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_dlc_tracks(tmp_path / "none.h5", view="a")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(InputError, match=r"expected a DeepLabCut \.h5 or \.csv"):
        read_dlc_tracks(tmp_path / "x.txt", view="a")
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match=r"bad\.csv"):
        read_dlc_tracks(tmp_path / "bad.csv", view="a")
