"""What each kind of job does, once a runner has claimed it.

Each function takes the job's own session (scoped to the person who asked, row-level
security included), the job, the person as an ``Actor``, and a ``Progress`` callback, and
keeps the guarantees of the same work done in a request:

* ``import``: the import's own all-or-nothing transaction (``cohort.excel.importer``);
  the marked copy is stored with the job when something is to correct or flagged. Run
  again after a crash, the same file is recognised by its digest: nothing twice.
* ``export`` and ``analysis`` (registered by ``analysis.jobs``): built from one read of
  the database, logged through ``record_export`` in the same transaction that stores the
  files and marks the job done: nothing is handed over unlogged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session

from cohort.errors import CohortError
from cohort.jobs import store
from cohort.messages import msg
from cohort.models_ops import Job
from cohort.services.context import Actor, batch

Progress = Callable[..., None]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MEDIA = {"csv": "text/csv", "xlsx": XLSX, "dta": "application/x-stata-dta",
         "sav": "application/x-spss-sav", "parquet": "application/vnd.apache.parquet",
         "json": "application/json", "zip": "application/zip"}


@dataclass(frozen=True)
class Context:
    """``session`` reads (deferred transactions); ``writer()`` opens a session for a phase
    that writes: on SQLite its transactions take the write lock up front, as the web's
    writers do, so that a save committed meanwhile by a server cannot make it fail
    half-way. Both see what the person who asked may see (row-level security)."""

    session: Session
    job: Job
    actor: Actor
    actor_name: str
    progress: Progress
    writer: Callable[[], Session]


Work = Callable[[Context], dict[str, Any]]
_KINDS: dict[str, Work] = {}


def register(kind: str, work: Work) -> None:
    """Make ``kind`` runnable. ``cohort`` registers imports; the analysis package
    registers exports and the analysis report (``analysis.jobs``), and every entry point
    that runs jobs (the web app, ``cohort worker``) imports it: ``cohort`` itself never
    imports ``analysis``."""
    _KINDS[kind] = work


def run(context: Context) -> dict[str, Any]:
    work = _KINDS.get(context.job.kind)
    if work is None:
        raise CohortError(msg("job.unknown_kind", kind=context.job.kind))
    return work(context)


# --------------------------------------------------------------------------- import
def run_import(c: Context) -> dict[str, Any]:
    from cohort.excel.annotate import annotate
    from cohort.excel.importer import import_sheet, is_csv, progress_note, read_file

    params = c.job.params
    filename = str(params["filename"])
    data = store.read_input(c.session, c.job.id, filename)
    c.progress(done=0, total=3, note=progress_note("reading"))
    sheet = read_file(data, filename)
    c.session.commit()
    c.progress(done=1, total=3, note=progress_note("checking", len(sheet.rows)))
    on = date.fromisoformat(params["on"]) if params.get("on") else None
    with c.writer() as session:
        report = import_sheet(session, actor=c.actor, sheet=sheet, data=data,
                              filename=filename, dry_run=bool(params.get("dry_run")), on=on)
        result = import_summary(report)
        marked = report.problems + report.deviations
        copy, name = None, f"{filename.rsplit('.', 1)[0]}-to-correct.xlsx"
        if marked and report.already_imported is None:
            c.progress(done=2, total=3, note=progress_note("marking"))
            csv_name = filename if is_csv(filename, data) else None
            copy = annotate(data, marked, csv_name=csv_name)  # a workbook, CSV or not
            result["annotated"] = name
        with batch(session):
            if copy is not None:
                store.add_file(session, c.job.id, store.OUTPUT, name, XLSX, copy)
            store.finish(session, c.job, result=result)
    return result


def import_summary(report: Any, limit: int = 200) -> dict[str, Any]:
    """What the page shows of an import (the first ``limit`` problems; the marked copy
    has them all)."""
    def problem(p: Any) -> dict[str, Any]:
        return {"sheet": p.sheet, "row": p.row, "column": p.column, "rule": p.rule,
                "message": p.text}

    return {
        "filename": report.filename, "kind": report.kind.value, "dry_run": report.dry_run,
        "rows": report.rows, "written": report.written, "unchanged": report.unchanged,
        "problems": len(report.problems),
        "problem_list": [problem(p) for p in report.problems[:limit]],
        "deviations": len(report.deviations),
        "deviation_list": [problem(p) for p in report.deviations[:limit]],
        "created": [list(pair) for pair in report.created[:limit]],
        "already_imported": report.already_imported.isoformat()
        if report.already_imported else None,
        "sheets": report.sheets,
    }




register("import", run_import)
