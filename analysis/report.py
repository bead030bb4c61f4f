"""The statisticians' report: HTML with tables and figures, estimates as CSV and JSON.

Every report states what it was computed from (as-of date, row counts, database URL
without credentials, git commit) and the exact model specifications, so a reader can
reproduce a number or tell two reports apart.

The estimates are computed once (:func:`compute_report`) and do not depend on the
reader's language; the words are added when the report is rendered
(:func:`render_report`, :func:`draw_figures`), so the same estimates give the English and
the French report. The CSV and JSON files are the same in every language.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.data import BINARY_OUTCOMES, AnalysisData
from analysis.export_tables import spreadsheet_safe
from analysis.results import Result, named
from analysis.wording import Note, heading, local, number, word
from forms.i18n import (
    DEFAULT,
    N_,
    current_language,
    format_date,
    format_datetime,
    format_percent,
    gettext,
    pgettext,
    use_language,
)

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


#: Columns whose values are names or codes (model terms, variables, centres, formulas):
#: shown as they are in every language.
_CODE_COLUMNS = frozenset({"term", "variable", "outcome", "formula", "centre_code"})
_TOTALS = frozenset({"All centres", "All", "all centres", "all"})
_DECIMAL_POINT = re.compile(r"(?<=\d)\.(?=\d)")
_PERCENT = re.compile(r"(?<=\d)%")


def _cell_words(value: str, column: str, lang: str) -> str:
    """A text cell in ``lang``: the words of a value, and numbers written in the text
    (Table 1's ``12 (34.5%)``, an ``or_ci``) with the language's decimal sign."""
    if lang == DEFAULT:
        return value
    if column in _CODE_COLUMNS:  # names and codes; "All centres" is a row's words
        return str(word(value, lang)) if value in _TOTALS else value
    text = str(word(value, lang))
    text = _DECIMAL_POINT.sub(",", text)
    return _PERCENT.sub("\u00a0%", text)


def _table(df: pd.DataFrame, *, digits: int = 3, lang: str | None = None) -> str:
    """A frame as an HTML table in ``lang``: its numbers with ``digits`` decimals (decimal
    comma in French), words of values and column headings in the language."""
    lang = lang or current_language()

    def fmt(v: Any, column: str) -> Any:
        if isinstance(v, float):
            if math.isnan(v):
                return ""
            return number(v, digits, lang)
        if isinstance(v, str):
            return _cell_words(v, column, lang)
        return v

    shown = df.copy()
    for column in shown.columns:
        shown[column] = shown[column].map(lambda v, c=str(column): fmt(v, c))
    name = df.columns.name
    shown.columns = pd.Index([heading(str(c), lang) for c in df.columns],
                             name=heading(str(name), lang) if name is not None else None)
    return str(shown.to_html(index=False, border=0, classes="t", escape=True))


def _or_text(row: pd.Series) -> str:
    return f"{row['odds_ratio']:.2f} ({row['ci_lower']:.2f}–{row['ci_upper']:.2f})"


def _and(names: list[str]) -> str:
    return " and ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " and " + names[-1]


def _and_words(names: list[str]) -> str:
    """``M6 and M12``, ``M3, M6 and M12`` in the reader's language."""
    if len(names) < 2:
        return "".join(names)
    return _("{first} and {last}").format(first=", ".join(names[:-1]), last=names[-1])


def _(message: str) -> str:
    return gettext(message)


def ltfu_definition(data: AnalysisData) -> Note:
    """The definition of time to loss to follow-up, in words, with this protocol's days."""
    from analysis.data import window_close_day

    follow_ups = data.config.schedule.follow_ups
    days = [Note(N_("day {day} for {visit}"), day=window_close_day(data.config, v.name),
                 visit=v.name) for v in follow_ups]
    others = (Note(N_(
        "at the close of the first visit window they missed after their last contact if it "
        "has closed, otherwise at the as-of date (at most the end of follow-up)"))
        if data.censor_at == "missed_visit" else
        Note(N_("at the as-of date (at most the end of follow-up)")))
    return Note(N_(
        "time = months from inclusion. Event: a current status of lost to follow-up, dated "
        "at the close of the window of the first visit missed after the last contact "
        "(questionnaire or AERLI session): {days} (the end of follow-up), or at the "
        "status's effective date if that is earlier (never before the last contact). A "
        "loss can only be seen at a scheduled visit, so the person counts as at risk until "
        "then. Death (dated by its status) is a competing event; withdrawal is censored at "
        "its date; a loss or death after the end of follow-up is censored there; everyone "
        "else is censored {others}."), days=days, others=others)


@dataclass
class ReportEstimates:
    """The estimates of one report, computed once; :func:`render_report` and
    :func:`draw_figures` put them in words in any language.

    ``specs`` are the models' specifications (their words are :class:`~analysis.wording.
    Note` objects: English in the JSON file, the reader's language in the report);
    ``shown`` every result in the order of the report.
    """

    data: AnalysisData
    what: str
    cov_struct: str
    retention: Any = None
    outcomes: Any = None
    table1: Any = None
    table1w: Any = None
    specs: list[dict[str, Any]] = field(default_factory=list)
    estimates: pd.DataFrame = field(default_factory=pd.DataFrame)
    shown: list[tuple[str, Result]] = field(default_factory=list)

    @property
    def seed(self) -> int | None:
        return self.outcomes.seed if self.outcomes is not None else None

    @property
    def reportable(self) -> pd.DataFrame:
        """The outcome contrasts that could be estimated (tables and forest plot)."""
        summary = self.outcomes.summary
        ok = summary["estimable"].ne(False) if "estimable" in summary else pd.Series(
            True, index=summary.index)
        return summary[ok]

    @property
    def interactions(self) -> pd.DataFrame:
        summary = self.reportable
        return summary[summary["contrast"].str.startswith("group × time")]


def compute_report(data: AnalysisData, *, what: str = "all",
                   cov_struct: str = "exchangeable", ipcw: bool = True,
                   outcomes: tuple[str, ...] = BINARY_OUTCOMES,
                   workers: int | None = None) -> ReportEstimates:
    """Fit the analyses named by ``what`` (retention, outcomes or all); nothing is written.

    The models are fitted in ``workers`` processes (default: the ``analysis_workers``
    setting); the estimates depend neither on it nor on the reader's language.
    """
    if what not in SECTIONS:
        raise ValueError(f"unknown report section '{what}'; use retention, outcomes or all")
    results = ReportEstimates(data, what, cov_struct)
    estimates: list[pd.DataFrame] = []
    o = None
    if what in ("outcomes", "all"):
        from analysis.models import outcome_analysis, retention_job

        o = outcome_analysis(data, outcomes=outcomes, cov_struct=cov_struct, ipcw=ipcw,
                             workers=workers, extra_jobs=[("retention", retention_job, ())]
                             if what == "all" else [])
        results.outcomes = o
    if what in ("retention", "all"):
        from analysis.retention import retention_analysis

        r = o.extra["retention"] if o is not None else retention_analysis(data)
        results.retention = r
        results.shown += named({
            N_("Kaplan–Meier by group"): r.km_group, N_("log-rank by group"): r.logrank_group,
            N_("log-rank by centre"): r.logrank_centre, N_("Cox clustered on centre"): r.cox,
            N_("Cox stratified by centre"): r.cox_strata,
            N_("discrete-time loss"): r.discrete, N_("cumulative incidence"): r.cif})
        estimates.append(r.summary.assign(section="retention"))
        results.specs += [
            {"model": Note(N_("Kaplan–Meier")), "spec": ltfu_definition(data)},
            {"model": Note(N_("log-rank")), "spec": Note(N_("by group_itt; by centre_code"))},
            {"model": Note(N_("Cox (clustered on centre)")), "spec": Note(N_(
                "{formula}, cluster = centre_code, Efron ties (robust SE as R coxph)"),
                formula=r.cox.formula)},
            {"model": Note(N_("Cox (stratified by centre)")), "spec": Note(N_(
                "{formula} + strata(centre_code), Efron ties"), formula=r.cox_strata.formula)},
            {"model": Note(N_("Schoenfeld test")), "spec": Note(N_(
                "R cox.zph (KM time transform) for each Cox model"))},
            {"model": Note(N_("discrete-time loss to follow-up")), "spec": r.discrete.formula},
            {"model": Note(N_("Aalen–Johansen")), "spec": Note(N_(
                "event 1 = lost to follow-up, competing event 2 = died, by group_itt"))},
        ]
    if o is not None:
        from analysis.table1 import table1

        results.table1 = table1(data.participants, variable_labels=data.variable_labels,
                                value_labels=data.value_labels)
        results.table1w = table1(data.participants, variable_labels=data.variable_labels,
                                 value_labels=data.value_labels,
                                 weights=o.iptw.weights if o.iptw else None)
        results.shown += named({N_("Table 1"): results.table1,
                                N_("Table 1 (IPTW)"): results.table1w,
                                N_("IPTW"): o.iptw, N_("IPCW"): o.ipcw})
        results.shown += [(f"{m.analysis}: {m.outcome}", m) for m in o.models]
        estimates.append(o.summary.assign(section="outcomes"))
        results.specs += [{"model": f"{m.analysis}: {m.outcome}", "spec": m.formula,
                           "n_obs": m.n_obs, "n_participants": m.n_participants,
                           "notes": list(dict.fromkeys(m.notes))} for m in o.models]
        for name, res in named({"mice": o.mice, "tipping_point": o.tipping}):
            extra = {"analysis": "tipping point"} if name == "tipping_point" else {}
            estimates.append(res.summary.assign(section="missing data", **extra))
            results.shown.append((name.replace("_", " "), res))
    results.estimates = (pd.concat(estimates, ignore_index=True) if estimates
                         else pd.DataFrame())
    return results


def _spec_json(spec: dict[str, Any]) -> dict[str, Any]:
    """A specification as the JSON file has always had it (English words)."""
    out = {k: str(v) if isinstance(v, str) else v for k, v in spec.items()}
    if "notes" in spec:
        out["notes"] = "; ".join(str(n) for n in spec["notes"])
    return out


def write_report(data: AnalysisData, out_dir: Path, *, what: str = "all",
                 cov_struct: str = "exchangeable", ipcw: bool = True,
                 outcomes: tuple[str, ...] = BINARY_OUTCOMES,
                 workers: int | None = None, lang: str | None = None) -> Report:
    """Run the analyses named by ``what`` (retention, outcomes or all) and write the report
    in ``lang`` (default: the reader's language).

    The models are fitted in ``workers`` processes (default: the ``analysis_workers``
    setting); the estimates do not depend on it.
    """
    results = compute_report(data, what=what, cov_struct=cov_struct, ipcw=ipcw,
                             outcomes=outcomes, workers=workers)
    return save_report(results, out_dir, lang=lang)


def save_report(results: ReportEstimates, out_dir: Path, *, lang: str | None = None) -> Report:
    """Write the estimates (CSV, JSON: the same in every language), the figures, the text
    summary and the HTML report (in ``lang``) of ``results`` into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    data = results.data

    def save_csv(df: pd.DataFrame, name: str) -> None:
        path = out_dir / name
        spreadsheet_safe(df).to_csv(path, index=False)
        files.append(path)

    with use_language(lang or current_language()) as lang:
        files += draw_figures(results, out_dir / "figures", lang=lang)
        r, o = results.retention, results.outcomes
        if r is not None:
            save_csv(r.completion, "completion.csv")
            save_csv(r.attendance, "retention_attendance.csv")
            save_csv(r.consort, "consort.csv")
        if o is not None:
            save_csv(results.table1.summary, "table1.csv")
            save_csv(results.table1w.summary, "table1_iptw.csv")
            save_csv(o.proportions, "outcome_proportions.csv")
            for name, frame in (("primary_endpoint.csv", o.primary),
                                ("secondary_endpoints_holm.csv", o.secondary)):
                save_csv(frame, name)
            for name, res in named({"mice": o.mice, "tipping_point": o.tipping}):
                save_csv(res.summary, f"{name}.csv")
        save_csv(results.estimates, "estimates.csv")
        payload = {"snapshot": data.snapshot.as_dict(), "seed": results.seed,
                   "models": [_spec_json(s) for s in results.specs],
                   "estimates": json.loads(results.estimates.to_json(orient="records"))}
        est_json = out_dir / "estimates.json"
        est_json.write_text(json.dumps(payload, indent=2, ensure_ascii=False),
                            encoding="utf-8")
        files.append(est_json)
        text = out_dir / "results.txt"  # every result in one shape: title, summary, notes
        text.write_text(results_text(results, lang), encoding="utf-8")
        files.append(text)
        html = out_dir / "index.html"
        html.write_text(render_report(results, lang), encoding="utf-8")
        files.append(html)
    return Report(out_dir, html, files, results.estimates)


def results_text(results: ReportEstimates, lang: str | None = None) -> str:
    """Every result in one shape (title, summary, notes), in ``lang``."""
    with use_language(lang or current_language()) as lang:
        return "\n\n".join(f"== {_title(title, lang)}\n{res.to_text(lang)}"
                           for title, res in results.shown) + "\n"


def _title(title: str, lang: str) -> str:
    analysis, sep, outcome = title.partition(": ")
    if sep:
        return _model_title(analysis, outcome, lang)
    return str(word(title, lang)) if title in ("tipping point",) else gettext(title, lang)


FIGURES = ("km_by_group", "km_by_centre", "cif_ltfu", "forest_interaction")


def draw_figures(results: ReportEstimates, fig_dir: Path, *, lang: str | None = None
                 ) -> list[Path]:
    """The report's figures of ``results`` as PNG files in ``fig_dir``, their titles,
    axes and legends in ``lang``."""
    from analysis import plots

    fig_dir = Path(fig_dir)
    fig_dir.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    with use_language(lang or current_language()) as lang:
        r, o = results.retention, results.outcomes
        if r is not None:
            files.append(plots.km_plot(
                r.km_group, fig_dir / "km_by_group.png",
                title=_("Time to loss to follow-up, by group (Kaplan–Meier)")))
            files.append(plots.km_small_multiples(
                r.km_centre, fig_dir / "km_by_centre.png",
                title=_("Time to loss to follow-up, by centre (Kaplan–Meier, 95% CI; grey: "
                        "all centres)"),
                overall=r.km_all.fitters["all centres"] if r.km_all else None))
            files.append(plots.cif_plot(
                r.cif, fig_dir / "cif_ltfu.png",
                title=_("Cumulative incidence of loss to follow-up (death as competing "
                        "event)")))
        if o is not None:
            labels, _values = results.data.labels(lang)
            for outcome in o.proportions["outcome"].unique():
                files.append(plots.proportions_plot(
                    o.proportions[o.proportions["outcome"] == outcome],
                    fig_dir / f"proportions_{outcome}.png",
                    title=labels.get(outcome, outcome)))
            files.append(plots.forest_plot(
                results.interactions, fig_dir / "forest_interaction.png",
                title=_("Group × time interaction (ratio of odds ratios)")))
    return files


def _table1_frame(t1: Any, data: AnalysisData, lang: str) -> pd.DataFrame:
    """Table 1 with its labels in ``lang`` (the dictionary's translation): a variable's
    label, and its levels found back from the English labels by their codes."""
    frame = t1.summary
    if lang == DEFAULT:
        return frame
    labels, values = data.labels(lang)
    english_values = data.value_labels
    frame = frame.copy()
    for i, row in frame.iterrows():
        name = str(row["variable"])
        base = name.removesuffix("_m0")
        if row["label"]:
            if name == "n":
                frame.at[i, "label"] = _("Participants")
            else:
                frame.at[i, "label"] = labels.get(base, name) + (
                    " (M0)" if name.endswith("_m0") else "")
        codes = {text: code for code, text in english_values.get(name, {}).items()}
        code = codes.get(str(row["level"]))
        if code is not None:
            frame.at[i, "level"] = values.get(name, {}).get(code, row["level"])
    return frame


def render_report(results: ReportEstimates, lang: str | None = None) -> str:
    """The HTML report of ``results`` in ``lang`` (default: the reader's language)."""
    from analysis.table1 import max_abs_smd

    with use_language(lang or current_language()) as lang:
        data = results.data
        snapshot = data.snapshot
        figures = {name: f"figures/{name}.png" for name in FIGURES}
        ctx: dict[str, Any] = {
            "lang": lang, "snapshot": snapshot.as_dict(), "what": results.what,
            "retention": None, "outcomes": None, "seed": results.seed,
            "as_of": snapshot.as_of.isoformat() if lang == DEFAULT else format_date(
                snapshot.as_of, lang),
            "extracted": snapshot.extracted_at.isoformat() if lang == DEFAULT else
            format_datetime(snapshot.extracted_at, lang),
            "follow_up_names": _and([v.name for v in data.config.schedule.follow_ups])
            if lang == DEFAULT else _and_words(
                [v.name for v in data.config.schedule.follow_ups]),
            "figures": figures,
            # A "%" in a {% trans %} block without variables is extracted as "%" but looked
            # up as "%%" (newstyle gettext): percentages go in as variables.
            "five_percent": format_percent(0.05, 0, lang),
            # Translators: between the items of a list in a sentence ("a; b").
            "separator": pgettext("list separator", "; "),
        }
        r, o = results.retention, results.outcomes
        if r is not None:
            from analysis.cox import ph_note
            from analysis.retention import ATTENDANCE_DEFINITION

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
                    r.cox.summary.assign(model=_("clustered on centre")),
                    r.cox_strata.summary.assign(model=_("stratified by centre"))])),
                "zph": _table(pd.concat([
                    r.cox.ph_test.assign(model=_("clustered on centre")),
                    r.cox_strata.ph_test.assign(model=_("stratified by centre"))])),
                "ph_note": local(ph_note(r.cox), lang),
                "discrete": _table(r.discrete.summary),
                "discrete_table": _table(r.discrete.table),
                "attendance": _table(r.attendance, digits=1),
                "attendance_definition": _(ATTENDANCE_DEFINITION),
                "cif": _table(r.cif.summary),
                "ltfu_definition": ltfu_definition(data).text(lang),
                "n_centres": len(r.km_centre.fitters),
            }
        if o is not None:
            t1, t1w = results.table1, results.table1w
            labels, _values = data.labels(lang)
            summary = results.reportable
            inter = results.interactions
            headline = inter.assign(or_ci=inter.apply(_or_text, axis=1))[
                ["outcome", "analysis", "contrast", "or_ci", "p"]]
            ctx["outcomes"] = {
                "table1": _table(_table1_frame(t1, data, lang)),
                "table1_smd": number(max_abs_smd(t1), 3, lang),
                "table1w_smd": number(max_abs_smd(t1w), 3, lang),
                "table1w": _table(_table1_frame(t1w, data, lang)),
                "headline": _table(headline),
                "all": _table(summary.drop(columns=["log_or", "estimable", "note"],
                                           errors="ignore")),
                "not_estimable": [
                    {"outcome": m.outcome, "analysis": word(m.analysis, lang),
                     "reason": local(next((n for n in m.notes
                                           if n.startswith("not estimable")), ""), lang)}
                    for m in o.models if not m.estimable],
                "figures": [{"outcome": outcome, "label": labels.get(outcome, outcome),
                             "src": f"figures/proportions_{outcome}.png"}
                            for outcome in o.proportions["outcome"].unique()],
                "iptw": _table(o.iptw.summary) if o.iptw else "",
                "ipcw": _table(o.ipcw.summary) if o.ipcw else "",
                "cov_struct": results.cov_struct,
                "primary": _table(o.primary[["outcome", "visit", "analysis", "odds_ratio",
                                             "ci_lower", "ci_upper", "p"]]
                                  if not o.primary.empty else o.primary),
                "secondary": _table(o.secondary[["outcome", "visit", "odds_ratio",
                                                 "ci_lower", "ci_upper", "p", "p_holm"]]
                                    if not o.secondary.empty else o.secondary),
                "mice": _table(o.mice.summary.drop(columns=["seed"])) if o.mice else "",
                "tipping": _table(o.tipping.summary.drop(columns=["tipping_point"]))
                if o.tipping else "",
                "missing_notes": [local(n, lang) for _name, res in
                                  named({"mice": o.mice, "tipping": o.tipping})
                                  for n in res.notes],
                "notes": [local(n, lang) for n in o.notes],
            }
        ctx["specs"] = [_spec_words(s, lang) for s in results.specs]
        return str(_environment().get_template("report.html").render(**ctx))


def _model_title(analysis: str, outcome: str, lang: str) -> str:
    """``ITT: any_risk_practice`` (an analysis of an outcome) in ``lang``."""
    return gettext("{analysis}: {outcome}", lang).format(analysis=word(analysis, lang),
                                                         outcome=outcome)


def _spec_words(spec: dict[str, Any], lang: str) -> dict[str, Any]:
    model = spec["model"]
    if not isinstance(model, Note):
        analysis, _sep, outcome = str(model).partition(": ")
        model = _model_title(analysis, outcome, lang)
    return {"model": local(model, lang), "spec": local(spec["spec"], lang),
            "n_obs": spec.get("n_obs"), "n_participants": spec.get("n_participants"),
            "notes": pgettext("list separator", "; ", lang).join(
                dict.fromkeys(local(n, lang) for n in spec.get("notes", [])))}


@cache
def _environment() -> Any:
    """The report's templates (``analysis/templates``), words through the catalogues as
    on the pages (:mod:`api.pages.common`): ``{% trans %}``, newstyle, autoescaped."""
    import jinja2

    from forms.i18n.catalogues import speaking

    return speaking(jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined))
