"""PostgreSQL roles: officers append and read; auditors and EQA read (never the learner keys,
so personal data stays sealed for them), EQA also through views of the plain facts.

No granted role may write the chain (the server does: `ledger.integrity.server_chain`), and
`grant` refuses a login that could undo that: a superuser, the database's or the ledger's
owner, a role that can create roles, bypass row security or replicate, or a member of one.
"""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from aggregates.errors import ConfigurationError, InvalidValue, LedgerError
from ledger.privacy.keys import CHECK_TABLE, KEYS_TABLE
from ledger.storage.persistence import EVENT_HASHES_TABLE, EVENTS_TABLE

ROLES = ("officer", "eqa", "auditor")
GROUP_ROLE = {role: f"ledger_{role}" for role in ROLES}
EQA_EVENTS_VIEW = "ledger_eqa_events"
EQA_LEARNERS_VIEW = "ledger_eqa_learners"
KEY_TABLES = (KEYS_TABLE, CHECK_TABLE)
ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
LEARNER_TOPICS = "aggregates.learner:Learner."

# The sealed envelope and notes are dropped: what is left are the non-personal facts.
EQA_VIEWS = (
    f"""CREATE OR REPLACE VIEW {EQA_EVENTS_VIEW} AS
        SELECT id AS position, originator_id AS learner_id, originator_version AS version,
               substr(topic, length('aggregates.learner:Learner.') + 1) AS event,
               (convert_from(state, 'UTF8')::jsonb - '_sealed' - 'note') AS facts
        FROM {EVENTS_TABLE} WHERE starts_with(topic, '{LEARNER_TOPICS}')""",
    f"""CREATE OR REPLACE VIEW {EQA_LEARNERS_VIEW} AS
        SELECT originator_id AS learner_id,
               convert_from(state, 'UTF8')::jsonb ->> 'centre' AS centre,
               convert_from(state, 'UTF8')::jsonb ->> 'reference' AS reference
        FROM {EVENTS_TABLE} WHERE topic = 'aggregates.learner:Learner.Recorded'""",
)


class PowerfulRole(LedgerError):
    """`grant` was asked to hand a ledger role to a login that can already do anything."""


# What `grant` refuses, found in one query: the login itself or any role it is a member of
# (it could SET ROLE to it) is a superuser, may create roles, bypass row-level security or
# replicate, or owns the database or the ledger's tables.
POWERS_SQL = """
    SELECT r.rolname, r.rolsuper, r.rolcreaterole, r.rolbypassrls, r.rolreplication,
           r.oid = (SELECT datdba FROM pg_database WHERE datname = current_database())
               AS owns_database,
           r.oid = (SELECT relowner FROM pg_class WHERE oid = to_regclass(:events))
               AS owns_ledger
    FROM pg_roles r
    WHERE EXISTS (SELECT 1 FROM pg_roles target WHERE target.rolname = :name)
      AND pg_has_role(:name, r.oid, 'MEMBER')
"""
POWERS = {"rolsuper": "a superuser", "rolcreaterole": "allowed to create roles (CREATEROLE)",
          "rolbypassrls": "allowed to bypass row-level security (BYPASSRLS)",
          "rolreplication": "allowed to replicate (REPLICATION)",
          "owns_database": "the database's owner", "owns_ledger": "the ledger tables' owner"}


def check_not_powerful(connection: Connection, name: str) -> None:
    """Refuse a login that is, or can become, a role a ledger role would not restrain."""
    for row in connection.execute(text(POWERS_SQL), {"name": name, "events": EVENTS_TABLE}):
        powers = [said for column, said in POWERS.items() if getattr(row, column)]
        if powers:
            via = "" if row.rolname == name else f", as a member of {row.rolname},"
            raise PowerfulRole(
                f"{name}{via} is {', '.join(powers)}: a ledger role would not restrain it; "
                "grant ledger roles to ordinary logins only")


def _quoted(name: str) -> str:
    if not ROLE_NAME.fullmatch(name):
        raise InvalidValue("name", f"{name!r} is not a role name (lower-case letters, digits, _)")
    return f'"{name}"'


def _ensure_role(connection: Connection, name: str, login: bool) -> None:
    exists = connection.execute(
        text("SELECT 1 FROM pg_roles WHERE rolname = :name"), {"name": name}
    ).first()
    if not exists:
        connection.exec_driver_sql(f"CREATE ROLE {_quoted(name)} {'LOGIN' if login else 'NOLOGIN'}")


def install_privileges(connection: Connection) -> None:
    """Create the group roles and the EQA views, and grant each group its privileges."""
    connection.execute(text("SELECT pg_advisory_xact_lock(8150007)"))
    for role in ROLES:
        _ensure_role(connection, GROUP_ROLE[role], login=False)
    schema = connection.execute(text("SELECT current_schema()")).scalar_one()
    for statement in EQA_VIEWS:
        connection.exec_driver_sql(statement)
    tables = [row[0] for row in connection.execute(
        text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    )]
    officer, eqa, auditor = (GROUP_ROLE[r] for r in ROLES)
    everyone = f"{officer}, {eqa}, {auditor}"
    connection.exec_driver_sql(f'GRANT USAGE ON SCHEMA "{schema}" TO {everyone}')
    connection.exec_driver_sql(f'REVOKE ALL ON ALL TABLES IN SCHEMA "{schema}" FROM {everyone}')
    for table in tables:
        # the chain's entries are the server's to write (ledger.integrity.server_chain)
        rights = "SELECT" if table == EVENT_HASHES_TABLE else "SELECT, INSERT"
        connection.exec_driver_sql(f'GRANT {rights} ON "{table}" TO {officer}')
        if table not in KEY_TABLES:  # sealed events, chain, reports: never the keys
            connection.exec_driver_sql(f'GRANT SELECT ON "{table}" TO {auditor}, {eqa}')
    # The library locks the events table IN EXCLUSIVE MODE to order inserts, which PostgreSQL
    # allows only with UPDATE: the append-only trigger still refuses every UPDATE and DELETE.
    connection.exec_driver_sql(f"GRANT UPDATE ON {EVENTS_TABLE} TO {officer}")
    connection.exec_driver_sql(
        f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "{schema}" TO {officer}'
    )
    connection.exec_driver_sql(
        f"GRANT SELECT ON {EQA_EVENTS_VIEW}, {EQA_LEARNERS_VIEW} TO {eqa}, {auditor}"
    )


def grant(engine: Engine, role: str, name: str, password: str | None = None) -> str:
    """Create or update login role NAME as an officer, EQA or auditor; returns what was done."""
    if engine.dialect.name != "postgresql":
        raise ConfigurationError(
            "roles need PostgreSQL; an SQLite ledger is protected by its file permissions"
        )
    if role not in ROLES:
        raise InvalidValue("role", f"{role!r} is not one of {', '.join(ROLES)}")
    quoted = _quoted(name)
    with engine.begin() as connection:
        check_not_powerful(connection, name)
        install_privileges(connection)
        _ensure_role(connection, name, login=True)
        if password:
            connection.exec_driver_sql(f"ALTER ROLE {quoted} PASSWORD %(password)s",
                                       {"password": password})
        for other in ROLES:
            if other != role:
                connection.exec_driver_sql(f"REVOKE {GROUP_ROLE[other]} FROM {quoted}")
        connection.exec_driver_sql(f"GRANT {GROUP_ROLE[role]} TO {quoted}")
    return f"{name} is now a ledger {role} ({GROUP_ROLE[role]})"
