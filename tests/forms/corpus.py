"""The corpus of public REDCap dictionaries, and answers generated for their expressions.

Shared by the Python corpus tests and the browser agreement test: every expression of every
dictionary (branching logic, calculations, ``@CALCTEXT``/``@CALCDATE``/``@IF`` logic) and
every piped label, note and section header, with answer sets drawn from a seeded generator
that knows each field's type (choices, ticked boxes, numbers, dates, text, missing-data
codes, other events' answers, repeating instances, blanks).
"""

from __future__ import annotations

import random
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from forms import DataDictionary, Node, load_dictionary
from forms.fields import Field
from forms.functions import Env
from forms.piping import references

DATA = Path(__file__).resolve().parents[1] / "data"
CORPUS = DATA / "redcap_corpus"
REALWORLD = DATA / "realworld" / "redcap"
TODAY = date(2025, 6, 30)
NOW = datetime(2025, 6, 30, 10, 15, 0)
MISSING = ("UNK", "NA")
EVENT = "visit_1_arm_1"
CONTEXT = {"record-name": "1001", "user-name": "alice", "project-id": "42",
           "user-dag-name": "c04", "record-dag-name": "c04", "instrument-name": "form_1"}
TEXTS = ["", "abc", "Apples", "12", "3.5", "yes", "0", "1", "Taylor-Smith", "  spaced  ",
         "é à", "2025-01-31"]


def corpus_files() -> list[Path]:
    """Every public dictionary kept for tests (the corpus and the realworld copies)."""
    return sorted(CORPUS.glob("*.csv")) + [REALWORLD / "redcapr_longitudinal_dictionary.csv",
                                           REALWORLD / "rsvc_project1_dictionary.csv"]


@cache
def load(path: Path) -> DataDictionary:
    events = REALWORLD / "redcapr_longitudinal_events.csv" \
        if path.name == "redcapr_longitudinal_dictionary.csv" else None
    return load_dictionary(path, events=events)


def expressions(d: DataDictionary) -> list[tuple[str, Node]]:
    """(where, tree) of every piece of logic in the dictionary."""
    out: list[tuple[str, Node]] = []
    for f in d.fields.values():
        if f.branching_node is not None:
            out.append((f"{f.name} branching", f.branching_node))
        if f.calc_node is not None:
            out.append((f"{f.name} calculation", f.calc_node))
        out += [(f"{f.name} {name}", node) for name, node in f.tags.expressions()]
    return out


def piped_texts(d: DataDictionary) -> list[tuple[str, str]]:
    """(where, text) of every label, note and section header that pipes something."""
    out = []
    for f in d.fields.values():
        for what, text in (("label", f.label), ("note", f.note), ("section", f.section_header)):
            if next(references(text, d.fields), None) is not None:
                out.append((f"{f.name} {what}", text))
    return out


def _value(f: Field | None, rng: random.Random) -> Any:
    if rng.random() < 0.12:
        return ""
    if rng.random() < 0.05:
        return rng.choice(MISSING)
    if f is None:
        return rng.choice(TEXTS)
    if f.is_checkbox:
        return [c for c in f.choices if rng.random() < 0.4]
    if f.choices:
        return rng.choice(list(f.choices))
    kind = f.kind
    if kind in ("integer", "calc", "slider") or f.field_type == "calc":
        return rng.choice([rng.randint(-20, 200), str(rng.randint(0, 120)), 0, 1, 2.5])
    if kind == "number":
        return rng.choice([round(rng.uniform(-10, 300), 2), str(rng.randint(0, 99)), 0.1])
    if kind in ("date", "datetime"):
        day = date(rng.randint(1940, 2030), rng.randint(1, 12), rng.randint(1, 28)).isoformat()
        return day + (f"T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"
                      if kind == "datetime" else "")
    if kind == "time":
        return f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"
    return rng.choice(TEXTS)


def environment(d: DataDictionary) -> dict[str, Any]:
    """What every answer set of a dictionary shares (as the browser receives it)."""
    events = d.events.events
    return {"event": events[min(1, len(events) - 1)] if events else EVENT,
            "today": TODAY.isoformat(), "now": NOW.strftime("%Y-%m-%dT%H:%M:%S"),
            "missing": list(MISSING), "context": CONTEXT, "schedule": d.schedule.to_json()}


def answer_sets(d: DataDictionary, node: Node, rng: random.Random, count: int
                ) -> list[dict[str, Any]]:
    """``count`` answer sets for one expression: values, other events, instances."""
    refs = node.references()
    events = set(d.events.events) | {r.event for r in refs if r.event and "-" not in r.event}
    out = []
    for _ in range(count):
        values: dict[str, Any] = {}
        others: dict[str, dict[str, Any]] = {e: {} for e in events}
        instances: dict[str, dict[int, dict[str, Any]]] = {"": {1: {}, 2: {}, 3: {}}}
        for ref in refs:
            f = d.fields.get(ref.name)
            values[ref.name] = _value(f, rng)
            for answers in [*others.values(), *instances[""].values()]:
                answers[ref.name] = _value(f, rng)
        out.append({"values": values, "others": others, "instances": instances,
                    "instance": 2})
    return out


def python_env(base: dict[str, Any], case: dict[str, Any], d: DataDictionary) -> Env:
    return Env(case["values"], others=case["others"], event=base["event"], today=TODAY,
               now=NOW, missing=MISSING, context=CONTEXT, schedule=d.schedule,
               instances=case["instances"], instance=case["instance"])
