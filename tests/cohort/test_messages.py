"""Messages as data: one catalogue, ids and parameters in the domain, words at the edge.

Every message id the code names is in the catalogue, every entry is used, every entry
renders with its parameters, and the message-producing modules (rules, errors, services,
the Excel import) pass no English sentence to an error, a problem or a deviation: they pass
``msg(id, **params)``. The questionnaire's validation (``forms``) has no catalogue ids: its
words go through ``forms.i18n`` (``_()``), and its modules hold no bare English sentence.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from cohort import rules
from cohort.errors import CohortError, NotEligible, ProtocolViolation
from cohort.messages import (
    CATALOGUE,
    LEGACY,
    Message,
    deviation_text,
    msg,
    parameters,
    register_language,
    render,
)
from cohort.rules import RULES, EnrolmentFacts, ScopeFacts, SessionFacts
from cohort.vocab import HIGH_RISK_SITES, Group, Modality, Role

ROOT = Path(__file__).resolve().parents[2]
CODE_DIRS = ("cohort", "api", "forms", "analysis")
CATALOGUE_FILE = ROOT / "cohort" / "messages" / "en.py"
#: Where the domain produces what people read: no sentence is built here but by the catalogue.
#: (Not here: the command line and pages are the edge; ``cohort/redcap`` answers in REDCap's
#: own words, which its clients expect; ``cohort/backup.py`` speaks to the operator.)
MESSAGE_MODULES = ("cohort/rules.py", "cohort/errors.py", "cohort/services", "cohort/excel",
                   "cohort/passwords.py", "cohort/jobs")


def _sources() -> Iterator[tuple[Path, ast.Module]]:
    for folder in CODE_DIRS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == CATALOGUE_FILE or "migrations" in path.parts:
                continue
            yield path, ast.parse(path.read_text(encoding="utf-8"))


def _msg_calls(tree: ast.AST) -> Iterator[ast.expr]:
    """First arguments of every ``msg(...)`` call."""
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "msg" and node.args):
            yield node.args[0]


def _pattern(node: ast.JoinedStr) -> re.Pattern[str]:
    parts = [re.escape(v.value) if isinstance(v, ast.Constant) else ".*" for v in node.values]
    return re.compile("".join(parts))


SOURCES = list(_sources())
LITERAL_IDS = {(path, node.value) for path, tree in SOURCES for node in _msg_calls(tree)
               if isinstance(node, ast.Constant) and isinstance(node.value, str)}
PATTERNS = [(path, node) for path, tree in SOURCES for node in _msg_calls(tree)
            if isinstance(node, ast.JoinedStr)]
STRINGS = {node.value for _, tree in SOURCES for node in ast.walk(tree)
           if isinstance(node, ast.Constant) and isinstance(node.value, str)}


def test_every_message_id_named_in_code_is_in_the_catalogue() -> None:
    assert LITERAL_IDS, "no msg(...) call found: the scan is broken"
    missing = sorted(f"{p.relative_to(ROOT)}: {i}" for p, i in LITERAL_IDS if i not in CATALOGUE)
    assert missing == []
    for path, node in PATTERNS:
        pattern = _pattern(node)
        assert any(pattern.fullmatch(k) for k in CATALOGUE), (
            f"{path.relative_to(ROOT)}:{node.lineno}: no catalogue id matches "
            f"{ast.unparse(node)}")


def test_every_catalogue_entry_is_used() -> None:
    patterns = [_pattern(node) for _, node in PATTERNS]
    unused = [k for k in CATALOGUE
              if k not in STRINGS and not any(p.fullmatch(k) for p in patterns)
              and not (k.startswith("rule.") and k.removeprefix("rule.") in rules.RULES_BY_ID)]
    assert unused == []


def test_the_variants_a_rule_picks_at_run_time_all_exist() -> None:
    """Ids built from a value (a modality, a site, an action, which date) exist for every
    value the rule can meet."""
    for modality in Modality:
        if modality is not Modality.IN_PERSON:
            assert f"session.not_in_person.{modality.value}" in CATALOGUE
    for site in HIGH_RISK_SITES:
        assert f"session.high_risk_site.{site.value}" in CATALOGUE
    for action in rules.ACTION_ROLES:
        assert f"scope.role.{action}" in CATALOGUE
    for what in ("date", "visit", "session", "status"):
        assert f"date.before_inclusion.{what}" in CATALOGUE
        assert f"date.in_future.{what}" in CATALOGUE


@pytest.mark.parametrize("message_id", sorted(CATALOGUE))
def test_every_entry_renders_with_its_parameters(message_id: str) -> None:
    values = {name: 101 + i for i, name in enumerate(sorted(parameters(message_id)))}
    text = render(message_id, values)
    assert "{" not in text and text.strip(), text
    for name, value in values.items():
        assert str(value) in text, f"{message_id}: parameter {name} not shown"


def test_every_rule_has_a_summary_in_the_catalogue() -> None:
    for rule in RULES:
        assert f"rule.{rule.id}" in CATALOGUE, rule.id
        assert rule.message == CATALOGUE[f"rule.{rule.id}"]


def test_a_refusal_carries_its_id_and_parameters_and_renders_them() -> None:
    """enrol.under_18: the error holds the message as data; the words come from it."""
    facts = EnrolmentFacts(age=16, injected_past_month=True, wish_neck_groin=False,
                           consent=True, consent_date=date(2026, 1, 5),
                           inclusion_date=date(2026, 1, 5), today=date(2026, 1, 6))
    with pytest.raises(NotEligible) as refused:
        rules.enforce("enrolment", facts)
    error = refused.value
    assert error.rule_id == "enrol.under_18"
    assert error.message_data == Message("enrol.under_18", {"age": 16, "min_age": 18})
    assert error.message == "The person is 16; the study enrols people aged 18 or over."
    assert str(error) == error.message


def test_a_finding_carries_json_parameters() -> None:
    """session.after_follow_up: dates become ISO text, so the deviation can store them."""
    facts = SessionFacts(Group.INTERVENTION, Modality.ONLINE, 2, None, date(2027, 6, 1),
                         date(2026, 1, 5), rules.ProtocolConfig())
    found = {f.rule_id: f.reason for f in rules.evaluate("session", facts)}
    assert found["session.not_in_person"] == Message("session.not_in_person.online", {})
    after = found["session.after_follow_up"]
    assert after.id == "session.after_follow_up"
    assert after.params == {"session_date": "2027-06-01", "end": "2027-02-16"}
    assert after.render() == "Session on 2027-06-01 is after the end of follow-up (2027-02-16)."


def test_the_role_refusal_names_the_action() -> None:
    """scope.role: each action's refusal is its own message."""
    reason = rules.RULES_BY_ID["scope.role"].check(
        ScopeFacts(Role.OUTREACH_WORKER, frozenset({1}), 1, "lock"))
    assert reason == Message("scope.role.lock", {})


def test_an_unknown_id_fails_where_it_is_made() -> None:
    with pytest.raises(KeyError, match="not in the catalogue"):
        msg("no.such.message")


def test_a_language_plugs_in_and_falls_back_to_english() -> None:
    """What the French catalogue (issue 14) will do: a lookup by id; no text, English."""
    french = {"enrol.no_recent_injection":
              "L'étude inclut des personnes qui se sont injecté dans le mois."}
    register_language("xx", lambda mid, english: french.get(mid))
    assert render("enrol.no_recent_injection", lang="xx") == french["enrol.no_recent_injection"]
    assert render("group.crossing", lang="xx") == CATALOGUE["group.crossing"]
    error = ProtocolViolation("enrol.no_recent_injection", msg("enrol.no_recent_injection"))
    assert error.render("xx") == french["enrol.no_recent_injection"]


def test_rendering_at_the_edge_never_fails_in_front_of_a_person() -> None:
    """A parameter missing (an old stored row) shows its name; an id gone shows the text."""
    assert render("visit.duplicate", {}) == CATALOGUE["visit.duplicate"]
    assert "{timepoint}" in render("visit.duplicate", {})
    assert render("visit.out_of_window", {"offset": "x"}) == CATALOGUE["visit.out_of_window"]
    assert render("gone.away", {"text": "kept words"}) == "kept words"
    assert deviation_text(LEGACY, {"text": "C01-0001: as written"}) == "C01-0001: as written"
    assert deviation_text("time.no_session_6m", {"participant": "C01-0001",
                                                 "deadline": "2026-07-06"}) == (
        "C01-0001: No valid AERLI session within six months of inclusion "
        "(deadline 2026-07-06).")


def test_a_deviation_renders_in_french_with_local_dates_and_numbers() -> None:
    """deviation.text and its reason in French: the code first, dates 06/07/2026, numbers
    grouped the French way; the same stored parameters give the English."""
    params = {"participant": "C01-0001", "deadline": "2026-07-06"}
    assert deviation_text("time.no_session_6m", params, "fr") == (
        "C01-0001 : Aucune séance AERLI valide dans les six mois suivant l'inclusion "
        "(échéance 06/07/2026).")
    assert render("enrol.codes_used_up", {"code": "C01", "max": 9999}, "fr").startswith(
        "Le centre C01 a utilisé ses 9\u202f999 codes")
    assert render("enrol.codes_used_up", {"code": "C01", "max": 9999}, "en").startswith(
        "Centre C01 has used all 9,999 study codes")
    window = {"timepoint": "M6", "visit_date": "2026-01-01", "opens": "2025-12-01",
              "closes": "2026-02-01", "offset": -5}
    assert render("visit.out_of_window", window, "fr") == (
        "La visite M6 du 01/01/2026 est en dehors de sa fenêtre (01/12/2025 au 01/02/2026 ; "
        "-5 jours par rapport à la date cible).")


def test_a_plain_string_is_kept_as_a_legacy_message() -> None:
    """Code outside the domain may still raise with words (the domain may not: below)."""
    error = CohortError("words")
    assert error.message_id == LEGACY and error.message == "words"


# --------------------------------------------------------------------------- no sentences
def _error_classes() -> set[str]:
    """Names of every class deriving (through the project) from CohortError or ValueError
    used for cells, plus the constructors of problems, findings and deviations."""
    bases: dict[str, set[str]] = {}
    for _, tree in SOURCES:
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases.setdefault(node.name, set()).update(
                    b.id if isinstance(b, ast.Name) else b.attr if isinstance(b, ast.Attribute)
                    else "" for b in node.bases)
    found = {"CohortError", "CellError"}
    changed = True
    while changed:
        changed = False
        for name, parents in bases.items():
            if name not in found and parents & found:
                found.add(name)
                changed = True
    return found | {"Problem", "FieldError", "Finding", "Deviation", "at", "_refuse"}


def _is_sentence(node: ast.expr) -> bool:
    """A literal meant for people: words with spaces, an f-string with some, or a sum."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and bool(re.search(r"[A-Za-z] +[A-Za-z]", node.value))
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.Constant) and " " in str(v.value) for v in node.values)
    if isinstance(node, ast.BinOp):
        return _is_sentence(node.left) or _is_sentence(node.right)
    if isinstance(node, ast.IfExp):
        return _is_sentence(node.body) or _is_sentence(node.orelse)
    return False


def _message_modules() -> list[Path]:
    paths: list[Path] = []
    for entry in MESSAGE_MODULES:
        target = ROOT / entry
        paths += sorted(target.rglob("*.py")) if target.is_dir() else [target]
    return paths


#: Positions of a field's label (its name on the form, issue 14 translates labels), not a
#: message: ``FieldError(field, message, label)``, ``_refuse(field, label, message)``.
LABEL_POSITIONS = {"FieldError": {2}, "_refuse": {1}}


def sentences_passed(paths: list[Path], extra: frozenset[str] = frozenset()) -> list[str]:
    names = _error_classes() | extra
    found = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = (func.id if isinstance(func, ast.Name)
                    else func.attr if isinstance(func, ast.Attribute) else "")
            if name not in names:
                continue
            labels = LABEL_POSITIONS.get(name, set())
            arguments = [a for i, a in enumerate(node.args) if i not in labels] + [
                k.value for k in node.keywords if k.arg in ("message", "reason", "context")]
            for argument in arguments:
                if _is_sentence(argument):
                    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
                    found.append(f"{where}:{node.lineno}: {name}("
                                 f"{ast.unparse(argument)[:60]}…)")
    return found


def test_message_producing_modules_build_no_sentence_outside_the_catalogue() -> None:
    paths = _message_modules()
    assert len(paths) > 30
    assert sentences_passed(paths) == []


def test_the_sentence_check_finds_a_sentence(tmp_path: Path) -> None:
    """The check above can fail: an error raised with words, or a problem built with an
    f-string, is found."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "def f(code):\n"
        "    raise NotFound(f'No participant with code {code}.')\n"
        "def g(sheet):\n"
        "    return Problem(sheet, 1, 'A', 'x', 'rule.id', 'Please type ' + 'a date')\n"
        "def h():\n"
        "    raise NotFound(msg('participant.not_found', code='C01'))\n")
    found = sentences_passed([bad])
    assert len(found) == 2 and ":2: NotFound" in found[0] and ":4: Problem" in found[1]


# ------------------------------------------------------------- forms: words through _()
#: Where the questionnaire's validation makes the words an outreach worker reads.
FORMS_MESSAGE_MODULES = ("forms/validation.py", "forms/values.py", "forms/tagchecks.py")
#: Constructors of forms' problems and refused values.
FORMS_PROBLEMS = frozenset({"FieldProblem", "BadValue", "_OutOfRange", "_NotAChoice",
                            "_TooLong"})
GETTEXT = frozenset({"_", "gettext", "ngettext", "pgettext", "N_"})
#: Log lines are for the operator and stay English, like SQL.
LOGGING = frozenset({"debug", "info", "warning", "error", "exception", "critical"})
_SQL = re.compile(r"^\s*(PRAGMA|SELECT|CREATE|DROP|SET|INSERT|UPDATE|DELETE)\b")
_WORDS = re.compile(r"[A-Za-z]{2,} +[A-Za-z]{2,}")
#: Services and jobs: what they write for people goes through _() or the catalogue.
SERVICE_MODULES = ("cohort/services", "cohort/jobs/work.py", "cohort/jobs/store.py",
                   "cohort/jobs/child.py", "cohort/jobs/runner.py")
#: Words that are keys as well as labels (the analysis reads the total row by this name).
NOT_SENTENCES = {"All centres"}


def _docstrings(tree: ast.AST) -> set[int]:
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef
                      | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def bare_sentences(paths: list[Path]) -> list[str]:
    """English sentences in code that are not the argument of a gettext call (nor a
    docstring): words a reader would get in English whatever their language."""
    found = []
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _docstrings(tree)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in GETTEXT) or (
                    isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in LOGGING):
                skip.update(id(n) for arg in node.args for n in ast.walk(arg))
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            words = (node.value if isinstance(node, ast.Constant)
                     and isinstance(node.value, str) else
                     " ".join(str(v.value) for v in node.values if isinstance(v, ast.Constant))
                     if isinstance(node, ast.JoinedStr) else "")
            if _WORDS.search(words) and not _SQL.match(words) and words not in NOT_SENTENCES:
                where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
                found.append(f"{where}:{getattr(node, 'lineno', '?')}: {words[:60]!r}")
    return sorted(set(found))


def test_forms_message_modules_hold_no_bare_sentence() -> None:
    """Validation messages ("must be a whole number", "this question needs an answer",
    branching) come out in the reader's language: every sentence goes through _()."""
    assert bare_sentences([ROOT / p for p in FORMS_MESSAGE_MODULES]) == []


def test_services_and_jobs_hold_no_bare_sentence() -> None:
    """Phone sync outcomes, resolution comments, job notes: in the reader's language."""
    paths: list[Path] = []
    for entry in SERVICE_MODULES:
        target = ROOT / entry
        paths += sorted(target.rglob("*.py")) if target.is_dir() else [target]
    assert len(paths) > 30
    assert bare_sentences(paths) == []


def test_forms_problems_are_built_from_translated_words() -> None:
    paths = [ROOT / p for p in (*FORMS_MESSAGE_MODULES, "forms/dictionary.py")]
    assert sentences_passed(paths, FORMS_PROBLEMS) == []


def test_the_bare_sentence_check_finds_one(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        '"""A docstring is fine."""\n'
        "def f(label, n):\n"
        "    ok = _('{label} must be a number').format(label=label)\n"
        "    raise BadValue(f'{label} must be a number, not {n}')\n"
        "def g():\n"
        "    return 'too_long', 'at most ten words'\n"
        "def h():\n"
        "    log.info('job done for the day')\n"
        "    return 'SELECT name FROM sqlite_master'\n")
    found = bare_sentences([bad])
    assert len(found) == 2 and ":4:" in found[0] and ":6:" in found[1]
    assert len(sentences_passed([bad], FORMS_PROBLEMS)) == 1


def test_a_validation_message_in_french() -> None:
    """The same answers, checked for a French reader: the words are French, codes not."""
    from forms import i18n
    from tests.forms.helpers import dd, line

    dictionary = dd(
        line("record_id", "text", "Record"),
        line("age", "text", "Age", validation="integer", min="18", max="99"),
        line("used", "yesno", "Used", required="y"),
        line("how", "text", "How", branching="[used] = '1'"))
    answers = {"record_id": "1", "age": "12", "how": "x"}
    english = dictionary.validate("f", answers)
    with i18n.use_language("fr"):
        french = dictionary.validate("f", answers)
    assert [p.code for p in french.problems] == [p.code for p in english.problems]
    assert {p.message for p in english.problems} == {
        "Age must be a whole number between 18 and 99; you entered '12'.",
        "This question does not apply given the answer to 'Used'; leave it empty.",
        "Used: this question needs an answer."}
    assert {p.message for p in french.problems} == {
        "Age doit être un nombre entier entre 18 et 99 ; vous avez saisi « 12 ».",
        "Cette question ne s'applique pas étant donné la réponse à « Used » ; laissez-la "
        "vide.",
        "Used : cette question demande une réponse."}


def test_messages_compare_and_hash_by_id_and_parameters() -> None:
    """Import problems holding messages go into sets (deduplicated reports)."""
    same = {msg("visit.duplicate", timepoint="M6"), msg("visit.duplicate", timepoint="M6")}
    assert len(same) == 1
    assert msg("visit.duplicate", timepoint="M6") != msg("visit.duplicate", timepoint="M12")
