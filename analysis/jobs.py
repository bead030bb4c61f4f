"""Exports and the analysis report as background jobs (``cohort.jobs``).

Registered with the job runner when this module is imported (the web app and ``cohort
worker`` do). Both are built from one read of the database (as the person who asked sees
it, row-level security included), and logged through ``record_export`` in the same
transaction that stores the files and marks the job done: nothing is handed over
unlogged, and a job that stopped left nothing behind.
"""

from __future__ import annotations

import tempfile
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

from cohort.errors import ActionNotAllowed, CohortError
from cohort.jobs import store
from cohort.jobs.work import MEDIA, Context, register
from cohort.services.access import check_purpose, record_export, visible_codes
from cohort.services.context import Actor, batch
from cohort.vocab import Channel, ExportKind, Role
from forms.i18n import format_date
from forms.i18n import gettext as _

#: Who may take data of every centre out as an analysis file or report.
ANALYSTS = frozenset({Role.ADMIN, Role.STATISTICIAN, Role.RESEARCH_OFFICER})


def may_analyse(actor: Actor) -> bool:
    """Whether the pages offer exports and the analysis report to this person."""
    return actor.role in ANALYSTS and actor.centre_ids is None


def may_export_free_text(actor: Actor) -> bool:
    return may_analyse(actor) and actor.role is Role.ADMIN


def require_analyst(actor: Actor, *, free_text: bool = False) -> None:
    """Analysis files and the analysis report cover every centre: national data managers,
    statisticians and research officers only; free text for the data manager only."""
    if actor.role not in ANALYSTS or actor.centre_ids is not None:
        raise ActionNotAllowed("scope.role", _(
            "Analysis exports and the analysis report cover every centre; please ask the data "
            "manager or a statistician."))
    if free_text and actor.role is not Role.ADMIN:
        raise ActionNotAllowed("scope.role", _(
            "Only the data manager exports free-text fields (people write names and places in "
            "them)."))


def check_export_params(actor: Actor, params: dict[str, Any]) -> None:
    """What a person asks is checked before the job is queued (4xx at once)."""
    from analysis.export import FORMATS, SHAPES

    require_analyst(actor, free_text=bool(params.get("include_free_text")))
    if params.get("fmt") not in FORMATS:
        raise CohortError(_("Unknown export format '{format}'; use one of {formats}.").format(
            format=params.get("fmt"), formats=", ".join(FORMATS)))
    if params.get("shape", "long") not in SHAPES:
        raise CohortError(_("Unknown shape; use long or wide."))
    check_purpose(kind=ExportKind.EXPORT, channel=Channel.WEB, centre_codes=None,
                  purpose=params.get("purpose"))


def check_analysis_params(actor: Actor, params: dict[str, Any]) -> None:
    from analysis.report import SECTIONS

    require_analyst(actor)
    if params.get("what", "all") not in SECTIONS:
        raise CohortError(_("Unknown analysis; use retention, outcomes or all."))


# --------------------------------------------------------------------------- export
def run_export(c: Context) -> dict[str, Any]:
    from analysis.data import load_frames
    from analysis.export import export as write_export

    params = c.job.params
    check_export_params(c.actor, params)
    as_of = date.fromisoformat(params["as_of"])
    fmt, shape = str(params["fmt"]), str(params.get("shape", "long"))
    free_text = bool(params.get("include_free_text"))
    c.progress(done=0, total=3, note=_("Reading the study database"))
    data = load_frames(c.session, as_of=as_of)
    c.session.commit()
    if len(data.participants) == 0:
        raise CohortError(_("No participants enrolled on or before {date}; nothing to "
                            "export.").format(date=format_date(as_of)))
    c.progress(done=1, total=3, note=_("Writing {n} participants").format(
        n=len(data.participants)))
    with tempfile.TemporaryDirectory(prefix="cohort-job-") as scratch:
        name = f"cohort-{shape}-{as_of.isoformat()}.{fmt}"
        result = write_export(data, Path(scratch) / name, fmt=fmt, shape=shape,
                              include_free_text=free_text)
        c.progress(done=2, total=3, note=_("Storing the files"))
        with c.writer() as session, batch(session):
            record_export(session, actor=c.actor, actor_name=c.actor_name,
                          channel=Channel.WEB, client="background job", kind=ExportKind.EXPORT,
                          fmt=fmt, shape=shape, rows=result.rows, fields=result.columns,
                          centre_codes=visible_codes(session, c.actor),
                          free_text=free_text, deidentified=not free_text,
                          purpose=params.get("purpose"), target=name)
            for path in (result.path, result.codebook, result.variables):
                store.add_file(session, c.job.id, store.OUTPUT, path.name,
                               MEDIA.get(path.suffix.lstrip("."), "application/octet-stream"),
                               path)
            summary = {"rows": result.rows, "columns": len(result.columns), "format": fmt,
                       "shape": shape, "file": result.path.name,
                       "participants": len(data.participants)}
            store.finish(session, c.job, result=summary)
    return summary


# --------------------------------------------------------------------------- analysis
def run_analysis(c: Context) -> dict[str, Any]:
    from analysis.data import load_frames
    from analysis.report import write_report

    params = c.job.params
    check_analysis_params(c.actor, params)
    as_of = date.fromisoformat(params["as_of"])
    what = str(params.get("what", "all"))
    c.progress(done=0, total=3, note=_("Reading the study database"))
    data = load_frames(c.session, as_of=as_of)
    c.session.commit()
    if len(data.participants) == 0:
        raise CohortError(_("No participants enrolled on or before {date}; nothing to "
                            "analyse.").format(date=format_date(as_of)))
    c.progress(done=1, total=3, note=_("Fitting the models ({n} participants)").format(
        n=len(data.participants)))
    with tempfile.TemporaryDirectory(prefix="cohort-job-") as scratch:
        folder = Path(scratch) / "report"
        try:
            report = write_report(data, folder, what=what)
        except ValueError as error:
            raise CohortError(_("The models could not be fitted on these data ({error}); "
                                "with very few participants or visits, try the retention "
                                "analysis only.").format(error=error)) from error
        c.progress(done=2, total=3, note=_("Storing the report"))
        bundle = Path(scratch) / f"analysis-{what}-{as_of.isoformat()}.zip"
        with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(folder).as_posix())
        with c.writer() as session, batch(session):
            record_export(session, actor=c.actor, actor_name=c.actor_name,
                          channel=Channel.WEB, client="background job",
                          kind=ExportKind.ANALYSIS, fmt="html", shape=what,
                          rows=len(data.participants), purpose=params.get("purpose"),
                          target=bundle.name)
            store.add_file(session, c.job.id, store.OUTPUT, bundle.name, MEDIA["zip"],
                           bundle)
            summary = {"participants": len(data.participants), "what": what,
                       "file": bundle.name, "figures": len(report.figures),
                       "estimates": len(report.estimates)}
            store.finish(session, c.job, result=summary)
    return summary


register("export", run_export)
register("analysis", run_analysis)
