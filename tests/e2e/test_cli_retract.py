"""`ledger retract` says what it retracted; counts read as English."""

import json

LEARNER = ["learner", "add", "L1", "--centre", "C1", "--given-name", "Ann",
           "--family-name", "Smith", "--dob", "2004-05-06", "--gender", "2"]
ENROL = ["enrol", "L1", "E1", "--awarding-body", "IMI", "--qualification", "603/1234/5",
         "--title", "Diploma", "--start", "2026-09-01", "--planned-end", "2027-07-31"]


def test_retract_echoes_the_learner_event_and_date_it_retracted(ledger, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    ledger(*LEARNER)
    ledger(*ENROL)
    withdrawn = ledger("withdraw", "L1", "E1", "--left", "2026-11-02", "--reason",
                       "requested", "--format", "json")
    position = json.loads(withdrawn.stdout)["events"][0]
    result = ledger("retract", str(position), "--reason", "wrong learner")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (f"Retracted event {position}: Withdrawn E1 of learner L1 at centre "
                             f"C1, happened 2026-11-02; the retraction is event "
                             f"{position + 1}\n")


def test_retract_in_json_names_what_it_retracted(ledger):
    ledger(*LEARNER)
    ledger(*ENROL)
    result = ledger("retract", "4", "--reason", "wrong course", "--format", "json")
    document = json.loads(result.stdout)
    assert document["events"] == [5]
    assert document["retracted"] == {"position": 4, "learner": "L1", "centre": "C1",
                                     "event": "Enrolled", "enrolment": "E1",
                                     "occurred_on": "2026-09-01"}


def test_a_refused_retraction_writes_nothing_and_echoes_nothing_on_stdout(ledger):
    ledger(*LEARNER)
    result = ledger("retract", "2", "--reason", "index")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == "Error: event 2 is not a learner event\n"


def test_one_event_is_not_called_events(ledger):
    assert ledger(*LEARNER).stdout == "Recorded 1 event for L1: 1\n"
    result = ledger("register", "L1", "E1", "--submitted", "2026-09-20")
    assert result.exit_code == 1
    ledger(*ENROL)
    both = ledger("register", "L1", "E1", "--submitted", "2026-09-20", "--confirmed",
                  "2026-09-24", "--ao-ref", "IMI-7")
    assert both.stdout == "Recorded 2 events for L1: 5, 6\n"


def test_retract_folds_its_echo_at_spaces_to_the_terminal_width(ledger, monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    ledger(*LEARNER)
    ledger(*ENROL)
    lines = ledger("retract", "4", "--reason", "wrong course").stdout.splitlines()
    assert lines == ["Retracted event 4: Enrolled E1 of learner L1 at centre C1,",
                     "happened 2026-09-01; the retraction is event 5"]


def test_recording_warnings_fold_under_their_message_not_mid_word(ledger, monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    ledger(*LEARNER[:-4], "--dob", "2015-01-01", "--gender", "2")
    result = ledger(*ENROL)
    assert result.stderr.splitlines() == [
        "Warning: date_of_birth: learner would be 11 on the programme",
        "         start date 2026-09-01"]
    assert result.stdout == "Recorded 1 event for L1: 4\n"
