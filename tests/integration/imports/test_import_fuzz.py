"""Fuzzed CSV files either import fully or are refused with line-numbered reasons, never a crash."""

from __future__ import annotations

import itertools
from pathlib import Path

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from ledger.app import LedgerApp
from ledger.imports import ImportOptions, ImportRefused, import_csv
from ledger.imports.layouts import EVENTS, MIS_EXPORT

VALID_MIS = {
    "centre": "C1", "learner": "L1", "title": "Ms", "given_name": "Zoë", "family_name": "O'Brien",
    "date_of_birth": "01/02/2000", "gender": "2", "postcode": "LS6 2QT",
    "email": "zoe@example.com", "uln": "1000000043", "enrolment": "E1", "awarding_body": "IMI",
    "qualification": "603/1234/5", "qualification_title": "Light vehicle", "units": "LV01;LV02",
    "programme_start": "2025-09-01", "planned_end": "2026-07-01", "apprenticeship": "N",
    "registration_submitted": "15/09/2025", "registration_confirmed": "2025-09-19",
    "ao_reference": "IMI-1", "assessment_started": "2025-10-01", "withdrawal_left": "",
    "withdrawal_reason": "", "withdrawal_notified": "", "iqa_signed_off": "2026-07-10",
    "claim_submitted": "2026-07-17", "certificate_received": "", "certificate_issued": "",
    "certificate_collected": "", "note": "", "learning_completed": "", "achieved": "",
}
VALID_EVENT = {
    "event": "lrs-result", "centre": "C1", "learner": "L1", "enrolment": "E1",
    "occurred_on": "2025-10-01", "uln": "9276308686", "code": "WSVRC001", "flags": "VRF7",
    "master_uln": "", "document": "passport", "field": "postcode", "value": "CF10 1AA",
    "ao_reference": "IMI-2", "reason": "left", "note": "",
}
EVENT_KINDS = [
    "lrs-result", "id-verified", "amended", "withdrawn", "withdrawal-notified", "uln",
    "registration-submitted", "registration-confirmed", "registration-rejected",
    "assessment-started", "iqa-signed-off", "claim-submitted", "certificate-received",
]
NASTY = st.sampled_from([
    "", " ", "31/02/2021", "2031-01-01", "1901-01-01", "ZOË", "A.", "O'Brien", "Siân", "0",
    "9", "x", "1234567890", "9999999999", "left", "no contact", "WSVRC006", "VRF9", "=1+1",
    '"quoted, comma"', "line\nbreak", "\u00a0", "E2", "L2", "AIM", "registration-confirmed",
    "withdrawn", "amended", "claim-submitted", "certificate-received", "Y", "yes", "maybe",
    "2025-08-31", "01/01/2026", "ZZ99 9ZZ", "sw1a1aa", "?" * 60,
])
CELL = st.one_of(NASTY, st.text(max_size=12))


def quote(cell: str) -> str:
    if any(c in cell for c in ',"\n\r'):
        return '"' + cell.replace('"', '""') + '"'
    return cell


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    layout = draw(st.sampled_from([MIS_EXPORT, EVENTS]))
    valid = VALID_MIS if layout is MIS_EXPORT else VALID_EVENT
    columns = [c for c in layout.columns if draw(st.integers(0, 60)) > 0]
    if draw(st.integers(0, 3)) == 0:
        columns.append(draw(st.sampled_from(["extra", "Shoe Size", ""])))
    lines = [",".join(quote(c) for c in columns)]
    for _ in range(draw(st.integers(0, 4))):
        if draw(st.integers(0, 5)) == 0:
            lines.append("")
            continue
        row = {**valid, "learner": draw(st.sampled_from(["L1", "L2", "L3"])),
               "enrolment": draw(st.sampled_from(["E1", "E2"]))}
        if layout is EVENTS:
            row["event"] = draw(st.sampled_from(EVENT_KINDS))
        cells = [row.get(c, "") for c in columns]
        for _ in range(draw(st.sampled_from([0, 0, 0, 0, 0, 0, 1, 2]))):
            if cells:
                cells[draw(st.integers(0, len(cells) - 1))] = draw(CELL)
        if draw(st.integers(0, 15)) == 0:
            cells.append(draw(CELL))
        lines.append(",".join(quote(c) for c in cells))
    body = "\r\n".join(lines) if draw(st.booleans()) else "\n".join(lines)
    data = (("\ufeff" if draw(st.booleans()) else "") + body).encode("utf-8")
    if draw(st.integers(0, 15)) == 0:
        data += draw(st.binary(min_size=1, max_size=4))
    return data


def count(app: LedgerApp) -> int:
    with app.engine.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM ledger_events")).scalar_one()


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=csv_files())
@example(data=(  # a rejection, then a resubmission the same day: once imported, never again
    b"event,centre,learner,enrolment,occurred_on,reason\n"
    b"registration-rejected,C1,L2,E1,2025-10-01,left\n"
    b"registration-submitted,C1,L2,E1,2025-10-01,left\n"))
def test_any_csv_file_imports_fully_or_is_refused_with_line_numbers_and_no_writes(
    tmp_path: Path, data: bytes
) -> None:
    app = _app(tmp_path)
    path = tmp_path / f"fuzz-{next(_numbers)}.csv"
    path.write_bytes(data)
    before = count(app)
    try:
        summary = import_csv(app, path, ImportOptions(actor="fuzzer", batch_size=2))
    except ImportRefused as refused:
        event("refused")
        assert count(app) == before
        assert refused.problems
        assert all(problem.line >= 0 and problem.reason for problem in refused.problems)
    else:
        event(f"imported ({'some' if summary.events else 'no'} events)")
        assert summary.rows_skipped == 0
        assert count(app) >= before + summary.events
        assert import_csv(app, path, ImportOptions(actor="fuzzer")).events == 0


_numbers = itertools.count()
_apps: dict[Path, LedgerApp] = {}


def _app(tmp_path: Path) -> LedgerApp:
    if tmp_path not in _apps:
        app = _apps[tmp_path] = LedgerApp(f"sqlite:///{tmp_path / 'fuzz.db'}")
        header = ",".join(MIS_EXPORT.columns)
        rows = [",".join({**VALID_MIS, "learner": learner, "enrolment": enrolment,
                          "registration_confirmed": "", "ao_reference": "",
                          "iqa_signed_off": "", "claim_submitted": ""}[c]
                         for c in MIS_EXPORT.columns)
                for learner in ("L1", "L2", "L3") for enrolment in ("E1", "E2")]
        seed = tmp_path / "seed.csv"
        seed.write_text("\n".join([header, *rows]), encoding="utf-8")
        import_csv(app, seed, ImportOptions(actor="fuzzer"))
    return _apps[tmp_path]
