"""Import a 10,000-row questionnaire workbook; compare with openpyxl merely reading it.

The floor is measured in the same run on the same file: ``load_workbook(read_only=True)``
and every cell of every sheet read with ``iter_rows(values_only=True)``. The import reads
the same cells, checks each row against the dictionary and the protocol rules, and writes
the questionnaires, their audit entries and deviations in one transaction (SQLite file).
Target: import within 2x the floor. Run: ``python bench/bench_import.py --rows 10000``.

Measured on the shared 2026-11-23 machine (SQLite): first version 7.89 s vs a 3.20 s floor
(2.46x); audit entries in one INSERT, questionnaires in one INSERT … RETURNING, and rows
decoded without openpyxl cell objects: 4.17-4.33 s vs 2.33-2.53 s (1.71-1.79x); reading
alone is now about 0.55x the floor.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from io import BytesIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from openpyxl import load_workbook  # noqa: E402
from sqlmodel import Session  # noqa: E402

from cohort.db import create_schema, engine_for  # noqa: E402
from cohort.excel.importer import import_file  # noqa: E402
from cohort.excel.layout import CODE, FIRST_DATA_ROW, NAME_ROW, Kind  # noqa: E402
from cohort.excel.templates import template_bytes  # noqa: E402
from cohort.models import CentreCreate, Participant, StaffCreate  # noqa: E402
from cohort.services.context import (
    COMMAND_LINE,
    actor_for,  # noqa: E402
)
from cohort.services.setup import create_centre, create_staff  # noqa: E402
from cohort.vocab import Gender, Group, Modality, Role, Timepoint  # noqa: E402

AS_OF = date(2026, 11, 22)
YES_NO = ("share_syringe share_cooker share_filter share_water reuse_own_syringe swab_before "
          "swab_after rotate_sites inject_outdoors_hurry abscess cellulitis vein_damage "
          "missed_hit overdose").split()


def row_values(rng: random.Random, visit: date) -> dict[str, object]:
    """One visit as typed in a spreadsheet: codes, some labels, some dates as text."""
    values: dict[str, object] = {name: rng.choice(["0", "1", 0, 1, "1 = Yes", "No"])
                                 for name in YES_NO}
    values["visit_date"] = visit if rng.random() < 0.7 else visit.strftime("%d/%m/%Y")
    values["inj_freq"] = rng.choice([3, "3", "4 = Once a day", " 2 "])
    for code in rng.sample(range(1, 9), rng.randint(1, 3)):
        values[f"products___{code}"] = "x"
    values["water_source"] = str(rng.randint(1, 4))
    values["hcv_test_ever"] = "1"
    values["hcv_last_result"] = str(rng.randint(1, 3))
    values["hr_services___1"] = 1
    return values


def build(rows: int, folder: Path) -> tuple[str, Path, int]:
    url = f"sqlite:///{folder / 'bench.db'}"
    engine = engine_for(url)
    create_schema(engine)
    rng = random.Random(20261122)
    with Session(engine) as session:
        centre = create_centre(session, actor=COMMAND_LINE,
                               data=CentreCreate(code="C01", name="Centre", city="Lyon"))
        staff = create_staff(session, actor=COMMAND_LINE, data=StaffCreate(
            display_name="worker", role=Role.OUTREACH_WORKER, centre_id=centre.id,
            aerli_trained_on=date(2024, 1, 1)))
        if centre.id is None or staff.id is None:
            raise SystemExit("could not create the centre and worker")
        people = []
        for seq in range(1, rows + 1):
            inclusion = AS_OF - timedelta(days=rng.randint(160, 220))
            people.append(Participant(
                code=f"C01-{seq:05d}", centre_id=centre.id, seq=seq, year_of_birth=1990,
                gender=Gender.MAN, inclusion_date=inclusion, consent_date=inclusion,
                age_at_inclusion=35, injected_past_month=True, wish_neck_groin=False,
                reached_via=Modality.IN_PERSON, group=Group.INTERVENTION,
                enrolled_by=staff.id))
        session.add_all(people)
        session.commit()
        staff_id = staff.id
        codes = [(p.code, p.inclusion_date) for p in people]
    book = load_workbook(BytesIO(template_bytes(Kind.QUESTIONNAIRE, "C01", Timepoint("M6"),
                                                [c for c, _ in codes], AS_OF)))
    ws = book.worksheets[1]
    where = {str(c.value): c.column for c in ws[NAME_ROW] if c.value}
    for offset, (code, inclusion) in enumerate(codes):
        row = FIRST_DATA_ROW + offset
        if ws.cell(row, where[CODE]).value != code:
            raise SystemExit(f"template row {row} is not {code}")
        visit = min(inclusion + timedelta(days=182 + rng.randint(-20, 20)), AS_OF)
        for name, value in row_values(rng, visit).items():
            ws.cell(row, where[name], value)
    path = folder / "m6.xlsx"
    book.save(path)
    return url, path, staff_id


def floor(path: Path) -> float:
    started = time.perf_counter()
    book = load_workbook(path, read_only=True, data_only=True)
    cells = 0
    for ws in book.worksheets:
        for values in ws.iter_rows(values_only=True):
            cells += len(values)
    book.close()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="floor measurements")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        url, path, staff_id = build(args.rows, folder)
        print(f"built {args.rows:,} participants and a filled workbook "
              f"({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f} s")
        floors = [floor(path) for _ in range(args.repeat)]
        base = statistics.median(floors)
        data = path.read_bytes()
        from cohort.excel.reader import read_workbook

        started = time.perf_counter()
        read_workbook(data)
        reading = time.perf_counter() - started
        with Session(engine_for(url)) as session:
            from cohort.models import Staff

            staff = session.get(Staff, staff_id)
            if staff is None:
                raise SystemExit("worker missing")
            actor = actor_for(session, staff)
            started = time.perf_counter()
            report = import_file(session, actor=actor, data=data, filename=path.name,
                                 on=AS_OF)
            elapsed = time.perf_counter() - started
        if not report.ok or report.written != args.rows:
            raise SystemExit(f"import failed: {report.problems[:3]}")
        print(f"floor (openpyxl read-only, every cell): {base:.2f} s "
              f"(median of {args.repeat})")
        print(f"reading the workbook (cells as meant):  {reading:.2f} s "
              f"({reading / base:.2f}x floor)")
        print(f"import of {args.rows:,} rows, {len(report.deviations)} flagged: {elapsed:.2f} s "
              f"({1e3 * elapsed / args.rows:.2f} ms/row)")
        print(f"ratio import / floor: {elapsed / base:.2f}x (target <= 2x)")


if __name__ == "__main__":
    main()
