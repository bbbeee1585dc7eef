"""Tables and group comparisons: one row per trial, summaries, effect sizes and tests.

The metrics table has one row per trial: label columns (``session``, ``subject``, ``group``,
``trial`` …), one column per metric (unit in the name, units also in ``table.attrs["units"]``),
``events_source``, ``notes`` (how a metric was computed where that matters, e.g. the force
drift estimated without quiet stance after the landing) and ``reasons`` (why the trial's
missing metrics are missing). It is written
as CSV and as HDF5 (netCDF-4 via h5netcdf, readable by pandas through xarray and by any HDF5
tool).

Comparisons (:func:`compare_groups`) between two groups of trials labelled by a column
(``group`` by default, or any condition column):

- **nesting**: several trials per mouse are not independent. ``nesting="animal"`` (default)
  averages each animal's trials first and compares animals (n = mice); ``"mixed"`` fits a
  linear mixed model ``metric ~ group + (1 | subject)`` on all trials (statsmodels, REML; the
  p-value is the Wald z test of the group coefficient, optimistic with few animals);
  ``"none"`` treats trials as independent (only right with one trial per animal).
- **test**: Welch's unequal-variance t-test (default) or the Mann–Whitney U test, two-sided.
- **effect size**: Hedges' g (bias-corrected standardised mean difference, second group minus
  reference) with its normal-approximation confidence interval (Hedges & Olkin 1985).
- several metrics: Holm's step-down adjustment of the p-values is reported beside them
  (``p_holm``, ``significant_holm``); summaries count a metric as differing by it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from mocap3d.errors import InputError
from mocap3d.io.atomic import atomic_path

__all__ = [
    "LABELS",
    "TEXT_COLUMNS",
    "Comparison",
    "compare_all",
    "compare_groups",
    "comparison_summary",
    "hedges_g",
    "metric_columns",
    "metrics_table",
    "named_animal",
    "read_metrics_table",
    "summarise_groups",
    "write_metrics_table",
]

LABELS = ("session", "subject", "group", "trial")
"""Label columns every table starts with."""
TEXT_COLUMNS = ("events_source", "notes", "reasons")
"""Text columns every table ends with: where the events came from, what to know about how a
trial's metrics were computed, why its missing metrics are missing."""


def metrics_table(
    rows: Sequence[dict[str, Any]], units: dict[str, str] | None = None
) -> pd.DataFrame:
    """A metrics table from per-trial rows (e.g. ``TrialResult.row()``); missing cells NaN.

    ``units`` (metric → unit) is kept in ``table.attrs["units"]``.
    """
    df = pd.DataFrame(list(rows))
    for c in LABELS:
        if c not in df.columns:
            df[c] = ""
    first = [c for c in LABELS] + [
        c for c in df.columns if c not in LABELS and c not in TEXT_COLUMNS
    ]
    last = [c for c in TEXT_COLUMNS if c in df.columns]
    df = df[first + last]
    df.attrs["units"] = dict(units or {})
    return df


def metric_columns(df: pd.DataFrame, *, include_times: bool = False) -> list[str]:
    """Numeric metric columns (those with a unit when the table has units); absolute event
    times (unit "s") only if ``include_times``."""
    units = df.attrs.get("units", {})
    out = []
    for c in df.columns:
        if c in LABELS or c in TEXT_COLUMNS or not pd.api.types.is_numeric_dtype(df[c]):
            continue
        if units and c not in units:  # a numeric label, e.g. trial_start_s
            continue
        if not include_times and units.get(c) == "s":
            continue
        out.append(c)
    return out


def write_metrics_table(
    df: pd.DataFrame, csv_path: str | Path, h5_path: str | Path | None = None
) -> None:
    """Write the table as CSV (and HDF5) atomically.

    Units go to ``<name>.units.csv`` beside the CSV and to each variable's ``units`` attribute
    in the HDF5 file (dimension ``row``).
    """
    import xarray as xr

    csv_path = Path(csv_path)
    with atomic_path(csv_path) as tmp:
        df.to_csv(tmp, index=False)
    units = df.attrs.get("units", {})
    with atomic_path(csv_path.with_suffix(".units.csv")) as tmp:
        pd.DataFrame({"metric": list(units), "unit": list(units.values())}).to_csv(tmp, index=False)
    if h5_path is not None:
        ds = xr.Dataset.from_dataframe(df.reset_index(drop=True).rename_axis("row"))
        for c in ds.data_vars:
            if ds[c].dtype == object:
                ds[c] = ds[c].astype(str)
            if c in units:
                ds[c].attrs["units"] = units[c]
        ds.attrs["layout"] = "mocap3d.metrics"
        with atomic_path(h5_path) as tmp:
            ds.to_netcdf(tmp, engine="h5netcdf", invalid_netcdf=True)


def read_metrics_table(path: str | Path) -> pd.DataFrame:
    """Read a table written by :func:`write_metrics_table` (``.csv`` or ``.h5``)."""
    import xarray as xr

    path = Path(path)
    if not path.is_file():
        raise InputError(f"metrics table {path} does not exist; run `mocap3d analyze` first")
    if path.suffix == ".csv":
        df = pd.read_csv(path, keep_default_na=True)
        side = path.with_suffix(".units.csv")
        units = dict(pd.read_csv(side).values.tolist()) if side.is_file() else {}
    else:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            df = ds.load().to_dataframe().reset_index(drop=True)
            units = {c: ds[c].attrs["units"] for c in ds.data_vars if "units" in ds[c].attrs}
    for c in (*LABELS, *TEXT_COLUMNS):
        if c in df.columns:
            df[c] = df[c].fillna("").astype(str)
    df.attrs["units"] = units
    return df


def summarise_groups(
    df: pd.DataFrame, *, by: str = "group", metrics: Sequence[str] | None = None
) -> pd.DataFrame:
    """Per-group n (trials, animals), mean, SD, SEM and median of every metric (long format)."""
    _need(df, by)
    cols = list(metrics) if metrics is not None else metric_columns(df)
    rows = []
    for g, sub in df.groupby(by, sort=True):
        for c in cols:
            v = sub[c].to_numpy(dtype=float)
            ok = v[np.isfinite(v)]
            animals = (
                sub.loc[np.isfinite(v) & named_animal(sub["subject"]), "subject"].nunique()
                if "subject" in sub
                else np.nan
            )
            rows.append({
                "metric": c, by: g, "unit": df.attrs.get("units", {}).get(c, ""),
                "n_trials": ok.size, "n_animals": animals,
                "mean": ok.mean() if ok.size else np.nan,
                "sd": ok.std(ddof=1) if ok.size > 1 else np.nan,
                "sem": ok.std(ddof=1) / math.sqrt(ok.size) if ok.size > 1 else np.nan,
                "median": np.median(ok) if ok.size else np.nan,
            })  # fmt: skip
    return pd.DataFrame(rows)


def hedges_g(
    a: np.ndarray, b: np.ndarray, *, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Hedges' g of ``b`` relative to ``a`` and its confidence interval (normal approximation).

    ``g = J · (mean_b − mean_a) / s_pooled`` with ``J = 1 − 3 / (4 (n_a + n_b) − 9)``;
    ``SE = sqrt((n_a + n_b)/(n_a n_b) + g² / (2 (n_a + n_b)))``. NaN if either group has
    fewer than 2 values or no spread.
    """
    from scipy.stats import norm

    a, b = np.asarray(a, float), np.asarray(b, float)
    na, nb = a.size, b.size
    if na < 2 or nb < 2:
        return (np.nan, np.nan, np.nan)
    sp = math.sqrt(((na - 1) * a.var(ddof=1) + (nb - 1) * b.var(ddof=1)) / (na + nb - 2))
    if sp == 0:
        return (np.nan, np.nan, np.nan)
    j = 1 - 3 / (4 * (na + nb) - 9)
    g = j * (b.mean() - a.mean()) / sp
    se = math.sqrt((na + nb) / (na * nb) + g * g / (2 * (na + nb)))
    z = float(norm.ppf(0.5 + confidence / 2))
    return (g, g - z * se, g + z * se)


@dataclass(frozen=True)
class Comparison:
    """One metric compared between a reference group and another."""

    metric: str
    unit: str
    by: str
    reference: str
    other: str
    nesting: str
    test: str
    n_reference: int  # units compared (animals or trials)
    n_other: int
    n_trials_reference: int
    n_trials_other: int
    mean_reference: float
    mean_other: float
    difference: float
    hedges_g: float
    g_ci_low: float
    g_ci_high: float
    statistic: float
    p: float
    alpha: float
    significant: bool
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _need(df: pd.DataFrame, *cols: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise InputError(
            f"the metrics table has no column(s) {missing}; it has {list(df.columns)[:12]} …"
        )


def _pick_groups(df: pd.DataFrame, by: str, groups: Sequence[str] | None) -> tuple[str, str]:
    present = sorted(str(g) for g in df[by].dropna().unique() if str(g) != "")
    if groups is not None:
        if len(groups) != 2 or any(g not in present for g in groups):
            raise InputError(f"compare two of the {by!r} values {present}, found {list(groups)}")
        return str(groups[0]), str(groups[1])
    if len(present) != 2:
        raise InputError(
            f"column {by!r} has {len(present)} value(s) {present}; name the two to compare "
            "(--groups A,B)"
        )
    if "control" in present:
        present.remove("control")
        return "control", present[0]
    return present[0], present[1]


def compare_groups(
    df: pd.DataFrame,
    metric: str,
    *,
    by: str = "group",
    groups: Sequence[str] | None = None,
    test: Literal["welch", "mannwhitney"] = "welch",
    nesting: Literal["animal", "mixed", "none"] = "animal",
    subject: str = "subject",
    alpha: float = 0.05,
    confidence: float = 0.95,
) -> Comparison:
    """Compare one metric between two groups (module docstring).

    Parameters
    ----------
    df : metrics table
    metric : column to compare
    by : label column that names the groups (``group`` or a condition column)
    groups : (reference, other), optional
        Default: the column's two values, ``control`` as reference if present.
    test, nesting, subject, alpha, confidence
        See the module docstring; ``subject`` names the animal column.

    Returns
    -------
    Comparison
        p is NaN (with a ``note``) when a group has fewer than 2 units.
    """
    from scipy import stats

    _need(df, metric, by)
    if nesting in ("animal", "mixed"):
        _need(df, subject)
    ref, oth = _pick_groups(df, by, groups)
    d = df[[by, metric] + ([subject] if subject in df.columns else [])].copy()
    d[by] = d[by].astype(str)
    d = d[np.isfinite(d[metric].to_numpy(dtype=float)) & d[by].isin([ref, oth])]
    note = ""
    if nesting in ("animal", "mixed"):  # a trial of no known animal cannot be nested
        nameless = ~named_animal(d[subject])
        if nameless.any():
            note = (
                f"{int(nameless.sum())} trial(s) without a {subject!r} left out (they would "
                f"be pooled as one animal): set `{subject}` in their session.toml "
                "(`mocap3d record --subject`)"
            )
            d = d[~nameless]
    n_trials = {g: int((d[by] == g).sum()) for g in (ref, oth)}
    unit = df.attrs.get("units", {}).get(metric, "")
    if nesting == "animal":
        units = d.groupby([by, subject], sort=False)[metric].mean().reset_index()
    else:
        units = d
    a = units.loc[units[by] == ref, metric].to_numpy(dtype=float)
    b = units.loc[units[by] == oth, metric].to_numpy(dtype=float)
    g, lo, hi = hedges_g(a, b, confidence=confidence)
    stat = p = np.nan
    if a.size < 2 or b.size < 2:
        what = "animals" if nesting == "animal" else "values"
        note = _join(note, f"too few {what} ({a.size} vs {b.size}) for a test")
    elif nesting == "mixed":
        stat, p, how = _mixed(d, metric, by, subject, ref)
        note = _join(note, how)
        test = "mixedlm"  # type: ignore[assignment]
    elif test == "welch":
        r = stats.ttest_ind(b, a, equal_var=False)
        stat, p = float(r.statistic), float(r.pvalue)
    elif test == "mannwhitney":
        r = stats.mannwhitneyu(b, a, alternative="two-sided")
        stat, p = float(r.statistic), float(r.pvalue)
    else:
        raise InputError(f"unknown test {test!r}; use 'welch' or 'mannwhitney'")
    if nesting == "none" and subject in d and d[subject].nunique() < len(d):
        note = _join(note, "several trials per animal treated as independent")
    return Comparison(
        metric, unit, by, ref, oth, nesting, test, int(a.size), int(b.size),
        n_trials[ref], n_trials[oth],
        float(a.mean()) if a.size else np.nan, float(b.mean()) if b.size else np.nan,
        float(b.mean() - a.mean()) if a.size and b.size else np.nan,
        g, lo, hi, stat, p, alpha, bool(np.isfinite(p) and p < alpha), note,
    )  # fmt: skip


def named_animal(subjects: pd.Series) -> pd.Series:
    """Which rows name their animal: a blank or missing subject is no known animal (such
    trials cannot be nested in animals, nor counted as one)."""
    return subjects.notna() & (subjects.astype(str).str.strip() != "")


def _join(note: str, more: str) -> str:
    return f"{note}; {more}" if note else more


def _mixed(
    d: pd.DataFrame, metric: str, by: str, subject: str, ref: str
) -> tuple[float, float, str]:
    import warnings

    import statsmodels.formula.api as smf

    data = d.rename(columns={metric: "y", by: "grp", subject: "subj"})
    formula = f"y ~ C(grp, Treatment(reference={ref!r}))"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on tiny data sets
        try:
            fit = smf.mixedlm(formula, data, groups=data["subj"]).fit(reml=True)
        except (ValueError, np.linalg.LinAlgError) as exc:
            return np.nan, np.nan, f"mixed model failed: {exc}"
    name = next(n for n in fit.params.index if n.startswith("C(grp"))
    return float(fit.tvalues[name]), float(fit.pvalues[name]), "Wald z of the group coefficient"


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN stays NaN)."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    order = ok[np.argsort(p[ok])]
    m = order.size
    running = 0.0
    for i, k in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[k]))
        out[k] = running
    return out


def compare_all(
    df: pd.DataFrame, metrics: Sequence[str] | None = None, **kwargs: Any
) -> pd.DataFrame:
    """:func:`compare_groups` for every metric (default: all but absolute times), with Holm's
    adjusted p-values in ``p_holm``. Metrics with no finite value are skipped."""
    cols = list(metrics) if metrics is not None else metric_columns(df)
    rows = []
    for c in cols:
        if not np.isfinite(df[c].to_numpy(dtype=float)).any():
            continue
        rows.append(compare_groups(df, c, **kwargs).as_dict())
    out = pd.DataFrame(rows)
    if len(out):
        out["p_holm"] = holm(out["p"].to_numpy())
        out["significant_holm"] = out["p_holm"].to_numpy(dtype=float) < out["alpha"].to_numpy()
    return out


def comparison_summary(comparisons: pd.DataFrame, *, top: int = 8) -> list[str]:
    """Console lines for :func:`compare_all`'s table: how many metrics differ after Holm's
    adjustment (and at unadjusted p, for reference), then the ``top`` smallest p, each marked
    whether it survives the adjustment."""
    c = comparisons
    if not len(c):
        return []
    first = c.iloc[0]
    holm_sig = c["significant_holm"].to_numpy(dtype=bool)
    raw_sig = c["significant"].to_numpy(dtype=bool)
    lines = [
        f"{first['other']} vs {first['reference']} ({first['test']}, {first['nesting']} "
        f"nesting, alpha {first['alpha']}): {int(holm_sig.sum())} of {len(c)} metrics differ "
        f"after Holm's adjustment ({int(raw_sig.sum())} at unadjusted p)"
    ]
    for _, r in c[raw_sig].sort_values("p").head(top).iterrows():
        mark = "" if r["significant_holm"] else "  [not after Holm]"
        lines.append(
            f"  {r['metric']}: {r['mean_reference']:.3g} → {r['mean_other']:.3g} {r['unit']}, "
            f"p = {r['p']:.2g} (Holm {r['p_holm']:.2g}), g = {r['hedges_g']:.2f} "
            f"[{r['g_ci_low']:.2f}, {r['g_ci_high']:.2f}]{mark}"
        )
    return lines
