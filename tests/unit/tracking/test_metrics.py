"""Accuracy measures on cases small enough to compute by hand."""

from __future__ import annotations

import numpy as np
import pytest

from mocap3d.errors import InputError
from mocap3d.timeseries import running_median
from mocap3d.tracking.evaluate import score
from mocap3d.tracking.metrics import (
    body_lengths,
    jitter,
    keypoint_errors,
    mae,
    miss_rate,
    pck,
    swap_rate,
)

NAN = np.nan
KP = ["nose", "left", "right"]


def _case():
    # two images, three keypoints; labels and predictions chosen so errors are 3-4-5 triangles
    true = np.array(
        [
            [[0.0, 0.0], [10.0, 0.0], [20.0, 0.0]],
            [[0.0, 0.0], [10.0, 0.0], [NAN, NAN]],  # "right" not labelled in image 2
        ]
    )
    pred = np.array(
        [
            [[3.0, 4.0], [10.0, 0.0], [20.0, 5.0]],  # errors 5, 0, 5
            [[0.0, 0.0], [10.0, 3.0], [1.0, 1.0]],  # errors 0, 3, (unlabelled)
        ]
    )
    conf = np.array([[0.9, 0.5, 0.95], [0.99, 0.85, 0.1]])
    return pred, conf, true


def test_errors_and_mae_by_hand():
    pred, conf, true = _case()
    e = keypoint_errors(pred, true)
    np.testing.assert_allclose(e, [[5, 0, 5], [0, 3, NAN]])
    per, overall, counts = mae(e)
    np.testing.assert_allclose(per, [2.5, 1.5, 5.0])
    assert overall == pytest.approx(13 / 5)  # mean over the 5 labelled points
    np.testing.assert_array_equal(counts, [2, 2, 1])
    # p-cutoff 0.8 drops "left" of image 1 (0.5)
    per_c, overall_c, counts_c = mae(e, conf, pcutoff=0.8)
    np.testing.assert_allclose(per_c, [2.5, 3.0, 5.0])
    assert overall_c == pytest.approx(13 / 4)
    np.testing.assert_array_equal(counts_c, [2, 1, 1])


def test_pck_miss_and_swaps_by_hand():
    pred, conf, true = _case()
    e = keypoint_errors(pred, true)
    labelled = np.isfinite(true).all(axis=-1)
    lengths = body_lengths(true, KP, ("nose", "right"))
    np.testing.assert_allclose(lengths, [20.0, 20.0])  # image 2 gets the median of image 1
    per, overall = pck(e, labelled, lengths, [0.1, 0.25])
    # threshold 2 px: only errors 0 pass; 5 px: 5, 0, 5, 0 pass, 3 passes too
    np.testing.assert_allclose(per, [[0.5, 0.5, 0.0], [1.0, 1.0, 1.0]])
    np.testing.assert_allclose(overall, [2 / 5, 5 / 5])
    miss_per, miss_all = miss_rate(labelled, conf, pcutoff=0.8)
    np.testing.assert_allclose(miss_per, [0.0, 0.5, 0.0])
    assert miss_all == pytest.approx(1 / 5)
    # swap: image 1 left/right predicted crossed
    crossed = pred.copy()
    crossed[0, 1], crossed[0, 2] = true[0, 2], true[0, 1]
    rates = swap_rate(crossed, true, KP, [("left", "right")])
    assert rates[("left", "right")] == (1.0, 1)  # image 2 has no "right" label: not counted


def test_score_rows_match_the_pieces():
    pred, conf, true = _case()
    rows, swaps = score(
        pred,
        conf,
        true,
        KP,
        split="test",
        pcutoff=0.8,
        thresholds=[0.25],
        body_length=("nose", "right"),
        left_right=[("left", "right")],
    )
    overall = rows[-1]
    assert overall["keypoint"] == "all" and overall["n_labelled"] == 5
    assert overall["mae_px"] == pytest.approx(2.6)
    assert overall["mae_pcutoff_px"] == pytest.approx(3.25)
    assert overall["pck@0.25"] == pytest.approx(1.0)
    assert overall["miss_rate"] == pytest.approx(0.2)
    assert swaps == [{"split": "test", "pair": "left|right", "swap_rate": 0.0, "n": 1}]


def test_jitter_of_a_track_with_one_spike():
    xy = np.zeros((21, 1, 2))
    xy[:, 0, 0] = np.arange(21.0)  # steady motion: no deviation from the running median
    rms, rate = jitter(xy, window=5, threshold_px=2.0)
    assert rms[0] == pytest.approx(0.0) and rate[0] == 0.0
    xy[10, 0, 1] = 6.0  # one 6 px spike
    rms, rate = jitter(xy, window=5, threshold_px=2.0)
    assert rms[0] == pytest.approx(np.sqrt(36 / 21))
    assert rate[0] == pytest.approx(1 / 21)


def test_running_median_ignores_nan_and_keeps_it():
    x = np.array([1.0, 100.0, 3.0, NAN, 5.0])
    # the end frames are their own medians (the window shrinks symmetrically)
    np.testing.assert_allclose(running_median(x, 3), [1.0, 3.0, 51.5, NAN, 5.0])


def test_bad_shapes_and_names_raise():
    with pytest.raises(InputError, match="n_images, n_keypoints, 2"):
        keypoint_errors(np.zeros((2, 3, 2)), np.zeros((2, 2, 2)))
    with pytest.raises(InputError, match="body-length keypoints"):
        body_lengths(np.zeros((1, 3, 2)), KP, ("nose", "tail"))
    with pytest.raises(InputError, match="odd"):
        running_median(np.zeros(4), 4)
    with pytest.raises(InputError, match="confidence"):
        mae(np.zeros((1, 1)), pcutoff=0.5)
