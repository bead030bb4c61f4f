"""``cohort``: the command line of the study's data manager.

Every command prints one clear line and exits non-zero on a known error, never a
traceback; ``--json`` outputs are stable for scripts (keys, ids and codes never translated).
Feature modules add their own commands through ``register(app)``.

Language: ``--lang``, else ``LC_ALL``/``LC_MESSAGES``/``LANG``, else
``COHORT_DEFAULT_LANGUAGE`` (:func:`cohort.cli.common.command_language`), set for the
command's duration by the callback below. What a command prints goes through ``_()``; the
``--help`` texts stay English: typer reads them when the module is imported, before
``--lang`` is parsed, and click's own usage words ("Usage", "Missing option") are English
too, so translating only ours would give half-French help.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cohort.cli import analysis, excel, ops, protection, users
from cohort.cli.common import (  # noqa: F401  (the names commands and tests use)
    AsOf,
    Json,
    command_language,
    db_session,
    emit,
    fail,
    friendly,
    national,
    parse_date,
)
from cohort.cli.dictionary import dictionary_app
from cohort.cli.i18n import i18n_app
from forms.i18n import _, format_date, format_decimal, use_language

app = typer.Typer(
    help="Data manager for a longitudinal harm-reduction intervention cohort (AERLI).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(dictionary_app, name="dictionary")
app.add_typer(i18n_app, name="i18n")


@app.callback()
def choose_language(
    ctx: typer.Context,
    lang: Annotated[str | None, typer.Option(
        "--lang", metavar="en|fr",
        help="Language of the messages (default: LC_ALL, LC_MESSAGES or LANG, else "
             "COHORT_DEFAULT_LANGUAGE).")] = None,
) -> None:
    """Set the reader's language before any command runs (help texts stay English)."""
    ctx.with_resource(use_language(command_language(lang)))

@app.command()
@friendly
def init(
    drop: Annotated[bool, typer.Option(
        help="Start from an empty SQLite file; only a file built by the demo is dropped.")] = False,
) -> None:
    """Create or upgrade the database schema (alembic migrations)."""
    from cohort.migrate import is_replaceable_sqlite, remove_sqlite_file, upgrade
    from cohort.settings import get_settings

    url = get_settings().database_url
    if drop:
        if not is_replaceable_sqlite(url):
            fail(_("{url} holds study data (or is not an SQLite file); it is never dropped. "
                   "Participants and their history are kept for good.").format(
                       url=safe_url(url)))
        remove_sqlite_file(url)
    upgrade(url)
    typer.echo(_("Database ready: {url}").format(url=safe_url(url)))


def safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command()
@friendly
def demo(
    participants: Annotated[int, typer.Option(min=1, max=200_000)] = 600,
    seed: Annotated[int, typer.Option()] = 42,
    as_of: AsOf = None,
    fresh: Annotated[bool, typer.Option(
        help="Replace an SQLite database built by an earlier demo (never one holding other "
             "study data).")] = True,
    accounts: Annotated[
        bool, typer.Option(help="Also create demo sign-in accounts and print them once.")
    ] = False,
    centre_icc: Annotated[float, typer.Option(
        min=0.0, max=0.25,
        help="Share of each outcome's latent variance that a centre's participants share "
             "(0: centres have no effect).")] = 0.05,
) -> None:
    """Build a realistic synthetic cohort (20 centres) through the protocol services."""
    import time

    from cohort.demo import build_demo
    from cohort.migrate import DEMO_MARK, is_replaceable_sqlite, remove_sqlite_file, upgrade
    from cohort.settings import get_settings

    url = get_settings().database_url
    if fresh and is_replaceable_sqlite(url):
        remove_sqlite_file(url)
    upgrade(url)
    with db_session() as session:
        from cohort.models import Centre, ImportBatch

        if session.exec(_select(Centre)).first() is not None:
            if session.exec(_select(ImportBatch).where(ImportBatch.kind == DEMO_MARK)).first():
                fail(_("{url} already holds a demo cohort; the demo only replaces an SQLite "
                       "file and never deletes data on a server. Point COHORT_DATABASE_URL at "
                       "an empty database, or drop and recreate this one.").format(
                           url=safe_url(url)))
            fail(_("{url} already holds study data that the demo did not build; the demo "
                   "needs an empty database (set COHORT_DATABASE_URL to another one).").format(
                       url=safe_url(url)))
        # The mark lets a later `cohort demo` know this database is synthetic and replaceable.
        session.add(ImportBatch(file_digest=f"seed-{seed}", filename="cohort demo",
                                kind=DEMO_MARK))
        session.commit()
        started = time.perf_counter()
        summary = build_demo(session, participants=participants, seed=seed,
                             as_of=parse_date(as_of), centre_icc=centre_icc)
        elapsed = time.perf_counter() - started
    typer.echo(_(
        "Demo cohort ready in {elapsed} s: {centres} centres, {staff} staff, {screened} "
        "screened, {participants} participants, {questionnaires} questionnaires, {sessions} "
        "AERLI sessions, {deviations} deviations.").format(
            elapsed=format_decimal(elapsed, 1), centres=summary.centres, staff=summary.staff,
            screened=summary.screened, participants=summary.participants,
            questionnaires=summary.questionnaires, sessions=summary.sessions,
            deviations=sum(summary.deviations.values())))
    for rule_id, n in sorted(summary.deviations.items()):
        typer.echo(f"  {rule_id:28} {n}")
    if accounts:
        from cohort.services.accounts import create_demo_accounts

        with db_session() as session:
            created = create_demo_accounts(session)
        typer.echo("\n" + _("Demo accounts (shown once; synthetic data only):"))
        everywhere = _("all centres")
        for account in created:
            typer.echo(f"  {account.role.value:18} {account.centre_code or everywhere:12} "
                       + _("username: {username} password: {password}").format(
                           username=f"{account.username:22}", password=account.password))


def _select(model: Any) -> Any:
    from sqlmodel import select

    return select(model)


@app.command()
@friendly
def status(as_of: AsOf = None, json_: Json = False) -> None:
    """Enrolment, follow-up and deviations per centre."""
    from cohort.services.monitoring import centre_status

    with db_session() as session:
        rows = centre_status(session, actor=national(session), as_of=parse_date(as_of))
    if json_:
        emit([r.as_dict() for r in rows])
        return
    from cohort.schedule import get_schedule

    schedule = get_schedule()

    def fit(label: str, width: int, gap: int = 1) -> tuple[str, int]:
        """A column's header in the reader's language, the column widened to hold it."""
        return label, max(width, len(label) + gap)

    # Columns per visit of the schedule: done (all), and in window (follow-ups).
    columns: list[tuple[str, int, str, str]] = []
    for v in schedule:
        columns.append((v.name, max(5, len(v.name) + 2), v.name, "done"))
        if v is not schedule.baseline:
            label, width = fit(_("{visit} in win").format(visit=v.name), 0)
            columns.append((label, width, v.name, "in_window"))
    head = [fit(_("centre"), 7), fit(_("enrolled"), 9), fit(_("int"), 5), fit(_("comp"), 5)]
    tail = [fit(_("overdue"), 8), fit(_("sessions"), 9), fit(_("open dev"), 9)]
    typer.echo(f"{head[0][0]:{head[0][1]}}"
               + "".join(f"{label:>{w}}" for label, w in head[1:])
               + "".join(f"{label:>{w}}" for label, w, *_rest in columns)
               + "".join(f"{label:>{w}}" for label, w in tail))
    for r in rows:
        typer.echo(
            f"{r.centre_code:{head[0][1]}}{r.enrolled:>{head[1][1]}}"
            f"{r.intervention:>{head[2][1]}}{r.comparison:>{head[3][1]}}"
            + "".join(f"{getattr(r.visit(name), what):>{w}}" for _l, w, name, what in columns)
            + f"{r.overdue:>{tail[0][1]}}{r.sessions:>{tail[1][1]}}"
            f"{r.open_deviations:>{tail[2][1]}}"
        )
    typer.echo("\n" + _("Retention by attendance (% of those whose window has closed: done on "
                        "time / done at all) and by status (% not recorded lost):"))
    later = [(v.name, fit(_("{visit} on time").format(visit=v.name), 0),
              fit(_("{visit} done").format(visit=v.name), 0, 2)) for v in schedule.follow_ups]
    kept = fit(_("not lost"), 10, 2)
    typer.echo(f"{head[0][0]:{head[0][1]}}"
               + "".join(f"{on_time:>{w1}}{done:>{w2}}" for _n, (on_time, w1), (done, w2) in later)
               + f"{kept[0]:>{kept[1]}}")

    def pct(v: float | None) -> str:
        return "–" if v is None else format_decimal(v, 1)

    for r in rows:
        typer.echo(f"{r.centre_code:{head[0][1]}}"
                   + "".join(f"{pct(r.visit(name).attended_in_window_pct):>{w1}}"
                             f"{pct(r.visit(name).attended_pct):>{w2}}"
                             for name, (_a, w1), (_b, w2) in later)
                   + f"{pct(r.retained_by_status_pct):>{kept[1]}}")


@app.command()
@friendly
def deviations(
    centre: Annotated[str | None, typer.Option(help="Centre code, e.g. C04.")] = None,
    rule: Annotated[str | None, typer.Option(help="Rule id, e.g. session.trained_staff.")] = None,
    state: Annotated[
        str | None, typer.Option("--status", help="open|acknowledged|resolved")
    ] = None,
    limit: Annotated[int, typer.Option(min=1)] = 10_000,
    json_: Json = False,
) -> None:
    """List deviations raised by soft and time-based rules."""
    from cohort.models import DeviationPublic
    from cohort.rules import RULES_BY_ID
    from cohort.services.deviations import list_deviations
    from cohort.services.setup import centre_by_code
    from cohort.vocab import DeviationStatus

    if rule is not None and rule not in RULES_BY_ID:
        fail(_("unknown rule '{rule}'; `cohort rules` lists them.").format(rule=rule))
    wanted = None
    if state is not None:
        try:
            wanted = DeviationStatus(state)
        except ValueError:
            fail(_("unknown status '{state}'; use open, acknowledged or resolved.").format(
                state=state))
    with db_session() as session:
        centre_ids = [centre_by_code(session, centre).id or 0] if centre else None
        rows, total = list_deviations(session, actor=national(session), centre_ids=centre_ids,
                                      rule_id=rule, status=wanted, limit=limit)
        public = [DeviationPublic.model_validate(d, from_attributes=True) for d in rows]
    if json_:
        emit({"count": total, "data": [p.model_dump(mode="json") for p in public]})
        return
    for d in public:
        typer.echo(f"#{d.id:<6} {d.status.value:12} {d.rule_id:26} {d.message}")
    typer.echo(_("{count} deviation(s)").format(count=total))


@app.command()
@friendly
def check(as_of: AsOf = None, json_: Json = False) -> None:
    """Evaluate the time-based rules (no session within six months, overdue visits)."""
    from cohort.services.checks import run_checks

    with db_session() as session:
        report = run_checks(session, as_of=parse_date(as_of))
    summary = {"as_of": report.as_of, "participants": report.participants,
               "raised": len(report.raised), "by_rule": report.by_rule(),
               "auto_resolved": report.auto_resolved}
    if json_:
        emit(summary)
        return
    typer.echo(_("Checked {participants} participants as of {as_of}: {raised} new "
                 "deviation(s), {cleared} cleared.").format(
                     participants=report.participants, as_of=format_date(report.as_of),
                     raised=len(report.raised), cleared=report.auto_resolved))
    for rule_id, n in sorted(report.by_rule().items()):
        typer.echo(f"  {rule_id:28} {n}")


@app.command("rules")
def rules_command(json_: Json = False) -> None:
    """The protocol rules, hard and soft, as the software enforces them."""
    from cohort.messages import render
    from cohort.rules import RULES

    rows = [{"id": r.id, "severity": r.severity.value, "applies_to": r.applies_to,
             "message": render(f"rule.{r.id}")} for r in RULES]
    if json_:
        emit(rows)
        return
    for r in rows:
        typer.echo(f"{r['severity']:5} {r['id']:28} {r['message']}")


users.register(app)
excel.register(app)
analysis.register(app)
protection.register(app)
ops.register(app)


if __name__ == "__main__":  # pragma: no cover
    app()
