"""Monte Carlo validation of the report's models: bias, SE calibration and 95% coverage.

Run: ``.venv/bin/python validation/monte_carlo.py [--cohorts 200] [--participants 1000]
[--seed 12]`` (about ten minutes on two cores). ``tests/analysis/test_analysis_monte_carlo.py``
runs a CI-sized version (40 small cohorts) and asserts coverage between 0.85 and 0.99.

Every cohort has 20 centres and known effects:

- **GEEs** — binary outcome at M0, M6, M12 drawn from a *marginal* logistic model (the
  population-averaged one GEE estimates) through a Gaussian copula whose latent has a
  person part (correlation 0.5), a centre part (share ``icc``) and a centre-specific
  intervention-effect part (share ``icc`` again, on intervention participants' follow-up
  visits), so the true marginal group × time log-odds ratio is exactly ``TRUE_INT_M6``.
  Follow-up visits are missed completely at random (20%).
  Fitted: the ITT GEE clustered on participant (exchangeable; ignores centres) and the
  primary ITT GEE clustered on centre (bias-reduced sandwich, t(19)).
- **Cox** — times exponential within each group with hazard ratio ``exp(TRUE_COX)``,
  made dependent within centres by the same copula device (marginal PH holds exactly);
  uniform administrative censoring. Fitted: Efron Cox clustered on centre.
- **Mixed model** — the *conditional* model it assumes: random intercepts per
  participant (SD 1.2) and centre (SD 0.4). Fitted: :func:`analysis.mixed.mixed_logistic`.

Printed: for each model, the true value, mean estimate, bias, mean SE / empirical SD of
the estimates, and the share of 95% intervals that contain the truth.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit
from scipy.stats import norm

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TRUE = {"intercept": -0.4, "intervention": 0.5, "m6": -0.2, "m12": -0.3,
        "intervention:m6": -0.9, "intervention:m12": -0.7}
TRUE_INT_M6 = TRUE["intervention:m6"]
TRUE_COX = 0.4
TRUE_MIXED = {"intercept": -0.5, "intervention": 0.4, "m6": 0.1, "m12": 0.2,
              "intervention:m6": -0.8, "intervention:m12": -1.0}
CONTRAST = "group × time interaction, M6"


def gee_cohort(rng: np.random.Generator, n: int, icc: float, rho: float = 0.5,
               centres: int = 20) -> pd.DataFrame:
    """Visits of one cohort with exact marginal logits :data:`TRUE` (see the module)."""
    centre = rng.integers(0, centres, n)
    treated = rng.random(n) < 0.5
    level, effect = rng.standard_normal(centres), rng.standard_normal(centres)
    person = rng.standard_normal(n)
    rows = []
    for month, m6, m12 in ((0, 0, 0), (6, 1, 0), (12, 0, 1)):
        eta = (TRUE["intercept"] + TRUE["intervention"] * treated + TRUE["m6"] * m6
               + TRUE["m12"] * m12 + TRUE["intervention:m6"] * treated * m6
               + TRUE["intervention:m12"] * treated * m12)
        share = icc + icc * (treated & (month > 0))
        z = (np.sqrt(rho) * person + np.sqrt(icc) * level[centre]
             + np.sqrt(icc) * effect[centre] * (treated & (month > 0))
             + np.sqrt(1 - rho - share) * rng.standard_normal(n))
        y = (norm.cdf(z) < expit(eta)).astype(float)
        seen = rng.random(n) < (1.0 if month == 0 else 0.8)
        rows.append(pd.DataFrame({
            "participant_id": np.arange(n), "centre_code": [f"C{c:02d}" for c in centre],
            "group_itt": np.where(treated, "intervention", "comparison"),
            "timepoint": f"M{month}", "month": month, "y": y})[seen])
    return pd.concat(rows, ignore_index=True)


def cox_cohort(rng: np.random.Generator, n: int, icc: float, centres: int = 20
               ) -> pd.DataFrame:
    centre = rng.integers(0, centres, n)
    x = (rng.random(n) < 0.5).astype(float)
    z = np.sqrt(icc) * rng.standard_normal(centres)[centre] + np.sqrt(1 - icc) * \
        rng.standard_normal(n)
    t = -np.log(norm.sf(z)) / (0.05 * np.exp(TRUE_COX * x))
    c = rng.uniform(5, 30, n)
    return pd.DataFrame({"t": np.minimum(t, c), "e": (t <= c).astype(int), "x": x,
                         "centre": centre})


def mixed_cohort(rng: np.random.Generator, n: int, centres: int = 20) -> pd.DataFrame:
    centre = rng.integers(0, centres, n)
    treated = (rng.random(n) < 0.5).astype(float)
    b = 1.2 * rng.standard_normal(n) + 0.4 * rng.standard_normal(centres)[centre]
    rows = []
    for month, m6, m12 in ((0, 0, 0), (6, 1, 0), (12, 0, 1)):
        eta = (TRUE_MIXED["intercept"] + TRUE_MIXED["intervention"] * treated
               + TRUE_MIXED["m6"] * m6 + TRUE_MIXED["m12"] * m12
               + TRUE_MIXED["intervention:m6"] * treated * m6
               + TRUE_MIXED["intervention:m12"] * treated * m12 + b)
        seen = rng.random(n) < (1.0 if month == 0 else 0.8)
        rows.append(pd.DataFrame({
            "participant_id": np.arange(n), "centre_code": [f"C{c:02d}" for c in centre],
            "group_itt": np.where(treated == 1, "intervention", "comparison"),
            "timepoint": f"M{month}", "month": month,
            "y": (rng.random(n) < expit(eta)).astype(float)})[seen])
    return pd.concat(rows, ignore_index=True)


def _row(summary: pd.DataFrame) -> tuple[float, float, float, float]:
    s = summary.set_index("contrast").loc[CONTRAST]
    return (float(s["log_or"]), float(s["se"]), float(np.log(s["ci_lower"])),
            float(np.log(s["ci_upper"])))


MODELS = ("gee", "cox", "mixed")


def one_cohort(seed: int, n: int, icc: float, models: tuple[str, ...] = MODELS
               ) -> list[dict[str, float]]:
    """Estimates of every validated model on one simulated cohort."""
    import warnings

    from analysis.cox import fit_cox_efron
    from analysis.mixed import mixed_logistic
    from analysis.models import _SHARED, centre_model
    from analysis.outcomes import gee_outcome

    rng = np.random.default_rng(seed)
    out = []
    long = gee_cohort(rng, n, icc)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est, se, lo, hi = _row(gee_outcome(long, "y", covariates=()).summary)
        out.append({"model": "ITT GEE, participant-clustered", "true": TRUE_INT_M6,
                    "est": est, "se": se, "lo": lo, "hi": hi})
        _SHARED["mc"] = long
        try:
            model = centre_model("mc", "y", "ITT", "group_itt", ())
        finally:
            _SHARED.pop("mc", None)
        est, se, lo, hi = _row(model.summary)
        out.append({"model": "ITT GEE, centre-clustered (bias-reduced, t19)",
                    "true": TRUE_INT_M6, "est": est, "se": se, "lo": lo, "hi": hi})
        cox_rows = cox_cohort(rng, n, icc)
        mixed_rows = mixed_cohort(rng, n)
        if "cox" in models:
            cox = fit_cox_efron(cox_rows, "t", "e", ["x"], cluster="centre")
            s = cox.summary.iloc[0]
            out.append({"model": "Cox, centre-clustered (Efron)", "true": TRUE_COX,
                        "est": s["coef"], "se": s["se"], "lo": np.log(s["ci_lower"]),
                        "hi": np.log(s["ci_upper"])})
        if "mixed" in models:
            m = mixed_logistic(mixed_rows, "y", covariates=())
            est, se, lo, hi = _row(m.summary)
            out.append({"model": "mixed-effects (Laplace, GPBoost)",
                        "true": TRUE_MIXED["intervention:m6"], "est": est, "se": se,
                        "lo": lo, "hi": hi})
    return out


def summarise(rows: list[dict[str, float]]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    df["covered"] = (df["lo"] <= df["true"]) & (df["true"] <= df["hi"])
    g = df.groupby("model", sort=False)
    return pd.DataFrame({
        "cohorts": g.size(), "true": g["true"].first(), "mean_estimate": g["est"].mean(),
        "bias": g["est"].mean() - g["true"].first(),
        "mean_se_over_sd": g["se"].mean() / g["est"].std(ddof=1),
        "coverage_95": g["covered"].mean(),
    }).reset_index()


def run(cohorts: int, participants: int, seed: int, icc: float = 0.05,
        workers: int = 2, models: tuple[str, ...] = MODELS) -> pd.DataFrame:
    """Simulate and fit ``cohorts`` cohorts (in ``workers`` processes); the summary."""
    seeds = [seed * 100_003 + k for k in range(cohorts)]
    if workers > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
            results = list(pool.map(one_cohort, seeds, [participants] * cohorts,
                                    [icc] * cohorts, [models] * cohorts))
    else:
        results = [one_cohort(s, participants, icc, models) for s in seeds]
    return summarise([r for rows in results for r in rows])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohorts", type=int, default=200)
    parser.add_argument("--participants", type=int, default=1000)
    parser.add_argument("--icc", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    t = time.perf_counter()
    table = run(args.cohorts, args.participants, args.seed, args.icc, args.workers)
    print(f"{args.cohorts} cohorts × {args.participants} participants, 20 centres, centre "
          f"ICC {args.icc}, seed {args.seed}: {time.perf_counter() - t:.0f} s")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
