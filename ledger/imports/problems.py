"""What can be wrong with an import file: row problems (line, column, reason) and refusals."""

from __future__ import annotations

from dataclasses import dataclass

from aggregates.errors import LedgerError


@dataclass(frozen=True, order=True)
class RowProblem:
    """One reason a row (or the file, line 0 = whole file) cannot be imported."""

    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "file"
        column = f", column {self.column}" if self.column else ""
        return f"{where}{column}: {self.reason}"


class RowError(LedgerError):
    """A row cannot be imported; raised inside row handling, collected as a RowProblem."""

    def __init__(self, column: str, reason: str) -> None:
        super().__init__(f"{column}: {reason}")
        self.column = column
        self.reason = reason

    def problems(self, line: int) -> list[RowProblem]:
        """This refusal as the problems of the row on `line`."""
        return [RowProblem(line, self.column, self.reason)]


class RowErrors(RowError):
    """Several independent refusals of one row, all reported at once."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(errors[0].column, errors[0].reason)
        self.errors = errors

    def problems(self, line: int) -> list[RowProblem]:
        return [problem for error in self.errors for problem in error.problems(line)]


def refusal(errors: list[RowError]) -> RowError:
    """One refusal for one or more errors of a row (at least one)."""
    return errors[0] if len(errors) == 1 else RowErrors(errors)


class ImportRefused(LedgerError):
    """The file was refused: nothing (or, with --skip-invalid, only the valid rows) written."""

    def __init__(self, message: str, problems: list[RowProblem]) -> None:
        super().__init__(message)
        self.problems = problems

    def __reduce__(self) -> tuple[type[ImportRefused], tuple[str, list[RowProblem]]]:
        return type(self), (str(self), self.problems)  # so it crosses from a worker process
