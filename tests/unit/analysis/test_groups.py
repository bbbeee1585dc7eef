"""Group statistics: Hedges' g, tests at their stated alpha with nested trials, tables on disk."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mocap3d.analysis.groups import (
    compare_all,
    compare_groups,
    comparison_summary,
    hedges_g,
    holm,
    metric_columns,
    metrics_table,
    read_metrics_table,
    summarise_groups,
    write_metrics_table,
)
from mocap3d.errors import InputError


def nested(rng, *, effect: float, mice: int = 6, trials: int = 4, mouse_sd: float = 1.0,
           trial_sd: float = 0.5) -> pd.DataFrame:  # fmt: skip
    """Trials nested in mice: value = group effect + mouse effect + trial noise."""
    rows = []
    for g, shift in (("control", 0.0), ("perturbed", effect)):
        for m in range(mice):
            mouse = rng.normal(0, mouse_sd)
            for t in range(trials):
                y = shift + mouse + rng.normal(0, trial_sd)
                rows.append({"session": f"{g}{m}", "subject": f"{g}{m}", "group": g,
                             "trial": f"t{t}", "y": y})  # fmt: skip
    return metrics_table(rows, {"y": "mm"})


def test_hedges_g_against_the_formula():
    a = np.array([10.0, 12.0, 11.0, 13.0, 9.0])
    b = np.array([14.0, 15.0, 13.0, 16.0, 17.0, 15.5])
    sp = math.sqrt((4 * a.var(ddof=1) + 5 * b.var(ddof=1)) / 9)
    d = (b.mean() - a.mean()) / sp
    g, lo, hi = hedges_g(a, b)
    assert g == pytest.approx(d * (1 - 3 / (4 * 11 - 9)))
    se = math.sqrt(11 / 30 + g**2 / 22)
    assert lo == pytest.approx(g - 1.959964 * se, rel=1e-5) and hi == pytest.approx(
        g + 1.959964 * se, rel=1e-5
    )
    assert np.isnan(hedges_g(a[:1], b)[0]) and np.isnan(hedges_g(np.ones(3), np.ones(3))[0])


def test_g_confidence_interval_covers_the_true_effect(rng):
    cover = 0
    for _ in range(400):
        a, b = rng.normal(0, 1, 15), rng.normal(0.8, 1, 15)
        _, lo, hi = hedges_g(a, b)
        cover += lo <= 0.8 <= hi
    assert 0.91 < cover / 400 < 0.98


def test_false_positive_rate_with_nested_trials(rng):
    """Per-animal means keep the stated alpha when mice vary; treating trials as independent
    (pseudo-replication) does not."""
    n = 300
    animal = trials = mixed = 0
    for i in range(n):
        df = nested(rng, effect=0.0)
        animal += compare_groups(df, "y").significant
        trials += compare_groups(df, "y", nesting="none").significant
        if i < 60:
            mixed += compare_groups(df, "y", nesting="mixed").significant
    # binomial(300, 0.05): 99.9 % of outcomes lie within 3–28
    assert 3 <= animal <= 28, animal
    assert trials > 2.5 * animal and trials / n > 0.15
    assert mixed <= 9  # Wald z on 12 mice: somewhat liberal, far from pseudo-replication


def test_power_against_a_real_difference(rng):
    hits = sum(compare_groups(nested(rng, effect=2.0), "y").significant for _ in range(100))
    assert hits >= 80
    mw = sum(
        compare_groups(nested(rng, effect=2.0), "y", test="mannwhitney").significant
        for _ in range(50)
    )
    assert mw >= 35


def test_comparison_fields_and_directions(rng):
    df = nested(rng, effect=3.0)
    c = compare_groups(df, "y")
    assert (c.reference, c.other) == ("control", "perturbed")  # control is the reference
    assert c.n_reference == c.n_other == 6 and c.n_trials_reference == 24
    assert c.difference > 0 and c.hedges_g > 0 and c.g_ci_low < c.hedges_g < c.g_ci_high
    assert c.test == "welch" and c.unit == "mm" and c.note == ""
    flipped = compare_groups(df, "y", groups=("perturbed", "control"))
    assert flipped.hedges_g == pytest.approx(-c.hedges_g)
    m = compare_groups(df, "y", nesting="mixed")
    assert m.test == "mixedlm" and m.p < 0.05
    few = df[df["subject"].isin(["control0", "perturbed0", "perturbed1"])]
    c1 = compare_groups(few, "y")
    assert np.isnan(c1.p) and "too few animals" in c1.note and not c1.significant
    with pytest.raises(InputError, match="no column"):
        compare_groups(df, "nope")
    with pytest.raises(InputError, match="two of"):
        compare_groups(df, "y", groups=("control", "sham"))


def test_holm_and_compare_all(rng):
    np.testing.assert_allclose(holm([0.01, 0.04, np.nan, 0.03]), [0.03, 0.06, np.nan, 0.06])
    df = nested(rng, effect=3.0)
    df["z"] = rng.normal(size=len(df))
    df["when_s"] = rng.normal(size=len(df))
    df["empty"] = np.nan
    df.attrs["units"] = {"y": "mm", "z": "1", "when_s": "s", "empty": "mm"}
    out = compare_all(df)
    assert list(out["metric"]) == ["y", "z"]  # absolute times and empty columns skipped
    assert (out["p_holm"] >= out["p"]).all()
    assert (out["significant_holm"] == (out["p_holm"] < 0.05)).all()
    s = summarise_groups(df, metrics=["y"])
    assert set(s["group"]) == {"control", "perturbed"} and (s["n_animals"] == 6).all()


def test_the_summary_counts_metrics_that_differ_after_holm(rng):
    """20 metrics, 19 of them null: a metric with unadjusted p < alpha but not after Holm
    is listed as such and not counted."""
    df = nested(rng, effect=3.0)
    units = {"y": "mm"}
    for k in range(19):
        df[f"null{k}_mm"] = rng.normal(size=len(df))
        units[f"null{k}_mm"] = "mm"
    df.attrs["units"] = units
    for seed in range(50):  # a draw where some null metric has p < 0.05 but not Holm's
        out = compare_all(df)
        weak = out[out["significant"] & ~out["significant_holm"]]
        if len(weak):
            break
        r = np.random.default_rng(seed)
        for k in range(19):
            df[f"null{k}_mm"] = r.normal(size=len(df))
    assert len(weak), "no null metric below alpha in 50 draws"
    lines = comparison_summary(out)
    n_holm, n_raw = int(out["significant_holm"].sum()), int(out["significant"].sum())
    assert n_holm < n_raw
    assert lines[0].endswith(
        f"{n_holm} of 20 metrics differ after Holm's adjustment ({n_raw} at unadjusted p)"
    )
    name = weak.iloc[0]["metric"]
    (line,) = [x for x in lines if x.startswith(f"  {name}:")]
    assert line.endswith("[not after Holm]")
    (y,) = [x for x in lines if x.startswith("  y:")]
    assert "not after Holm" not in y
    assert comparison_summary(out.iloc[:0]) == []


def test_trials_without_a_subject_are_left_out_not_pooled(rng):
    df = nested(rng, effect=1.0)
    df["subject"] = df["subject"].astype(object)
    blank = df["session"].isin(["control0", "perturbed5"])
    df.loc[blank, "subject"] = ""
    with_blank = compare_groups(df, "y")
    without = compare_groups(df[~blank], "y")
    assert with_blank.p == pytest.approx(without.p) and with_blank.n_reference == 5
    assert with_blank.n_trials_reference == 20  # 4 of 24 trials left out
    assert "8 trial(s) without a 'subject' left out" in with_blank.note
    assert (summarise_groups(df, metrics=["y"])["n_animals"] == 5).all()
    df.loc[blank, "subject"] = np.nan  # as read back from CSV
    assert compare_groups(df, "y", nesting="mixed").n_trials_other == 20
    assert "session.toml" in compare_groups(df, "y").note
    assert "without a" not in compare_groups(df, "y", nesting="none").note


def test_table_round_trip_csv_and_h5(tmp_path, rng):
    df = nested(rng, effect=1.0)
    df["reasons"] = ["", "jump_height_impulse_mm: no flight"] * (len(df) // 2)
    df.loc[1, "y"] = np.nan
    write_metrics_table(df, tmp_path / "m.csv", tmp_path / "m.h5")
    for path in (tmp_path / "m.csv", tmp_path / "m.h5"):
        back = read_metrics_table(path)
        pd.testing.assert_frame_equal(
            back[df.columns].reset_index(drop=True), df.reset_index(drop=True), check_dtype=False
        )
        assert back.attrs["units"] == {"y": "mm"}
        assert metric_columns(back) == ["y"]
    with pytest.raises(InputError, match="does not exist"):
        read_metrics_table(tmp_path / "nothing.csv")
