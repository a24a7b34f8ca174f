"""Property: whichever stored event is edited or deleted, verify names exactly that position."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.app import LedgerApp
from ledger.integrity.verify import verify_ledger
from tests.integration.integrity import tampering as t

EDITS = {
    "changed": t.edit_state_byte,
    "missing": t.delete_event,
}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pristine") / "ledger.db"
    app = LedgerApp(f"sqlite:///{path}")
    t.record_small_ledger(app)
    app.close()
    app.engine.dispose()
    return path


@settings(max_examples=30, deadline=None)
@given(position=st.integers(1, 10), kind=st.sampled_from(sorted(EDITS)), data=st.data())
def test_the_edited_or_deleted_event_is_the_one_named(pristine, tmp_path_factory, position,
                                                      kind, data):
    path = tmp_path_factory.mktemp("copy") / "ledger.db"
    shutil.copy(pristine, path)
    app = LedgerApp(f"sqlite:///{path}")
    try:
        with app.engine.begin() as connection:
            t.drop_triggers(connection)
            EDITS[kind](app, connection, position)
        problem = verify_ledger(app, page=data.draw(st.integers(1, 12), label="page")).problem
        assert problem is not None
        assert (problem.position, problem.kind) == (position, kind)
    finally:
        app.close()
        app.engine.dispose()
