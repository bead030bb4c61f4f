"""Named domain errors. Entry points (API, CLI, import) map them to HTTP codes, exit codes
and row errors in one place each; nothing below them knows about HTTP."""

from __future__ import annotations

from dataclasses import dataclass, field

from cohort.messages import LEGACY, Message, msg, text_of


class CohortError(Exception):
    """Base of every error a person may need to read.

    It carries a :class:`~cohort.messages.Message` (id and parameters); ``message`` is its
    English words, and an entry point renders it in the reader's language with
    ``error.render(lang)``. A plain string is still accepted from code outside the domain
    (it becomes the ``legacy.text`` message); the domain passes messages (a test checks).
    """

    def __init__(self, message: Message | str) -> None:
        self.message_data = message if isinstance(message, Message) else msg(LEGACY,
                                                                                  text=message)
        super().__init__(self.message_data.render())

    @property
    def message(self) -> str:
        return self.message_data.render()

    @property
    def message_id(self) -> str:
        return self.message_data.id

    def render(self, lang: str | None = None) -> str:
        return self.message_data.render(lang)


class NotFound(CohortError):
    """The record does not exist, or the person may not see it (same answer on purpose)."""


class StaleVersion(CohortError):
    """Someone saved the record after it was loaded; nothing was overwritten."""

    def __init__(self, message: Message | str, *, current_version: int) -> None:
        super().__init__(message)
        self.current_version = current_version


class ProtocolViolation(CohortError):
    """A hard protocol rule refused the write; nothing was written."""

    def __init__(self, rule_id: str, message: Message | str, *,
                 field: str | None = None) -> None:
        super().__init__(message)
        self.rule_id = rule_id
        self.field = field


class GroupCrossingRefused(ProtocolViolation):
    """Comparison → intervention: results would no longer be comparable."""


class GroupLocked(ProtocolViolation):
    """The group is fixed once the M0 questionnaire exists."""


class NotEligible(ProtocolViolation):
    """Enrolment refused: an inclusion criterion is not met or consent is missing."""


class DuplicateTimepoint(ProtocolViolation):
    """A questionnaire already exists for this participant and timepoint."""


class DateBeforeInclusion(ProtocolViolation):
    """A visit or session dated before the participant's inclusion."""


class DateInFuture(ProtocolViolation):
    """A visit, session or status dated after today."""


class FutureCheckDate(CohortError):
    """``cohort check`` asked about a future day: visits not yet late would be flagged."""


class OutsideCentreScope(ProtocolViolation):
    """The person is writing for a centre that is not theirs."""


class ActionNotAllowed(ProtocolViolation):
    """The person's role may not do this (for example a statistician writing data)."""


class StudyLocked(ProtocolViolation):
    """The study, or this centre, is locked at its end: nothing more is written."""


class PurposeMissing(ProtocolViolation):
    """A full-cohort export needs the person to say what it is for."""


@dataclass(frozen=True)
class FieldError:
    """One problem with one answer, in words for the person who typed it.

    ``message`` is a catalogue message when the domain made it, or words from the data
    dictionary's validation (``forms``, which renders its own English for now).
    """

    field: str
    message: Message | str
    label: str = ""
    code: str = "invalid"

    @property
    def text(self) -> str:
        return text_of(self.message)


@dataclass
class ValidationFailed(CohortError):
    """Answers did not pass the data dictionary; every problem is listed."""

    problems: list[FieldError] = field(default_factory=list)
    #: What was checked (message ``validation.failed.<context>`` says it): answers,
    #: session, session_answers, enrolment, enrolment_answers, status_answers,
    #: staff_details or questionnaire (of ``timepoint``).
    context: str = "answers"
    timepoint: str = ""

    def __post_init__(self) -> None:
        summary = "; ".join(f"{p.field}: {p.message}" for p in self.problems[:5])
        more = len(self.problems) - 5
        which = {"timepoint": self.timepoint} if self.context == "questionnaire" else {}
        CohortError.__init__(self, msg(f"validation.failed.{self.context}", summary=summary,
                                       **which)
                             if more <= 0 else
                             msg(f"validation.failed_more.{self.context}", summary=summary,
                                 more=more, **which))
