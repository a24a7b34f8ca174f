"""Web logins and roles: argon2-hashed users on SQLite; on PostgreSQL, the database login."""

from __future__ import annotations

import re
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Column, MetaData, String, Table, create_engine, insert, select, text, update
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from aggregates.errors import ConfigurationError, InvalidValue
from ledger.privacy.roles import GROUP_ROLE, ROLES

USERS_TABLE = "ledger_web_users"
USER_NAME = re.compile(r"[a-z_][a-z0-9_.-]{0,62}")
MIN_PASSWORD = 10
_hasher = PasswordHasher()
# A hash to verify against when the user does not exist, so both take the same time.
_DUMMY_HASH = _hasher.hash("not a password of anyone")

users = Table(
    USERS_TABLE, MetaData(),
    Column("name", String(63), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(200), nullable=False),
)


@dataclass(frozen=True)
class User:
    """Who is logged in, and with which ledger role (officer, eqa or auditor)."""

    name: str
    role: str

    @property
    def sees_personal_data(self) -> bool:
        return self.role != "eqa"


def check_name(name: str) -> str:
    if not USER_NAME.fullmatch(name):
        raise InvalidValue("name", f"{name!r} is not a user name (lower-case letters, digits, "
                           "'.', '-', '_')")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidValue("role", f"{role!r} is not one of {', '.join(ROLES)}")
    return role


def add_user(engine: Engine, name: str, role: str, password: str) -> str:
    """Create or update an SQLite web user; returns what was done."""
    if engine.dialect.name != "sqlite":
        raise ConfigurationError("on PostgreSQL a web user is a database login: use "
                                 "`ledger grant --role ROLE NAME --password`")
    check_name(name)
    check_role(role)
    if len(password) < MIN_PASSWORD:
        raise InvalidValue("password", f"use at least {MIN_PASSWORD} characters")
    users.create(engine, checkfirst=True)
    values = {"role": role, "password_hash": _hasher.hash(password)}
    with engine.begin() as connection:
        found = connection.execute(select(users.c.name).where(users.c.name == name)).first()
        if found:
            connection.execute(update(users).where(users.c.name == name).values(**values))
            return f"Web user {name} updated: role {role}"
        connection.execute(insert(users).values(name=name, **values))
    return f"Web user {name} added: role {role}"


def authenticate(engine: Engine, name: str, password: str) -> User | None:
    """The user if the password is theirs, else None (never says which part was wrong)."""
    if not USER_NAME.fullmatch(name) or not password:
        return None
    if engine.dialect.name == "postgresql":
        return _database_login(engine, name, password)
    users.create(engine, checkfirst=True)
    with engine.connect() as connection:
        row = connection.execute(
            select(users.c.role, users.c.password_hash).where(users.c.name == name)).first()
    try:
        _hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return User(name, row.role) if row else None


def _database_login(engine: Engine, name: str, password: str) -> User | None:
    """PostgreSQL: connect as the login with its password; its ledger group is its role."""
    url = make_url(engine.url).set(username=name, password=password)
    login = create_engine(url, poolclass=NullPool)
    try:
        with login.connect() as connection:
            groups = {row[0] for row in connection.execute(text(
                "SELECT rolname FROM pg_roles WHERE pg_has_role(current_user, oid, 'member')"))}
    except SQLAlchemyError:
        return None
    finally:
        login.dispose()
    for role in ("eqa", "auditor", "officer"):  # the least privileged group wins
        if GROUP_ROLE[role] in groups:
            return User(name, role)
    return None
