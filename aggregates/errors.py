"""Typed domain errors: every user mistake is a LedgerError, never a traceback."""

ECHO_LIMIT = 80


def shown(value: object) -> str:
    """A value as an error message echoes it: its repr, cut at about 80 characters."""
    text = repr(value)
    if len(text) <= ECHO_LIMIT:
        return text
    length = len(value) if isinstance(value, str) else len(text)
    return f"{text[:ECHO_LIMIT - 1]}… ({length:,} characters)"


class LedgerError(Exception):
    """Base class of every error the ledger reports to its users."""


class InvalidValue(LedgerError, ValueError):
    """A value (ULN, date, name, postcode, ...) is malformed."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class UnknownLearner(LedgerError, LookupError):
    """No learner with that reference is recorded."""


class AmbiguousLearner(LedgerError, LookupError):
    """The learner reference exists at several centres."""


class DuplicateLearner(LedgerError):
    """The learner is already recorded at that centre."""


class UnknownEnrolment(LedgerError, LookupError):
    """The learner has no enrolment with that reference."""


class DuplicateEnrolment(LedgerError):
    """The enrolment reference is already used for that learner."""


class UnknownEvent(LedgerError, LookupError):
    """No event is recorded at that position."""


class ImpossibleCommand(LedgerError):
    """The command contradicts what the ledger already records."""


class DateOrderError(ImpossibleCommand):
    """A date comes before a date it cannot precede."""


class ConcurrencyConflict(LedgerError):
    """Another writer kept changing the same learner; the command was not recorded."""


class ConfigurationError(LedgerError):
    """A rule set, database URL or other setting is unusable."""


class NotALedger(LedgerError):
    """The database named holds no ledger: missing, empty, or without the event tables."""


class EmptyLedger(NotALedger):
    """The ledger holds no events where some were expected (`verify` without --allow-empty)."""
