"""Table 1: baseline characteristics by group, with standardised mean differences.

Groups were not randomised, so the SMD (not a p-value) is what says whether they differ
at baseline; |SMD| > 0.1 is the usual flag. With ``weights`` (e.g. IPTW) the table shows
the weighted balance the propensity score achieved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.results import ResultBase

DEFAULT_VARIABLES: tuple[str, ...] = (
    "age_at_inclusion", "gender", "reached_via", "housing", "income_source", "education",
    "years_injecting", "age_first_injection", "prison_ever", "oat_current_m0",
    "any_risk_practice_m0", "any_complication_m0", "share_syringe_m0", "share_cooker_m0",
    "share_filter_m0", "share_water_m0", "share_any_equipment_m0",
)


@dataclass
class Table1(ResultBase):
    """``summary``: one row per variable (continuous) or per level (categorical)."""

    groups: list[str]
    summary: pd.DataFrame
    weighted: bool
    notes: list[str] = field(default_factory=list)


def _wmean_var(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    if len(x) == 0 or w.sum() == 0:
        return float("nan"), float("nan")
    m = float(np.average(x, weights=w))
    v = float(np.average((x - m) ** 2, weights=w))
    return m, v


def _quartiles(x: np.ndarray, w: np.ndarray | None) -> list[float]:
    """Median, 25th and 75th percentiles; weighted (statsmodels' ``DescrStatsW``, inverse
    of the weighted distribution function) when ``w`` is given, so that a weighted Table 1
    shows the weighted pseudo-population in every row, not its means alone."""
    if len(x) == 0:
        return [float("nan")] * 3
    if w is None:
        return [float(v) for v in np.percentile(x, [50, 25, 75])]
    from statsmodels.stats.weightstats import DescrStatsW

    q = DescrStatsW(x, weights=w).quantile([0.5, 0.25, 0.75], return_pandas=False)
    return [float(v) for v in q]


def _smd_cont(a: tuple[float, float], b: tuple[float, float]) -> float:
    pooled = np.sqrt((a[1] + b[1]) / 2)
    return float((a[0] - b[0]) / pooled) if pooled > 0 else 0.0


def _smd_prop(p1: float, p2: float) -> float:
    pooled = np.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / 2)
    return float((p1 - p2) / pooled) if pooled > 0 else 0.0


def _is_categorical(s: pd.Series, labels: Mapping[str, Mapping[str, str]], name: str) -> bool:
    return name in labels or s.dtype == object or isinstance(s.dtype, pd.CategoricalDtype)


def table1(participants: pd.DataFrame, *, group_col: str = "group_itt",
           variables: Sequence[str] = DEFAULT_VARIABLES,
           variable_labels: Mapping[str, str] | None = None,
           value_labels: Mapping[str, Mapping[str, str]] | None = None,
           weights: pd.Series | None = None,
           groups: Sequence[str] = ("intervention", "comparison")) -> Table1:
    """Counts and % (categorical, yes/no) or mean (SD) and median [IQR] (continuous).

    With ``weights`` every cell is weighted: counts are sums of weights, and medians and
    IQRs are weighted quantiles (labelled "weighted median [IQR]").

    ``weights``, when given, is indexed by ``participant_id``. The SMD compares the first
    group with the second; missing values are counted in a row of their own.
    """
    variable_labels = variable_labels or {}
    value_labels = value_labels or {}
    p = participants[participants[group_col].isin(groups)]
    w_all = (p["participant_id"].map(weights).fillna(1.0).to_numpy(dtype=float)
             if weights is not None else np.ones(len(p)))
    masks = {g: (p[group_col] == g).to_numpy() for g in groups}
    rows: list[dict[str, object]] = []
    header: dict[str, object] = {"variable": "n", "label": "Participants", "level": ""}
    for g in groups:
        header[g] = f"{w_all[masks[g]].sum():.0f}" if weights is not None else str(
            int(masks[g].sum()))
    header["smd"] = ""
    rows.append(header)
    for name in variables:
        if name not in p.columns:
            continue
        s = p[name]
        label = variable_labels.get(name.removesuffix("_m0"), name)
        if name.endswith("_m0"):
            label += " (M0)"
        binary = set(pd.to_numeric(s, errors="coerce").dropna().unique()) <= {0, 1} and (
            s.dtype != object) and name not in value_labels
        if binary or (name in value_labels and set(value_labels[name]) == {"0", "1"}):
            x = pd.to_numeric(s, errors="coerce").astype(float).to_numpy()
            row: dict[str, object] = {"variable": name, "label": label, "level": "Yes"}
            props = []
            for g in groups:
                m = masks[g] & ~np.isnan(x)
                ww = w_all[m]
                prop = float(np.average(x[m], weights=ww)) if ww.sum() > 0 else float("nan")
                props.append(prop)
                row[g] = f"{(x[m] * ww).sum():.0f} ({100 * prop:.1f}%)"
            row["smd"] = f"{_smd_prop(props[0], props[1]):.3f}"
            rows.append(row)
            _missing_row(rows, name, s, masks, groups, w_all)
        elif _is_categorical(s, value_labels, name):
            codes = s.astype(object).where(s.notna(), None)
            levels = [lv for lv in value_labels.get(name, {}) if (codes == lv).any()] or \
                sorted(str(v) for v in codes.dropna().unique())
            lab = value_labels.get(name, {})
            smds = []
            first = True
            for lv in levels:
                row = {"variable": name, "label": label if first else "",
                       "level": lab.get(lv, lv)}
                first = False
                props = []
                for g in groups:
                    m = masks[g] & codes.notna().to_numpy()
                    hit = (codes.astype(str).to_numpy() == lv) & m
                    denom = w_all[m].sum()
                    prop = float(w_all[hit].sum() / denom) if denom > 0 else float("nan")
                    props.append(prop)
                    row[g] = f"{w_all[hit].sum():.0f} ({100 * prop:.1f}%)"
                smd = _smd_prop(props[0], props[1])
                smds.append(abs(smd))
                row["smd"] = f"{smd:.3f}"
                rows.append(row)
            _missing_row(rows, name, s, masks, groups, w_all)
        else:
            x = pd.to_numeric(s, errors="coerce").astype(float).to_numpy()
            row = {"variable": name, "label": label, "level": "mean (SD)"}
            stats = []
            for g in groups:
                m = masks[g] & ~np.isnan(x)
                mv = _wmean_var(x[m], w_all[m])
                stats.append(mv)
                row[g] = f"{mv[0]:.1f} ({np.sqrt(mv[1]):.1f})"
            row["smd"] = f"{_smd_cont(stats[0], stats[1]):.3f}"
            rows.append(row)
            row = {"variable": name, "label": "", "smd": "",
                   "level": "weighted median [IQR]" if weights is not None else "median [IQR]"}
            for g in groups:
                m = masks[g] & ~np.isnan(x)
                q = _quartiles(x[m], w_all[m] if weights is not None else None)
                row[g] = f"{q[0]:.0f} [{q[1]:.0f}–{q[2]:.0f}]"
            rows.append(row)
            _missing_row(rows, name, s, masks, groups, w_all)
    return Table1(list(groups), pd.DataFrame(rows, columns=["variable", "label", "level",
                                                            *groups, "smd"]),
                  weights is not None)


def _missing_row(rows: list[dict[str, object]], name: str, s: pd.Series,
                 masks: dict[str, np.ndarray], groups: Sequence[str], w: np.ndarray) -> None:
    miss = s.isna().to_numpy()
    if not miss.any():
        return
    row: dict[str, object] = {"variable": name, "label": "", "level": "missing", "smd": ""}
    for g in groups:
        row[g] = f"{w[masks[g] & miss].sum():.0f}"
    rows.append(row)


def max_abs_smd(table: Table1) -> float:
    """The largest |SMD| in the table (a one-number balance check)."""
    smd = pd.to_numeric(table.summary["smd"], errors="coerce").abs()
    return float(smd.max()) if smd.notna().any() else 0.0
