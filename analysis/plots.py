"""Figures of the report, drawn with matplotlib's Agg backend (no display needed).

Each function takes a result object and a path, writes one PNG and returns the path.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

COLOURS = {"intervention": "#1b7837", "comparison": "#762a83"}


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def km_plot(km: Any, path: Path, *, title: str, xlabel: str = "Months since inclusion",
            max_levels: int = 8) -> Path:
    """Kaplan–Meier curves with 95% bands and the numbers at risk below the axis."""
    from lifelines.plotting import add_at_risk_counts

    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 5.5))
    fitters = list(km.fitters.values())[:max_levels]
    for f in fitters:
        f.plot_survival_function(ax=ax, ci_show=len(fitters) <= 3,
                                 color=COLOURS.get(f.label))
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Still in follow-up (not lost)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        add_at_risk_counts(*fitters, ax=ax, rows_to_show=["At risk"])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def cif_plot(cif: Any, path: Path, *, title: str) -> Path:
    """Cumulative incidence of loss to follow-up (death as a competing event)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name, f in cif.fitters.items():
        f.plot_cumulative_density(ax=ax, color=COLOURS.get(name), label=name)
    ax.set_xlabel("Months since inclusion")
    ax.set_ylabel("Cumulative incidence")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def proportions_plot(props: pd.DataFrame, path: Path, *, title: str) -> Path:
    """Observed proportion at M0, M6, M12 by group with Wilson 95% CIs."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for i, (group, sub) in enumerate(props.groupby("group")):
        x = sub["month"].to_numpy() + (i - 0.5) * 0.25
        y = sub["proportion"].to_numpy()
        err = np.vstack([y - sub["ci_lower"].to_numpy(), sub["ci_upper"].to_numpy() - y])
        ax.errorbar(x, y, yerr=err, marker="o", capsize=4, label=str(group),
                    color=COLOURS.get(str(group)))
        for xi, yi, n in zip(x, y, sub["n"], strict=True):
            ax.annotate(f"n={n}", (xi, yi), textcoords="offset points", xytext=(6, -12),
                        fontsize=7, color="grey")
    ax.set_xticks([0, 6, 12], ["M0", "M6", "M12"])
    ax.set_ylim(0, 1)
    ax.set_ylabel("Proportion of participants")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def forest_plot(summary: pd.DataFrame, path: Path, *, title: str,
                label_cols: tuple[str, ...] = ("outcome", "analysis", "contrast")) -> Path:
    """Odds ratios with 95% CIs on a log scale, one line per row of ``summary``."""
    plt = _plt()
    finite = np.isfinite(summary[["odds_ratio", "ci_lower", "ci_upper"]].to_numpy(
        dtype=float)).all(axis=1)
    if "estimable" in summary.columns:
        finite &= summary["estimable"].ne(False).to_numpy()
    left_out = int((~finite).sum())
    summary = summary[finite]
    n = len(summary)
    fig, ax = plt.subplots(figsize=(9, max(2.5, 0.32 * n + 1.2)))
    y = np.arange(n)[::-1]
    ors = summary["odds_ratio"].to_numpy(dtype=float)
    lo = summary["ci_lower"].to_numpy(dtype=float)
    hi = summary["ci_upper"].to_numpy(dtype=float)
    ax.errorbar(ors, y, xerr=[ors - lo, hi - ors], fmt="s", color="#2166ac", capsize=3)
    ax.axvline(1.0, color="grey", linestyle="--")
    ax.set_xscale("log")
    labels = [" · ".join(str(r[c]) for c in label_cols if c in summary.columns)
              for _, r in summary.iterrows()]
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlabel("Odds ratio (95% CI, log scale)" + (
        f"; {left_out} not-estimable model(s) left out" if left_out else ""))
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
