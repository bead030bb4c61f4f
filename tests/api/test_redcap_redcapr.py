"""REDCapR's ``redcap_read()``, replayed request for request against a real server.

CI has no R, so the request sequence of REDCapR 1.x (``R/redcap-read.R``,
``R/redcap-metadata-coltypes.R``, ``R/redcap-read-oneshot.R``) is replayed as the form
bodies httr sends (``encode = "form"``, R's ``FALSE`` written ``FALSE`` or ``false``), and the
answers are parsed the way REDCapR parses them (``readr::read_csv`` guessing column types,
``jsonlite::fromJSON`` for the metadata). Then what a statistician does next: the exported
dictionary passes ``cohort dictionary check`` and the exported records import again with
``cohort import``.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import requests
from typer.testing import CliRunner

from cohort.settings import get_settings
from tests.api.redcap_live import Live, live_server
from tests.conftest import BACKENDS

READR_NA = ["", "NA"]
_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_LOGICAL = {"T", "F", "TRUE", "FALSE", "True", "False", "true", "false"}


@pytest.fixture(scope="module", params=BACKENDS)
def live(request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    if request.param == "postgresql":
        request.getfixturevalue("pg_url")
    with live_server(request.param, tmp_path_factory.mktemp("live")) as server:
        yield server


def read_csv(text: str, guess: bool = True) -> pd.DataFrame:
    """``readr::read_csv``: "" and "NA" are missing; with ``guess`` each column becomes
    logical (T/F/TRUE/FALSE words only), double, date (ISO), or character."""
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False,
                        na_values=READR_NA)
    if not guess:
        return frame
    for name in frame.columns:
        values = frame[name].dropna()
        if values.empty:
            frame[name] = frame[name].astype("boolean")  # readr: an all-NA column is logical
        elif values.isin(_LOGICAL).all():
            frame[name] = frame[name].map(readr_logical)
        elif values.map(lambda v: bool(_NUMBER.match(v))).all():
            frame[name] = pd.to_numeric(frame[name])
        elif values.map(lambda v: bool(_DATE.match(v))).all():
            frame[name] = pd.to_datetime(frame[name], format="%Y-%m-%d")
    return frame


def readr_logical(value: str) -> bool:
    """``readr::col_logical()`` as REDCapR reads project info (1/0 and the words)."""
    return {"1": True, "0": False, "TRUE": True, "FALSE": False, "T": True,
            "F": False, "true": True, "false": False}[value]


def kernel(live: Live, body: dict[str, str]) -> requests.Response:
    """``kernel_api``: one POST, form-encoded; success is status 200 exactly."""
    response = requests.post(live.url, data=body, timeout=30,
                             headers={"User-Agent": "OuhscBbmc/REDCapR"})
    assert response.status_code == 200, response.text
    return response


def read_oneshot(live: Live, token: str, **chosen: str) -> pd.DataFrame:
    """``redcap_read_oneshot``'s body with its defaults, then ``readr::read_csv``."""
    body = {"token": token, "content": "record", "format": "csv", "type": "flat",
            "rawOrLabel": "raw", "rawOrLabelHeaders": "raw", "exportCheckboxLabel": "false",
            "exportSurveyFields": "false", "exportDataAccessGroups": "false",
            "filterLogic": "", "dateRangeBegin": "", "dateRangeEnd": "",
            "exportBlankForGrayFormStatus": "FALSE"}
    body.update({k: v for k, v in chosen.items() if v})
    return read_csv(kernel(live, body).text, guess=False)


def redcap_read(live: Live, token: str, batch_size: int = 2, fields: str = "",
                filter_logic: str = "") -> pd.DataFrame:
    """``REDCapR::redcap_read()``: metadata first, then the record ids, then batches."""
    # redcap_metadata_internal: variables, metadata, instruments, project, dags.
    variables = read_csv(kernel(live, {"token": token, "content": "exportFieldNames",
                                       "format": "csv"}).text)
    meta = pd.DataFrame(json.loads(kernel(live, {"token": token, "content": "metadata",
                                                 "format": "json"}).text)).replace("", None)
    instruments = read_csv(kernel(live, {"token": token, "content": "instrument",
                                         "format": "csv"}).text, guess=False)
    info = read_csv(kernel(live, {"token": token, "content": "project",
                                  "format": "csv"}).text, guess=False)
    dags = read_csv(kernel(live, {"token": token, "content": "dag", "format": "csv"}).text)
    record_id_name = variables["original_field_name"].iloc[0]
    assert record_id_name == "record_id" == meta["field_name"].iloc[0]
    assert readr_logical(info["is_longitudinal"].iloc[0]) is True
    assert readr_logical(info["has_repeating_instruments_or_events"].iloc[0]) is True
    assert len(dags) >= 1  # DAGs enabled: the record id is read as character
    assert set(meta["form_name"]) == set(instruments["instrument_name"])
    wanted = ",".join(dict.fromkeys([record_id_name, *fields.split(",")])) if fields else ""
    # The record ids (fields = the record id only), then batches of ids.
    initial = read_oneshot(live, token, fields=record_id_name, filterLogic=filter_logic)
    ids = sorted(initial.iloc[:, 0].dropna().unique())
    batches = [read_oneshot(live, token, records=",".join(ids[i:i + batch_size]),
                            fields=wanted, filterLogic=filter_logic)
               for i in range(0, len(ids), batch_size)]
    stacked = pd.concat(batches, ignore_index=True)
    assert set(stacked.iloc[:, 0]) == set(ids)  # REDCapR stops when a record is missing
    return read_csv(stacked.to_csv(index=False))  # readr::type_convert(col_guess())


def test_redcap_read_reads_the_whole_project_in_batches(live: Live) -> None:
    data = redcap_read(live, live.tokens["officer"], batch_size=2)
    codes = live.codes
    assert set(data["record_id"]) == set(codes.values())
    assert data["record_id"].dtype == object  # character, never read as numbers
    assert list(data.columns[:4]) == ["record_id", "redcap_event_name",
                                      "redcap_repeat_instrument", "redcap_repeat_instance"]
    m0 = data[(data["record_id"] == codes["two"]) & (data["redcap_event_name"] == "m0_arm_1")]
    assert m0["age"].iloc[0] == 52 and m0["study_group"].iloc[0] == 2
    assert str(data["inclusion_date"].dtype).startswith("datetime64")
    session = data[data["redcap_repeat_instrument"] == "aerli_session"]
    assert list(session["record_id"]) == [codes["one"]]
    assert session["redcap_repeat_instance"].iloc[0] == 1


def test_redcap_read_with_fields_and_filter(live: Live) -> None:
    data = redcap_read(live, live.tokens["stat"], batch_size=3, fields="study_group,age",
                       filter_logic="[study_group] = '1'")
    assert set(data["record_id"]) == {live.codes["one"], live.codes["three"]}
    assert set(data["redcap_event_name"]) == {"m0_arm_1"}
    assert list(data.columns) == ["record_id", "redcap_event_name",
                                  "redcap_repeat_instrument", "redcap_repeat_instance",
                                  "age", "study_group"]


def test_a_bad_token_fails_as_redcapr_sees_failures(live: Live) -> None:
    body = {"token": "0" * 32, "content": "record", "format": "csv", "type": "flat"}
    response = requests.post(live.url, data=body, timeout=30)
    assert response.status_code == 403
    assert response.text.startswith("ERROR: You do not have permissions to use the API")


def _cli(database_url: str, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    from cohort.cli.main import app

    monkeypatch.setenv("COHORT_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, list(args))
    finally:
        get_settings.cache_clear()
    return result.exit_code, result.output


def test_exported_dictionary_passes_cohort_dictionary_check(
        live: Live, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token = live.tokens["stat"]
    meta = kernel(live, {"token": token, "content": "metadata", "format": "csv"}).text
    events = kernel(live, {"token": token, "content": "formEventMapping",
                           "format": "csv"}).text
    (tmp_path / "dictionary.csv").write_text(meta, encoding="utf-8")
    (tmp_path / "events.csv").write_text(events, encoding="utf-8")
    code, output = _cli(live.database_url, monkeypatch, "dictionary", "check",
                        str(tmp_path / "dictionary.csv"), "--events",
                        str(tmp_path / "events.csv"))
    assert code == 0, output
    assert "OK" in output and "m0_arm_1" in output


def test_exported_records_import_again_with_cohort_import(
        live: Live, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    body = {"token": live.tokens["admin"], "content": "record", "format": "csv",
            "type": "flat", "exportDataAccessGroups": "true"}
    export = tmp_path / "records.csv"
    export.write_text(kernel(live, body).text, encoding="utf-8")
    code, output = _cli(live.database_url, monkeypatch, "import", str(export), "--as", "admin")
    assert code == 0, output
    assert "0 row(s) saved" in output  # everything already stored, nothing written twice
