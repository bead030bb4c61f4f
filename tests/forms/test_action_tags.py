"""Action tags, piping and missing-data codes as REDCap documents them.

Sources: REDCap 15.7's action-tag list and readers (``Form::getActionTags``,
``ActionTags::ANY_ACTION_TAG_REGEX``, ``Form::getValueInActionTag``/``…InQuotes…``/
``…InParentheses…``, ``Form::replaceIfActionTag``), its piping (``Piping``), and its Missing
Data Codes (Project Setup → Additional customizations; the missing-code functions).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from forms import DictionaryError, load_dictionary, load_dictionary_text
from forms.actiontags import parse_annotation
from forms.entry import entry_fields
from forms.piping import pipe
from tests.forms.helpers import csv_text, line

MISSING = "UNK, Unknown\nNA, Not applicable | NASK, Not asked"


def codes(result: object) -> list[tuple[str, str]]:
    return [(p.field, p.code) for p in result.problems]  # type: ignore[attr-defined]


def test_tags_are_read_as_redcap_reads_them() -> None:
    # A tag is @ and capitals at the start or after white space; =value takes a quoted value
    # or the next word; (...) takes balanced parentheses, quotes protecting their content.
    tags = parse_annotation(
        "@DEFAULT='two words' @CHARLIMIT=20 mail@EXAMPLE.ORG\n"
        "@CALCTEXT(if([a] = ')', concat('(', [b]), 'x')) @HIDECHOICE=\"3,4\" @MY-MODULE-TAG")
    assert [(t.name, t.value) for t in tags.tags] == [
        ("@DEFAULT", "two words"), ("@CHARLIMIT", "20"),
        ("@CALCTEXT", "if([a] = ')', concat('(', [b]), 'x')"), ("@HIDECHOICE", "3,4"),
        ("@MY-MODULE-TAG", "")]
    assert tags.tags[2].node is not None
    assert tags.tags[3].codes == ["3", "4"]
    assert [t.acted for t in tags.tags] == [True, True, True, True, False]


def test_if_chooses_between_two_sets_of_tags() -> None:
    tags = parse_annotation("@IF([a] = '1', @HIDDEN @DEFAULT='x', @READONLY) @PLACEHOLDER='p'")
    assert [t.name for t in tags.resolve(lambda node: True)] == [
        "@PLACEHOLDER", "@HIDDEN", "@DEFAULT"]
    assert [t.name for t in tags.resolve(lambda node: False)] == ["@PLACEHOLDER", "@READONLY"]
    assert [t.name for t in tags.resolve()] == ["@PLACEHOLDER", "@READONLY"]


def test_the_dictionary_lists_tags_acted_on_and_kept_with_why() -> None:
    d = load_dictionary_text(csv_text(
        line("a", "text", annotation="@HIDDEN @HIDDEN-SURVEY"),
        line("b", "checkbox", choices="1, X | 99, None", annotation="@NONEOFTHEABOVE=99 "
             "@MAXCHOICE(1=5) @CHARLIMIT=x"),
        line("c", "text", annotation="@CALCTEXT([nowhere] + 1)")))
    report = d.action_tags()
    assert report.acted == {"@HIDDEN": ["a"], "@NONEOFTHEABOVE": ["b"]}
    assert set(report.kept) == {"@HIDDEN-SURVEY", "@MAXCHOICE", "@CHARLIMIT", "@CALCTEXT"}
    assert report.reasons["@HIDDEN-SURVEY"] == "this tool has no surveys"
    assert report.reasons["@CHARLIMIT"] == "@CHARLIMIT needs a whole number, not 'x'"
    assert "[nowhere]" in report.reasons["@CALCTEXT"]
    assert not d.field("c").is_computed  # never refused, never half-acted on
    assert {w.code for w in d.warnings} == {"action_tags"}


@pytest.fixture
def dictionary() -> object:
    return load_dictionary_text(csv_text(
        line("n", "text", validation="integer", min="0", max="10", required="y"),
        line("t", "text", annotation="@CHARLIMIT=5"),
        line("w", "notes", annotation="@WORDLIMIT=3"),
        line("cb", "checkbox", choices="1, A | 2, B | 3, C | 99, None of these",
             annotation="@NONEOFTHEABOVE='99' @MAXCHECKED=2"),
        line("strict", "text", validation="integer", annotation="@NOMISSING"),
        line("size", "text", annotation="@CALCTEXT(if([n] > 5, 'big', 'small'))"),
        line("due", "text", validation="date_dmy", annotation="@CALCDATE('2025-01-31', [n], 'd')"),
        line("cond", "text", annotation="@IF([n] = 1, @CHARLIMIT=2, '')"),
        line("sex", "radio", choices="1, Female | 2, Male | 3, Other",
             annotation="@HIDECHOICE='3'")),
        missing_text=MISSING)


def test_tags_that_change_entry_are_checked_on_every_save(dictionary: object) -> None:
    d = dictionary
    bad = d.validate("f", {"n": "1", "t": "abcdef", "w": "one two three four",  # type: ignore[attr-defined]
                           "cb": ["1", "99"], "strict": "UNK", "cond": "abc"})
    assert codes(bad) == [("t", "too_long"), ("w", "too_long"), ("cb", "none_of_the_above"),
                          ("strict", "missing_code_refused"), ("cond", "too_long")]
    many = d.validate("f", {"n": "7", "cb": ["1", "2", "3"]})  # type: ignore[attr-defined]
    assert codes(many) == [("cb", "too_many_choices")]
    good = d.validate("f", {"n": "7", "t": "abc", "cb": ["99"], "cond": "abc", "sex": "3"})  # type: ignore[attr-defined]
    assert good.ok, good.problems
    # @CALCTEXT and @CALCDATE fields are computed and stored, never typed.
    assert good.clean["size"] == "big"
    assert good.clean["due"] == "2025-02-07"
    # A choice hidden by @HIDECHOICE is still a valid answer (REDCap keeps saved data).
    assert good.clean["sex"] == "3"


def test_missing_codes_answer_any_question(dictionary: object) -> None:
    d = dictionary
    assert d.missing_codes == {"UNK": "Unknown", "NA": "Not applicable", "NASK": "Not asked"}  # type: ignore[attr-defined]
    result = d.validate("f", {"n": "NASK", "cb": "UNK", "sex": "NA"})  # type: ignore[attr-defined]
    # Accepted whatever the type and range, and a required question is answered.
    assert result.ok, result.problems
    assert (result.clean["n"], result.clean["cb"], result.clean["sex"]) == ("NASK", "UNK", "NA")
    # [n] is not a number: [n] > 5 is false and calcdate() with it is blank.
    assert result.clean["size"] == "small"
    assert "due" not in result.clean
    # Exported as written: a checkbox's code is in each of its columns.
    assert d.expand_checkboxes({"cb": "UNK"}) == {  # type: ignore[attr-defined]
        "cb___1": "UNK", "cb___2": "UNK", "cb___3": "UNK", "cb___99": "UNK"}
    # REDCap's export gives a checkbox's code as an extra column: read back.
    assert d.validate("f", {"n": "1", "cb___unk": "1"}).clean["cb"] == "UNK"  # type: ignore[attr-defined]
    assert codes(d.validate("f", {"n": "XX"})) == [("n", "invalid")]  # type: ignore[attr-defined]


def test_missing_codes_file_beside_the_dictionary(tmp_path: Path) -> None:
    (tmp_path / "data_dictionary.csv").write_text(csv_text(line("a", "text")),
                                                  encoding="utf-8")
    (tmp_path / "missing_data_codes.txt").write_text("UNK, Unknown\n", encoding="utf-8")
    assert load_dictionary(tmp_path / "data_dictionary.csv").missing_codes == {"UNK": "Unknown"}
    (tmp_path / "missing_data_codes.txt").write_text("UNK, Unknown\nbad code, X\nUNK, again\n",
                                                     encoding="utf-8")
    with pytest.raises(DictionaryError) as caught:
        load_dictionary(tmp_path / "data_dictionary.csv")
    assert [(p.source, p.row, p.code) for p in caught.value.problems] == [
        ("missing_data_codes.txt", 2, "bad_missing_code"),
        ("missing_data_codes.txt", 3, "bad_missing_code")]


def test_entry_offers_fields_as_their_tags_say() -> None:
    d = load_dictionary_text(csv_text(
        line("name", "text"),
        line("h", "text", annotation="@HIDDEN"),
        line("r", "text", annotation="@READONLY @DEFAULT='fixed'"),
        line("greet", "text", annotation="@DEFAULT='Hello [name]' @PLACEHOLDER='say hi'"),
        line("day", "text", validation="date_ymd", annotation="@TODAY"),
        line("when", "text", validation="datetime_ymd", annotation="@NOW"),
        line("sex", "radio", choices="1, F | 2, M | 3, Other", annotation="@HIDECHOICE='3'"),
        line("only", "dropdown", choices="1, A | 2, B | 3, C", annotation="@SHOWCHOICE='1,2'"),
        line("x", "text", annotation="@IF([name] = 'Ann', @HIDDEN, '')"),
        line("q", "text", "How old are you, [name]? You said [sex]")))
    env = d.env({"name": "Ann"}, today=date(2025, 6, 30))
    now = datetime(2025, 6, 30, 10, 15)
    entries = {e.name: e for e in entry_fields(d.fields.values(), d.fields, env, new=True,
                                               now=now)}
    assert entries["h"].hidden and not entries["name"].hidden
    assert entries["r"].readonly and entries["r"].default == "fixed"
    assert entries["greet"].default == "Hello Ann"
    assert entries["greet"].placeholder == "say hi"
    assert entries["day"].default == "2025-06-30"
    assert entries["when"].default == "2025-06-30T10:15"
    assert list(entries["sex"].choices) == ["1", "2"]
    assert list(entries["only"].choices) == ["1", "2"]
    assert entries["x"].hidden  # @IF resolved from the answers at hand
    assert "".join(p if isinstance(p, str) else p[1] for p in entries["q"].label) == \
        "How old are you, Ann? You said ______"
    # A saved answer stays offered even when the tag hides its choice; no defaults then.
    saved = d.env({"sex": "3"})
    kept = {e.name: e for e in entry_fields(d.fields.values(), d.fields, saved, new=False)}
    assert list(kept["sex"].choices) == ["1", "2", "3"]
    assert kept["greet"].default is None


@pytest.mark.parametrize(("text", "expected"), [
    # A choice field pipes its label by default, its code with :value
    ("[sex] / [sex:value] / [sex:label]", "Male / 2 / Male"),
    # A checkbox pipes the ticked labels, :unchecked the others, [cb(code)] Checked/Unchecked
    ("[cb] | [cb:checked] | [cb:unchecked] | [cb:value] | [cb(2)] | [cb(1)]",
     "Y | Y | X, Z | 2 | Checked | Unchecked"),
    # A date in the field's own order; a blank shows ______, or nothing with :hideunderscore
    ("[d] and [empty] and ([empty:hideunderscore])", "31-03-2025 and ______ and ()"),
    # Other events, event smart variables, record and user facts
    ("[m0_arm_1][w] then [previous-event-name][w] at [event-name] for [record-name]",
     "70 then 70 at m6_arm_1 for C04-0001-K"),
    # Brackets that name nothing are left as written
    ("[sic] [not a field] [1]", "[sic] [not a field] [1]"),
])
def test_piping_follows_redcap(text: str, expected: str) -> None:
    from forms.events import parse_events

    d = load_dictionary_text(
        csv_text(line("sex", "radio", choices="1, Female | 2, Male"),
                 line("cb", "checkbox", choices="1, X | 2, Y | 3, Z"),
                 line("d", "text", validation="date_dmy"), line("empty", "text"),
                 line("w", "text", validation="integer")),
        events_text="arm_num,unique_event_name,form\n1,m0_arm_1,f\n1,m6_arm_1,f\n")
    assert parse_events  # the mapping above is REDCap's instrument designation
    env = d.env({"sex": "2", "cb": ["2"], "d": "2025-03-31"}, event="m6_arm_1",
                others={"m0_arm_1": {"w": 70}}, context={"record-name": "C04-0001-K"})
    assert pipe(text, d.fields, env) == expected
