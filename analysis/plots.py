"""Figures of the report, drawn with matplotlib's Agg backend (no display needed).

Each function takes a result object and a path, writes one PNG and returns the path.
Titles, axes, legends and group names are in the reader's language
(:func:`forms.i18n.current_language`) at the time the figure is drawn.
"""

from __future__ import annotations

import textwrap
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.wording import word
from forms.i18n import gettext as _
from forms.i18n import ngettext

COLOURS = {"intervention": "#1b7837", "comparison": "#762a83"}


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _months() -> str:
    return _("Months since inclusion")


def _retained() -> str:
    return _("Still in follow-up (not lost)")


def km_plot(km: Any, path: Path, *, title: str, xlabel: str | None = None,
            max_levels: int = 8) -> Path:
    """Kaplan–Meier curves with 95% bands and the numbers at risk below the axis."""
    return _save(km_figure(km, title=title, xlabel=xlabel, max_levels=max_levels), path)


def km_figure(km: Any, *, title: str, xlabel: str | None = None, max_levels: int = 8) -> Any:
    """The figure of :func:`km_plot`, unsaved (tests inspect its labels)."""
    from lifelines.plotting import add_at_risk_counts

    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 5.5))
    fitters = list(km.fitters.values())[:max_levels]
    for f in fitters:
        f.plot_survival_function(ax=ax, ci_show=len(fitters) <= 3,
                                 color=COLOURS.get(f.label), label=word(f.label))
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(xlabel or _months())
    ax.set_ylabel(_retained())
    ax.set_title(title)
    ax.grid(alpha=0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        add_at_risk_counts(*fitters, ax=ax, rows_to_show=["At risk"],
                           labels=[word(f.label) for f in fitters])
    _at_risk_in_language(fig, ax)
    fig.tight_layout()
    return fig


def _at_risk_in_language(fig: Any, ax: Any) -> None:
    """lifelines names its row of numbers at risk in English: say it in the reader's."""
    words = _("At risk")
    for table in fig.axes:
        if table is ax:
            continue
        texts = [t.get_text() for t in table.get_xticklabels()]
        if texts and texts[0].startswith("At risk"):
            table.set_xticklabels([t.replace("At risk", words, 1) for t in texts],
                                  ha="right")


def km_small_multiples(km: Any, path: Path, *, title: str, overall: Any | None = None,
                       ncols: int = 5, xlabel: str | None = None) -> Path:
    """One small panel per level (e.g. all 20 centres), each with its 95% band, the
    pooled curve in grey behind it, and n / lost in the panel title.

    Twenty curves on one axis are unreadable (and a legend of 20 colours worse): panels
    share both axes so centres compare at a glance. The y-axis starts at the lowest
    confidence bound rounded down to a tenth (at most 0.5), which the axis labels show.
    """
    fig = km_panels_figure(km, title=title, overall=overall, ncols=ncols, xlabel=xlabel)
    return _save(fig, path)


def km_panels_figure(km: Any, *, title: str, overall: Any | None = None, ncols: int = 5,
                     xlabel: str | None = None) -> Any:
    """The figure of :func:`km_small_multiples`, unsaved (tests inspect its panels)."""
    plt = _plt()
    fitters = list(km.fitters.values())
    n = len(fitters)
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    lows = [float(f.confidence_interval_survival_function_.iloc[:, 0].min()) for f in fitters]
    floor = min(0.5, np.floor(10 * min(lows, default=0.0)) / 10)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.4 * ncols + 0.8, 2.0 * nrows + 1.0),
                             sharex=True, sharey=True, squeeze=False)
    for ax, f in zip(axes.flat, fitters, strict=False):
        # Steps drawn straight from the fitted curves: lifelines' plot_survival_function
        # (through pandas) cost about 0.3 s a panel.
        if overall is not None:
            _step(ax, overall.survival_function_, color="#bbbbbb", lw=1.2)
        _step(ax, f.survival_function_, color="#2166ac", lw=1.4)
        ci = f.confidence_interval_survival_function_
        ax.fill_between(ci.index.to_numpy(), ci.iloc[:, 0].to_numpy(), ci.iloc[:, 1].to_numpy(),
                        step="post", color="#2166ac", alpha=0.25, lw=0)
        table = f.event_table
        ax.set_title(_("{centre}  n={n}, lost={lost}").format(
            centre=f.label, n=int(table["entrance"].sum()),
            lost=int(table["observed"].sum())), fontsize=8.5)
        ax.set_ylim(floor, 1.01)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7.5)
        ax.set_xlabel("")
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.supxlabel(xlabel or _months(), fontsize=9)
    fig.supylabel(_retained(), fontsize=9)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def _step(ax: Any, curve: pd.DataFrame, **kwargs: Any) -> None:
    ax.step(curve.index.to_numpy(), curve.iloc[:, 0].to_numpy(), where="post", **kwargs)


def _save(fig: Any, path: Path) -> Path:
    fig.savefig(path, dpi=110)
    _plt().close(fig)
    return path


def cif_plot(cif: Any, path: Path, *, title: str) -> Path:
    """Cumulative incidence of loss to follow-up (death as a competing event)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name, f in cif.fitters.items():
        f.plot_cumulative_density(ax=ax, color=COLOURS.get(name), label=word(name))
    ax.set_xlabel(_months())
    ax.set_ylabel(_("Cumulative incidence"))
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def proportions_plot(props: pd.DataFrame, path: Path, *, title: str) -> Path:
    """Observed proportion at each visit by group with Wilson 95% CIs, and the number of
    participants per group and visit in rows under the axis."""
    return _save(proportions_figure(props, title=title), path)


def proportions_figure(props: pd.DataFrame, *, title: str) -> Any:
    """The figure of :func:`proportions_plot`, unsaved (tests inspect its labels)."""
    import matplotlib.transforms as mtransforms

    plt = _plt()
    groups = list(props.groupby("group"))
    fig, ax = plt.subplots(figsize=(6.5, 4.8 + 0.25 * len(groups)))
    # Numbers of participants sit in rows under the axis, one per group (as numbers at
    # risk under a Kaplan–Meier plot): beside the points they collided with the bars.
    below = mtransforms.blended_transform_factory(ax.transData, ax.transAxes)
    ax.text(-0.02, -0.14, "n", transform=ax.transAxes, ha="right", fontsize=8,
            color="grey")
    for i, (group, sub) in enumerate(groups):
        x = sub["month"].to_numpy() + (i - 0.5) * 0.25
        y = sub["proportion"].to_numpy()
        err = np.vstack([y - sub["ci_lower"].to_numpy(), sub["ci_upper"].to_numpy() - y])
        colour = COLOURS.get(str(group))
        ax.errorbar(x, y, yerr=err, marker="o", capsize=4, label=word(str(group)),
                    color=colour)
        row = -0.14 - 0.065 * (i + 1)
        ax.text(-0.02, row, word(str(group)), transform=ax.transAxes, ha="right",
                fontsize=8, color=colour)
        for month, n in zip(sub["month"], sub["n"], strict=True):
            ax.text(month, row, str(n), transform=below, ha="center", fontsize=8,
                    color=colour)
    ticks = props[["month", "timepoint"]].drop_duplicates().sort_values("month")
    ax.set_xticks(ticks["month"].tolist(), ticks["timepoint"].astype(str).tolist())
    ax.set_ylim(0, 1)
    ax.set_ylabel(_("Proportion of participants"))
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


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
    labels = [" · ".join(str(word(r[c]) if c != "outcome" else r[c]) for c in label_cols
                         if c in summary.columns)
              for _i, r in summary.iterrows()]
    ax.set_yticks(y, labels, fontsize=8)
    xlabel = _("Odds ratio (95% CI, log scale)") if not left_out else ngettext(
        "Odds ratio (95% CI, log scale); {n} not-estimable model left out",
        "Odds ratio (95% CI, log scale); {n} not-estimable models left out",
        left_out).format(n=left_out)
    # The axes are narrow beside the long labels: the title spans the figure and the axis
    # label wraps, so that neither is cut off (in French they are longer).
    ax.set_xlabel("\n".join(textwrap.wrap(xlabel, 42)))
    fig.suptitle(title)
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
