"""CLI fixtures: run `ledger` in-process against the test database."""

from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result

from cli.main import cli


@pytest.fixture
def ledger(db_url: str) -> Callable[..., Result]:
    """Run `ledger --db URL --actor tester ARGS...` and return click's result."""
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(cli, ["--db", db_url, "--actor", "tester", *args],
                             catch_exceptions=False)

    return run
