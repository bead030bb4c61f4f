"""The statisticians' report: HTML with tables and figures, estimates as CSV and JSON.

Every report states what it was computed from (as-of date, row counts, database URL
without credentials, git commit) and the exact model specifications, so a reader can
reproduce a number or tell two reports apart.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.data import BINARY_OUTCOMES, AnalysisData
from analysis.export_tables import spreadsheet_safe
from analysis.results import Result, named

SECTIONS = ("retention", "outcomes", "all")


@dataclass
class Report:
    """What :func:`write_report` produced."""

    directory: Path
    html: Path
    files: list[Path] = field(default_factory=list)
    estimates: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def figures(self) -> list[Path]:
        return [f for f in self.files if f.suffix == ".png"]


def _table(df: pd.DataFrame, *, digits: int = 3) -> str:
    def fmt(v: Any) -> Any:
        if isinstance(v, float):
            if math.isnan(v):
                return ""
            if v != 0 and abs(v) < 10 ** -digits:
                return f"{v:.1e}"
            return f"{v:.{digits}f}"
        return v

    return str(df.map(fmt).to_html(index=False, border=0, classes="t", escape=True))


def _or_text(row: pd.Series) -> str:
    return f"{row['odds_ratio']:.2f} ({row['ci_lower']:.2f}–{row['ci_upper']:.2f})"


def _and(names: list[str]) -> str:
    return " and ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " and " + names[-1]


def ltfu_definition(data: AnalysisData) -> str:
    """The definition of time to loss to follow-up, in words, with this protocol's days."""
    from analysis.data import window_close_day

    follow_ups = data.config.schedule.follow_ups
    days = ", ".join(f"day {window_close_day(data.config, v.name)} for {v.name}"
                     for v in follow_ups)
    others = ("at the close of the first visit window they missed after their last "
              "contact if it has closed, otherwise at the as-of date (at most the end of "
              "follow-up)" if data.censor_at == "missed_visit" else
              "at the as-of date (at most the end of follow-up)")
    return (
        "time = months from inclusion. Event: a current status of lost to follow-up, "
        "dated at the close of the window of the first visit missed after the last "
        f"contact (questionnaire or AERLI session): {days} (the end of follow-up), "
        "or at the status's effective date if that is earlier "
        "(never before the last contact). A loss can only be seen at a scheduled visit, so the "
        "person counts as at risk until then. Death (dated by its status) is a competing "
        "event; withdrawal is censored at its date; a loss or death after the end of "
        f"follow-up is censored there; everyone else is censored {others}.")


def write_report(data: AnalysisData, out_dir: Path, *, what: str = "all",
                 cov_struct: str = "exchangeable", ipcw: bool = True,
                 outcomes: tuple[str, ...] = BINARY_OUTCOMES,
                 workers: int | None = None) -> Report:
    """Run the analyses named by ``what`` (retention, outcomes or all) and write the report.

    The models are fitted in ``workers`` processes (default: the ``analysis_workers``
    setting); the estimates do not depend on it.
    """
    from analysis import plots
    from analysis.cox import ph_note

    if what not in SECTIONS:
        raise ValueError(f"unknown report section '{what}'; use retention, outcomes or all")
    out_dir = Path(out_dir)
    fig_dir = out_dir / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    ctx: dict[str, Any] = {"snapshot": data.snapshot.as_dict(), "what": what,
                           "retention": None, "outcomes": None, "seed": None,
                           "follow_up_names": _and(
                               [v.name for v in data.config.schedule.follow_ups])}
    estimates: list[pd.DataFrame] = []
    specs: list[dict[str, Any]] = []
    shown: list[tuple[str, Result]] = []  # every result, in the order of the report

    def save_csv(df: pd.DataFrame, name: str) -> None:
        path = out_dir / name
        spreadsheet_safe(df).to_csv(path, index=False)
        files.append(path)

    o = None
    if what in ("outcomes", "all"):
        from analysis.models import outcome_analysis, retention_job

        o = outcome_analysis(data, outcomes=outcomes, cov_struct=cov_struct, ipcw=ipcw,
                             workers=workers, extra_jobs=[("retention", retention_job, ())]
                             if what == "all" else [])
        ctx["seed"] = o.seed
    if what in ("retention", "all"):
        from analysis.retention import ATTENDANCE_DEFINITION, retention_analysis

        r = o.extra["retention"] if o is not None else retention_analysis(data)
        files.append(plots.km_plot(r.km_group, fig_dir / "km_by_group.png",
                                   title="Time to loss to follow-up, by group (Kaplan–Meier)"))
        files.append(plots.km_small_multiples(
            r.km_centre, fig_dir / "km_by_centre.png",
            title="Time to loss to follow-up, by centre (Kaplan–Meier, 95% CI; grey: all "
                  "centres)",
            overall=r.km_all.fitters["all centres"] if r.km_all else None))
        files.append(plots.cif_plot(r.cif, fig_dir / "cif_ltfu.png",
                                    title="Cumulative incidence of loss to follow-up "
                                          "(death as competing event)"))
        save_csv(r.completion, "completion.csv")
        save_csv(r.attendance, "retention_attendance.csv")
        save_csv(r.consort, "consort.csv")
        shown += named({"Kaplan–Meier by group": r.km_group, "log-rank by group":
                        r.logrank_group, "log-rank by centre": r.logrank_centre,
                        "Cox clustered on centre": r.cox, "Cox stratified by centre":
                        r.cox_strata, "discrete-time loss": r.discrete,
                        "cumulative incidence": r.cif})
        est = r.summary.assign(section="retention")
        estimates.append(est)
        specs += [
            {"model": "Kaplan–Meier", "spec": ltfu_definition(data)},
            {"model": "log-rank", "spec": "by group_itt; by centre_code"},
            {"model": "Cox (clustered on centre)", "spec": r.cox.formula
             + ", cluster = centre_code, Efron ties (robust SE as R coxph)"},
            {"model": "Cox (stratified by centre)", "spec": r.cox_strata.formula
             + " + strata(centre_code), Efron ties"},
            {"model": "Schoenfeld test", "spec": "R cox.zph (KM time transform) for each Cox "
             "model"},
            {"model": "discrete-time loss to follow-up", "spec": r.discrete.formula},
            {"model": "Aalen–Johansen", "spec": "event 1 = lost to follow-up, competing "
             "event 2 = died, by group_itt"},
        ]
        consort = r.consort.pivot_table(index="stage", columns="group", values="n",
                                        aggfunc="sum", sort=False).reset_index()
        ctx["retention"] = {
            "completion": _table(r.completion, digits=1),
            # A cell that does not apply (screening by group, say) stays blank, not 0.
            "consort": _table(consort.map(
                lambda v: "" if isinstance(v, float) and math.isnan(v) else
                (str(int(v)) if isinstance(v, float) else v))),
            "km": _table(r.km_group.summary), "logrank": _table(pd.concat(
                [r.logrank_group.summary, r.logrank_centre.summary])),
            "cox": _table(pd.concat([
                r.cox.summary.assign(model="clustered on centre"),
                r.cox_strata.summary.assign(model="stratified by centre")])),
            "zph": _table(pd.concat([
                r.cox.ph_test.assign(model="clustered on centre"),
                r.cox_strata.ph_test.assign(model="stratified by centre")])),
            "ph_note": ph_note(r.cox), "discrete": _table(r.discrete.summary),
            "discrete_table": _table(r.discrete.table),
            "attendance": _table(r.attendance, digits=1),
            "attendance_definition": ATTENDANCE_DEFINITION,
            "cif": _table(r.cif.summary),
            "ltfu_definition": ltfu_definition(data),
            "n_centres": len(r.km_centre.fitters),
        }

    if what in ("outcomes", "all"):
        from analysis.table1 import max_abs_smd, table1

        assert o is not None  # noqa: S101
        t1 = table1(data.participants, variable_labels=data.variable_labels,
                    value_labels=data.value_labels)
        t1w = table1(data.participants, variable_labels=data.variable_labels,
                     value_labels=data.value_labels, weights=o.iptw.weights if o.iptw else None)
        save_csv(t1.summary, "table1.csv")
        save_csv(t1w.summary, "table1_iptw.csv")
        save_csv(o.proportions, "outcome_proportions.csv")
        shown += named({"Table 1": t1, "Table 1 (IPTW)": t1w, "IPTW": o.iptw, "IPCW": o.ipcw})
        shown += [(f"{m.analysis}: {m.outcome}", m) for m in o.models]
        summary = o.summary
        estimates.append(summary.assign(section="outcomes"))
        prop_figs = []
        for outcome in o.proportions["outcome"].unique():
            label = data.variable_labels.get(outcome, outcome)
            path = plots.proportions_plot(o.proportions[o.proportions["outcome"] == outcome],
                                          fig_dir / f"proportions_{outcome}.png", title=label)
            files.append(path)
            prop_figs.append({"outcome": outcome, "label": label,
                              "src": f"figures/{path.name}"})
        ok = summary["estimable"].ne(False) if "estimable" in summary else pd.Series(
            True, index=summary.index)
        dropped_models = [
            {"outcome": m.outcome, "analysis": m.analysis,
             "reason": next((n for n in m.notes if n.startswith("not estimable")), "")}
            for m in o.models if not m.estimable]
        summary = summary[ok]
        inter = summary[summary["contrast"].str.startswith("group × time")]
        files.append(plots.forest_plot(inter, fig_dir / "forest_interaction.png",
                                       title="Group × time interaction (ratio of odds ratios)"))
        headline = inter.assign(or_ci=inter.apply(_or_text, axis=1))[
            ["outcome", "analysis", "contrast", "or_ci", "p"]]
        specs += [{"model": f"{m.analysis}: {m.outcome}", "spec": m.formula,
                   "n_obs": m.n_obs, "n_participants": m.n_participants,
                   "notes": "; ".join(dict.fromkeys(m.notes))} for m in o.models]
        ctx["outcomes"] = {
            "table1": _table(t1.summary), "table1_smd": max_abs_smd(t1),
            "table1w_smd": max_abs_smd(t1w), "table1w": _table(t1w.summary),
            "headline": _table(headline),
            "all": _table(summary.drop(columns=["log_or", "estimable", "note"],
                                       errors="ignore")),
            "not_estimable": dropped_models,
            "figures": prop_figs,
            "iptw": _table(o.iptw.summary) if o.iptw else "",
            "ipcw": _table(o.ipcw.summary) if o.ipcw else "",
            "cov_struct": cov_struct,
            "primary": _table(o.primary[["outcome", "visit", "analysis", "odds_ratio",
                                         "ci_lower", "ci_upper", "p"]]
                              if not o.primary.empty else o.primary),
            "secondary": _table(o.secondary[["outcome", "visit", "odds_ratio", "ci_lower",
                                             "ci_upper", "p", "p_holm"]]
                                if not o.secondary.empty else o.secondary),
            "mice": _table(o.mice.summary.drop(columns=["seed"])) if o.mice else "",
            "tipping": _table(o.tipping.summary.drop(columns=["tipping_point"]))
            if o.tipping else "",
            "missing_notes": [n for _, res in named({"mice": o.mice, "tipping": o.tipping})
                              for n in res.notes],
            "notes": o.notes,
        }
        for name, frame in (("primary_endpoint.csv", o.primary),
                            ("secondary_endpoints_holm.csv", o.secondary)):
            save_csv(frame, name)
        for name, res in named({"mice": o.mice, "tipping_point": o.tipping}):
            save_csv(res.summary, f"{name}.csv")
            extra = {"analysis": "tipping point"} if name == "tipping_point" else {}
            estimates.append(res.summary.assign(section="missing data", **extra))
            shown.append((name.replace("_", " "), res))

    all_est = pd.concat(estimates, ignore_index=True) if estimates else pd.DataFrame()
    save_csv(all_est, "estimates.csv")
    payload = {"snapshot": data.snapshot.as_dict(), "seed": ctx["seed"], "models": specs,
               "estimates": json.loads(all_est.to_json(orient="records"))}
    est_json = out_dir / "estimates.json"
    est_json.write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
    files.append(est_json)
    ctx["specs"] = specs
    text = out_dir / "results.txt"  # every result in one shape: title, summary, notes
    text.write_text("\n\n".join(f"== {title}\n{res.to_text()}" for title, res in shown)
                    + "\n", encoding="utf-8")
    files.append(text)
    ctx["figures"] = {p.stem: f"figures/{p.name}" for p in files if p.suffix == ".png"}
    html = out_dir / "index.html"
    html.write_text(_render(ctx), encoding="utf-8")
    files.append(html)
    return Report(out_dir, html, files, all_est)


def _render(ctx: dict[str, Any]) -> str:
    import jinja2

    env = jinja2.Environment(autoescape=jinja2.select_autoescape(default=True),
                             undefined=jinja2.StrictUndefined)
    return env.from_string(TEMPLATE).render(**ctx)


TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Cohort analysis report — {{ snapshot.as_of }}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1,h2,h3{color:#1b3a57} table.t{border-collapse:collapse;font-size:.85em;margin:.5em 0 1.5em}
table.t th,table.t td{border-bottom:1px solid #ddd;padding:.2em .6em;text-align:right}
table.t td:first-child,table.t th:first-child{text-align:left}
img{max-width:100%;border:1px solid #eee;margin:.5em 0} .note{color:#555;font-size:.9em}
code{background:#f4f4f4;padding:0 .2em}
</style></head><body>
<h1>Cohort analysis report</h1>
<p class="note">Synthetic or study data as of <b>{{ snapshot.as_of }}</b>, extracted
{{ snapshot.extracted_at }} from <code>{{ snapshot.database }}</code>
{% if snapshot.git_commit %}with code at commit <code>{{ snapshot.git_commit }}</code>{% endif %}.
Rows: {% for k, v in snapshot.rows.items() %}{{ k }} {{ v }}
{%- if not loop.last %}, {% endif %}{% endfor %}.
Groups are as given at M0 (intention to treat) unless a model says per-protocol.
{% if seed is not none %}Random seed of the imputations: <b>{{ seed }}</b> (setting
<code>COHORT_ANALYSIS_SEED</code>); nothing else in the report is random, so the same
data give the same numbers.{% endif %}</p>

{% if retention %}
<h2>Retention</h2>
<h3>Participant flow (CONSORT-style)</h3>{{ retention.consort|safe }}
<h3>Completion of {{ follow_up_names }} by centre and group</h3>
<p class="note">Denominators count participants whose visit window has closed (or who
completed the visit); "in window" counts questionnaires completed inside the window.</p>
{{ retention.completion|safe }}
<h3>Retention by attendance, per visit and centre</h3>
<p class="note">{{ retention.attendance_definition }}</p>
{{ retention.attendance|safe }}
<h3>Time to loss to follow-up</h3>
<img src="{{ figures.km_by_group }}"
 alt="Kaplan–Meier curves of time to loss to follow-up by group, with numbers at risk">
<p class="note">{{ retention.ltfu_definition }}</p>
{{ retention.km|safe }}
<h4>Log-rank tests</h4>{{ retention.logrank|safe }}
<h4>Cox models (Efron ties)</h4>
<p class="note">Clustered on centre: robust standard errors from Efron score residuals
summed per centre (as R's <code>coxph(..., cluster = centre)</code>). Stratified by
centre: a baseline hazard per centre.</p>
{{ retention.cox|safe }}
<h4>Proportional hazards (Schoenfeld residuals)</h4>
<p class="note">{{ retention.ph_note }}</p>{{ retention.zph|safe }}
<h4>Loss to follow-up per visit (discrete time)</h4>
<p class="note">Losses can only be seen at scheduled visits, so the hazard is discrete: one
row per participant and visit at which they could be found lost; logit of being lost,
errors clustered on centre (bias-reduced), t(centres − 1). Each later visit's term
compares its interval with the first.</p>
{{ retention.discrete_table|safe }}{{ retention.discrete|safe }}
<img src="{{ figures.km_by_centre }}" alt="Kaplan–Meier curves by centre, one panel per centre">
<p class="note">One panel per centre (all {{ retention.n_centres }} centres), each with its
95% confidence band and the pooled curve of all centres in grey; panel titles give the
participants and losses of the centre. The shared y-axis is zoomed to the curves' range
(read its labels).</p>
<h4>Competing risks</h4>
<img src="{{ figures.cif_ltfu }}"
 alt="Cumulative incidence of loss to follow-up with death as a competing event">
{{ retention.cif|safe }}
{% endif %}

{% if outcomes %}
<h2>Injection-risk outcomes</h2>
<h3>Table 1 — baseline characteristics by group</h3>
<p class="note">Largest |standardised mean difference|: {{ '%.3f'|format(outcomes.table1_smd) }}
before weighting, {{ '%.3f'|format(outcomes.table1w_smd) }} after inverse probability of
treatment weighting (|SMD| &gt; 0.1 flags imbalance).</p>
{{ outcomes.table1|safe }}
<h3>Primary endpoint</h3>
<p class="note">Declared before the analysis (settings <code>COHORT_PRIMARY_OUTCOME</code>,
<code>COHORT_PRIMARY_VISIT</code>): the group × time interaction of this outcome at this
visit, in the primary analysis (ITT, errors clustered on centre with the bias-reduced
sandwich, t(centres − 1) intervals). It is tested at 5% on its own.</p>
{{ outcomes.primary|safe }}
{% for n in outcomes.notes %}<p class="note">{{ n }}</p>{% endfor %}
<h3>Secondary endpoints (Holm-adjusted)</h3>
<p class="note">Every other outcome × visit interaction of the primary analysis, one family:
<code>p_holm</code> is Holm's step-down adjusted p-value; read secondary results by it.</p>
{{ outcomes.secondary|safe }}
<h3>Missing follow-up questionnaires</h3>
{% for n in outcomes.missing_notes %}<p class="note">{{ n }}</p>{% endfor %}
{{ outcomes.mice|safe }}
<h4>Tipping point (missing not at random)</h4>
<p class="note">delta is added to the log-odds of imputed values of intervention
participants who missed the visit (positive: they are assumed to be doing worse than the
ones who came).</p>
{{ outcomes.tipping|safe }}
<h3>Group × time effects (odds ratios)</h3>
<p class="note">GEE logistic. ITT (primary), per-protocol, IPTW and IPTW + IPCW: independence
working correlation, errors clustered on <b>centre</b> (about 20 clusters: bias-reduced
sandwich, t intervals). IPTW and IPTW + IPCW errors come from stacked estimating equations
(centre-clustered sandwich × G/(G−1), t intervals): every estimated part of the weights
counts (the propensity score, the proportion treated, each visit's completion model and
completion rate). "ITT, participant-clustered" ignores centres (working correlation
<b>{{ outcomes.cov_struct }}</b>) and "centre fixed effects" adds centre as a covariate:
both are sensitivity analyses. The interaction is the ratio of the odds ratios (change
from M0 in the intervention group over the change in the comparison group).</p>
{{ outcomes.headline|safe }}
<p class="note">The ITT model (unweighted) is the primary analysis. The IPTW and IPTW + IPCW
models are sensitivity analyses: their propensity score includes the baseline (M0) value of
every outcome as well as baseline characteristics, and in a before/after comparison of
non-randomised groups, balancing the groups on the baseline outcome can itself create a
group × time effect through regression to the mean (each group drifts back towards its own
population's mean; Daw &amp; Hatfield, Health Serv Res 2018). A difference between the ITT
and IPTW interactions is therefore not evidence of confounding by itself.</p>
{% if outcomes.not_estimable %}<p class="note">Not estimable, left out of the tables and
the forest plot: {% for m in outcomes.not_estimable %}{{ m.outcome }} ({{ m.analysis }}):
{{ m.reason }}{% if not loop.last %}; {% endif %}{% endfor %}.</p>{% endif %}
<img src="{{ figures.forest_interaction }}" alt="Forest plot of group × time odds ratios">
{% for f in outcomes.figures %}
<h4>{{ f.label }}</h4>
<img src="{{ f.src }}" alt="Proportion over time by group with 95% CIs: {{ f.label }}">
{% endfor %}
<h3>Weights</h3>{{ outcomes.iptw|safe }}{{ outcomes.ipcw|safe }}
<h3>Table 1 after IPTW</h3>{{ outcomes.table1w|safe }}
<h3>All contrasts</h3>{{ outcomes.all|safe }}
{% endif %}

<h2>Model specifications</h2>
<table class="t"><tr><th>model</th><th>specification</th><th>notes</th></tr>
{% for s in specs %}<tr><td>{{ s.model }}</td><td><code>{{ s.spec }}</code>
{% if s.n_obs is defined %} — {{ s.n_obs }} visits, {{ s.n_participants }} participants
{%- endif %}</td>
<td>{{ s.notes if s.notes is defined else '' }}</td></tr>{% endfor %}
</table>
</body></html>
"""
