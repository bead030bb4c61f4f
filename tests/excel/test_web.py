"""The workbook pages: template download, upload with error report, report download."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from cohort.models import Questionnaire
from cohort.vocab import Timepoint
from tests.api.conftest import TestClient, World
from tests.api.test_api_pages import csrf, sign_in
from tests.conftest import TODAY
from tests.excel.helpers import as_cells, entry_sheet, fill, load, row_of, save
from tests.factories import questionnaire_answers

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _upload(client: TestClient, data: bytes, **form: str):  # type: ignore[no-untyped-def]
    token = csrf(client.get("/workbooks").text)
    return client.post("/workbooks/import", data={"csrf_token": token, **form},
                       files={"file": ("m12.xlsx", data, XLSX)})


def test_a_worker_downloads_fills_and_uploads_a_workbook(
        client: TestClient, world: World, session: Session) -> None:
    sign_in(client, "worker.a")
    page = client.get("/workbooks")
    assert page.status_code == 200 and 'href="/workbooks"' in page.text
    assert "/workbooks/report.xlsx" not in page.text
    got = client.get("/workbooks/template", params={"centre": "C01", "kind": "questionnaire",
                                                     "timepoint": "M12"})
    assert got.status_code == 200 and got.headers["content-type"] == XLSX
    book = load(got.content)
    ws = entry_sheet(book)
    assert world.pa is not None
    row = row_of(ws, world.pa.code)
    answers = questionnaire_answers(TODAY - timedelta(days=1), Timepoint("M12"), inj_freq="9")
    fill(ws, row, as_cells(answers))

    refused = _upload(client, save(book))
    assert refused.status_code == 200 and "nothing was saved" in refused.text
    link = refused.text.split('href="/workbooks/annotated/')[1].split('"')[0]
    marked = client.get(f"/workbooks/annotated/{link}")
    assert marked.status_code == 200 and "Summary" in load(marked.content).sheetnames

    fill(ws, row, {"inj_freq": "2"})
    checked = _upload(client, save(book), dry_run="true")
    assert "would be saved" in checked.text
    saved = _upload(client, save(book))
    assert "1 row(s) saved" in saved.text
    stored = session.exec(select(Questionnaire).where(
        Questionnaire.participant_id == world.pa.id,
        Questionnaire.timepoint == Timepoint("M12"))).one()
    assert stored.answers["inj_freq"] == "2"
    assert client.get("/workbooks/report.xlsx").status_code == 403
    other = client.get("/workbooks/template", params={"centre": "C02", "kind": "enrolment"})
    assert other.status_code == 404


def test_an_officer_downloads_the_report(client: TestClient, world: World) -> None:
    sign_in(client, "officer")
    page = client.get("/workbooks")
    assert "/workbooks/report.xlsx" in page.text
    # The report covers every centre: rule export.no_purpose asks what it is for first.
    refused = client.get("/workbooks/report.xlsx")
    assert refused.status_code == 422 and "purpose" in refused.text
    got = client.get("/workbooks/report.xlsx", params={"purpose": "Monitoring"})
    assert got.status_code == 200
    assert load(got.content).sheetnames[0] == "Retention"


def test_a_file_that_is_not_a_workbook_gets_a_clear_message(
        client: TestClient, world: World) -> None:
    sign_in(client, "worker.a")
    response = _upload(client, b"PK\x03\x04 not really a zip")
    assert response.status_code == 422 and "not an Excel workbook" in response.text


def test_the_upload_page_names_the_sheet_of_each_problem(
        client: TestClient, world: World) -> None:
    sign_in(client, "worker.a")
    got = client.get("/workbooks/template", params={"centre": "C01", "kind": "questionnaire",
                                                     "timepoint": "M12"})
    book = load(got.content)
    copy = book.copy_worksheet(entry_sheet(book))
    copy.title = "field copy"
    assert world.pa is not None
    fill(copy, row_of(copy, world.pa.code), as_cells(questionnaire_answers(
        TODAY - timedelta(days=1), Timepoint("M12"), inj_freq="9")))
    refused = _upload(client, save(book))
    assert "nothing was saved" in refused.text
    assert "<th>Sheet</th>" in refused.text and "<td>field copy</td>" in refused.text


def test_an_upload_while_another_import_holds_the_database_answers_503(
        client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The busy message, status 503 and Retry-After, as on the API; nothing was saved."""
    from api.pages import excel
    from cohort.db import BUSY_MESSAGE
    from cohort.excel.importer import ImportBusy

    def busy(*_: object, **__: object) -> None:
        raise ImportBusy(BUSY_MESSAGE)

    sign_in(client, "worker.a")
    monkeypatch.setattr(excel, "import_file", busy)
    response = _upload(client, b"PK not really a workbook")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "60"
    assert "Nothing was saved" in response.text
