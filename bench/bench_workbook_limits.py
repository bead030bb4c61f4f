"""Peak memory and time of the worst workbook accepted, and of the worst ones refused.

Issue 11 (class 5): a 315 KB workbook expanding to 300 MB peaked at 1.8 GB on the command
line and 3 GB in the server; a million-row sheet went past 5 GB; a 9 KB workbook whose one
row is numbered 2,000,000,000 never finished. The limits (``cohort.excel.guard``, README
"Limits") refuse these before any sheet is parsed; what is accepted must fit in bounded
memory. For each file this script measures, in fresh processes:

* the command line: ``cohort import FILE --as …`` (peak RSS of the child, wall time);
* the server: ``cohort serve`` (uvicorn) receiving the file on ``POST /workbooks/import``
  (VmHWM of the server process, time of the request), a fresh server per file.

Files: the largest accepted (``COHORT_WORKBOOK_MAX_ROWS`` filled questionnaire rows): saved;
with one row to correct (nothing saved, the annotated copy built); and the same file once
its rows are stored, so that every row is to correct (20,000 marks), and the refused:
a zip bomb (300 MB of sheet XML in about 300 KB), a million-row sheet, one row numbered
2,000,000,000, "billion laughs". The baseline is the same process importing nothing.

    .venv/bin/python bench/bench_workbook_limits.py [--rows 20000]

Measured on the shared 2026-12-01 machine (2 cores, load average 7-8 from other work, so
times are noisy; SQLite). Refused, each: command line 93-102 MB peak (the interpreter and
its imports) in 2.3-3.8 s (mostly start-up), the server no higher than its 190 MB
baseline, answered (422) in 0.01-0.04 s. Largest accepted, 20,000 rows (3.3 MB file):
saved, 275 MB / 26 s on the command line and 309 MB / 15 s in the server; one row to
correct, 261 MB / 24 s and 286 MB / 27 s; every row to correct, 226 MB / 33 s and
262 MB / 18 s. Before the streamed annotated copy, one row to correct peaked at 593 MB
in the server.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from bench_import import build  # noqa: E402
from openpyxl import load_workbook  # noqa: E402
from sqlmodel import Session  # noqa: E402

from cohort.db import engine_for, forget_engines  # noqa: E402
from cohort.excel.layout import FIRST_DATA_ROW, NAME_ROW  # noqa: E402
from cohort.models import Account  # noqa: E402
from cohort.services.accounts import hash_password  # noqa: E402

COHORT = str(Path(sys.executable).with_name("cohort"))
PASSWORD = "bench only: a long passphrase"
SHEET = "xl/worksheets/sheet2.xml"
AS_OF = "2026-11-22"


def with_sheet(template: bytes, sheet: bytes | None = None,
               writer: object = None) -> bytes:
    """``template`` with its entry sheet's XML replaced (or streamed by ``writer``)."""
    source = zipfile.ZipFile(io.BytesIO(template))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for info in source.infolist():
            if info.filename != SHEET:
                target.writestr(info.filename, source.read(info))
            elif writer is not None:
                with target.open(SHEET, "w", force_zip64=True) as stream:
                    writer(stream)  # type: ignore[operator]
            else:
                target.writestr(SHEET, sheet or b"")
    return out.getvalue()


HEAD = (b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats'
        b'.org/spreadsheetml/2006/main"><sheetData>')
TAIL = b"</sheetData></worksheet>"


def header_rows(template: bytes) -> bytes:
    xml = zipfile.ZipFile(io.BytesIO(template)).read(SHEET)
    return xml[xml.index(b"<row "):xml.index(b'<row r="3"')]


def refused_files(template: bytes) -> dict[str, bytes]:
    head = HEAD + header_rows(template)

    def bomb(stream: io.RawIOBase) -> None:
        stream.write(head)
        row = b'<row r="3"><c r="A3" t="inlineStr"><is><t>' + b"x" * 1000 + b"</t></is></c></row>"
        for _ in range(300_000):  # 300 MB of XML, compressing to a few hundred KB
            stream.write(row)
        stream.write(TAIL)

    def million(stream: io.RawIOBase) -> None:
        stream.write(head)
        for n in range(3, 1_000_003):
            stream.write(b'<row r="%d"><c r="A%d"><v>1</v></c></row>' % (n, n))
        stream.write(TAIL)

    laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
              + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1)) * 10
                                                     if i > 1 else b"&lol;" * 10)
                         for i in range(1, 10))
              + b"]>" + head[38:] + b'<row r="3"><c r="A3" t="inlineStr"><is><t>&lol9;</t>'
              b"</is></c></row>" + TAIL)
    return {
        "zip bomb (300 MB of XML)": with_sheet(template, writer=bomb),
        "a million rows": with_sheet(template, writer=million),
        "one row numbered 2,000,000,000": with_sheet(
            template, head + b'<row r="2000000000"><c r="A2000000000" t="inlineStr"><is><t>'
            b"x</t></is></c></row>" + TAIL),
        "billion laughs": with_sheet(template, laughs),
    }


def one_row_to_correct(path: Path) -> bytes:
    book = load_workbook(path)
    ws = book.worksheets[1]
    where = {str(c.value): c.column for c in ws[NAME_ROW] if c.value}
    ws.cell(FIRST_DATA_ROW, where["inj_freq"], "99")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


#: Runs a command and prints its own peak RSS (kB). A small process of its own: Linux
#: carries the peak of the process that forked a child into the child's ``ru_maxrss``, and
#: this script holds a large workbook in memory.
PEAK = ("import os, subprocess, sys\n"
        "proc = subprocess.Popen(sys.argv[1:])\n"
        "_, status, usage = os.wait4(proc.pid, 0)\n"
        "print(usage.ru_maxrss, os.waitstatus_to_exitcode(status), file=sys.stderr)\n")


def cli(env: dict[str, str], path: Path, staff: str) -> tuple[float, float, int, str]:
    """(seconds, peak RSS MB, exit code, last line) of ``cohort import`` on ``path``."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PEAK, COHORT, "import", str(path), "--as",
                           staff, "--as-of", AS_OF], env=env, capture_output=True, text=True,
                          timeout=900)
    elapsed = time.perf_counter() - started
    *said, measured = done.stderr.strip().splitlines()
    peak_kb, code = (int(x) for x in measured.split())
    lines = (done.stdout.strip().splitlines() + said) or [""]
    return elapsed, peak_kb / 1024, code, lines[-1][:90]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def high_water(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmHWM:\s+(\d+) kB", text)
    return int(found.group(1)) / 1024 if found else float("nan")


def server(env: dict[str, str], data: bytes | None) -> tuple[float, float, int]:
    """(seconds, server VmHWM MB, status) of one upload to a fresh ``cohort serve``."""
    port = free_port()
    proc = subprocess.Popen([COHORT, "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=900) as client:
            for _ in range(100):
                try:
                    page = client.get("/login")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            if token is None:
                raise SystemExit("the server did not serve the sign-in page")
            client.post("/login", data={"username": "bench", "password": PASSWORD,
                                        "csrf_token": token.group(1)})
            page = client.get("/workbooks")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            if token is None:
                raise SystemExit("signing in as 'bench' failed")
            if data is None:
                return 0.0, high_water(proc.pid), page.status_code
            started = time.perf_counter()
            answer = client.post("/workbooks/import", data={"csrf_token": token.group(1)},
                                 files={"file": ("m6.xlsx", data, "application/zip")})
            return time.perf_counter() - started, high_water(proc.pid), answer.status_code
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20_000,
                        help="rows of the largest accepted workbook (COHORT_WORKBOOK_MAX_ROWS)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        url, path, staff_id = build(args.rows, folder)
        forget_engines(url)
        with Session(engine_for(url)) as session:
            session.add(Account(username="bench", password_hash=hash_password(PASSWORD),
                                staff_id=staff_id))
            session.commit()
        forget_engines(url)
        template = path.read_bytes()
        accepted = {"saved": template, "one row to correct": one_row_to_correct(path)}
        refused = refused_files(template)
        print(f"built the files in {time.perf_counter() - started:.0f} s: "
              + ", ".join(f"{k}: {len(v) / 1024:,.0f} KB" for k, v in
                          {**accepted, **refused}.items()), flush=True)
        pristine = folder / "pristine.db"
        restore(folder / "bench.db", pristine)
        saved_state = folder / "saved.db"
        env = {**os.environ, "COHORT_SECRET_KEY": "bench-only-" * 4}
        db = folder / "run.db"
        env["COHORT_DATABASE_URL"] = f"sqlite:///{db}"
        print(f"\n{'file':<58} {'where':<8} {'time':>8} {'peak RSS':>9}  answer")
        saved, corrected = accepted.values()
        runs: list[tuple[str, bytes | None, Path]] = [
            ("baseline (nothing imported)", None, pristine),
            *[(name, data, pristine) for name, data in refused.items()],
            (f"largest accepted ({args.rows:,} rows), saved", saved, pristine),
            (f"largest accepted ({args.rows:,} rows), one row to correct", corrected, pristine),
            (f"largest accepted ({args.rows:,} rows), every row to correct", corrected,
             saved_state)]
        for name, data, state in runs:
            if data is not None:
                file = folder / "file.xlsx"
                file.write_bytes(data)
                restore(state, db)
                seconds, peak, code, line = cli(env, file, str(staff_id))
                print(f"{name:<58} {'command':<8} {seconds:7.2f}s {peak:6.0f} MB  "
                      f"exit {code}: {line}", flush=True)
                if data is saved and state is pristine and not saved_state.exists():
                    restore(db, saved_state)  # the database once the file is stored
            restore(state, db)
            seconds, peak, status = server(env, data)
            print(f"{name:<58} {'server':<8} {seconds:7.2f}s {peak:6.0f} MB  HTTP {status}",
                  flush=True)


def restore(source: Path, target: Path) -> None:
    """Copy an SQLite database with its WAL files (a stale -wal would replay old writes)."""
    for suffix in ("", "-wal", "-shm"):
        (target.parent / (target.name + suffix)).unlink(missing_ok=True)
        origin = source.parent / (source.name + suffix)
        if origin.exists():
            shutil.copy(origin, target.parent / (target.name + suffix))


if __name__ == "__main__":
    main()
