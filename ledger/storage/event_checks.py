"""Database checks on new events: PostgreSQL refuses rows that are not ledger events, SQLite
refuses an insert that would replace a stored event or chain entry.

PostgreSQL: a statement-level trigger over the statement's new rows refuses a topic that is
not `module:Class.Event`, a state that is not the JSON of an event, and a client-claimed
recorded time (the library's `timestamp`, read by `--as-at`) further than MAX_CLOCK_SKEW from
the server's clock: a login with INSERT can neither poison the ledger with a row no reader can
decode nor backdate what the ledger knew. (Who recorded it and when, as the server saw it, is
the chain's stamp: `ledger.integrity.server_chain`.)

SQLite: `INSERT OR REPLACE` and `REPLACE` replace a row without firing its DELETE triggers;
a BEFORE INSERT trigger refuses an insert whose id (chain: position) is already stored, before
the conflict is resolved. It costs the ledger's own inserts one comparison: they never give an
id (SQLite shows an id not given as -1 to the trigger). `INSERT ... ON CONFLICT DO UPDATE` is
an UPDATE, refused by the append-only triggers. A REPLACE on an aggregate's version under a new
id (which deletes the stored event) is not refused here, to spare every insert an index
lookup: `verify` names the position whose event is gone (`missing`).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Connection, Engine

from ledger.storage.persistence import EVENT_HASHES_TABLE, EVENTS_TABLE, owner_upgrade

MAX_CLOCK_SKEW = timedelta(minutes=15)
TOPIC_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"
CHECKS_VERSION = "3"  # bump to replace the installed function when its SQL changes
TIME_PREFIX = '{"timestamp":{"_type_":"datetime_iso","_data_":"'  # every stored state's start
REPLACE_MESSAGE = "ledger events are append-only: an insert may not replace a stored row"
CHECKS_TRIGGER = f"{EVENTS_TABLE}_checks"


def install_event_checks(engine: Engine) -> None:
    """Install the checks on the events (and, on SQLite, chain) tables if they are missing."""
    if engine.dialect.name == "postgresql":
        _install_postgres(engine)
    else:
        with engine.begin() as connection:
            for statement in sqlite_replace_triggers():
                connection.exec_driver_sql(statement)


def sqlite_replace_triggers() -> list[str]:
    refuse = f"SELECT RAISE(ABORT, '{REPLACE_MESSAGE}')"
    return [
        f"""CREATE TRIGGER IF NOT EXISTS {EVENTS_TABLE}_no_replace BEFORE INSERT ON {EVENTS_TABLE}
            WHEN NEW.id >= 0 AND EXISTS (SELECT 1 FROM {EVENTS_TABLE} WHERE id = NEW.id)
            BEGIN {refuse}; END""",
        f"""CREATE TRIGGER IF NOT EXISTS {EVENT_HASHES_TABLE}_no_replace
            BEFORE INSERT ON {EVENT_HASHES_TABLE}
            WHEN EXISTS (SELECT 1 FROM {EVENT_HASHES_TABLE} WHERE position = NEW.position)
            BEGIN {refuse}; END""",
    ]


def postgres_checks_sql(schema: str) -> list[str]:
    function = f'"{schema}"."{EVENTS_TABLE}_check"'
    skew = int(MAX_CLOCK_SKEW.total_seconds())
    return [
        f"""CREATE OR REPLACE FUNCTION {function}() RETURNS trigger
        LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
        DECLARE
            bad record;
            refused boolean;
            server_time timestamptz := clock_timestamp();
        BEGIN
            SELECT n.id, n.topic INTO bad FROM new_events n
             WHERE n.topic !~ '{TOPIC_PATTERN}' LIMIT 1;
            IF FOUND THEN
                RAISE EXCEPTION 'ledger events only: the topic % (position %) is not an '
                    'event''s', quote_literal(bad.topic), bad.id;
            END IF;
            BEGIN
                -- the recorded time is the state's first member, as the library writes it:
                -- read it by position (a regular expression or a JSON path cost 3 to 50
                -- times more a row); the state must still be a JSON object. Each state is
                -- decoded once (OFFSET 0 keeps the planner from copying the expression).
                SELECT c.id, c.claimed INTO bad
                  FROM (SELECT t.id, t.text, CASE WHEN starts_with(t.text, '{TIME_PREFIX}')
                               THEN split_part(substr(t.text, {len(TIME_PREFIX) + 1}, 64),
                                               '"', 1)::timestamptz END AS claimed
                        FROM (SELECT n.id, convert_from(n.state, 'UTF8') AS text
                              FROM new_events n OFFSET 0) t OFFSET 0) c
                 WHERE c.claimed IS NULL
                    OR c.claimed NOT BETWEEN server_time - interval '{skew} seconds'
                                         AND server_time + interval '{skew} seconds'
                    OR json_typeof(c.text::json) <> 'object'
                 LIMIT 1;
                refused := FOUND;
            EXCEPTION WHEN others THEN
                RAISE EXCEPTION 'ledger events only: a state is not the JSON of a ledger '
                    'event (%)', SQLERRM;
            END;
            IF refused THEN
                RAISE EXCEPTION 'ledger events only: the event at position % claims to be '
                    'recorded at %, the server''s clock says %: more than {skew} seconds apart',
                    bad.id, coalesce(bad.claimed::text, 'no time'), server_time;
            END IF;
            RETURN NULL;
        END $fn$""",
        f"COMMENT ON FUNCTION {function}() IS 'ledger event checks {CHECKS_VERSION}'",
        f"""CREATE OR REPLACE TRIGGER {CHECKS_TRIGGER}
            AFTER INSERT ON "{schema}"."{EVENTS_TABLE}"
            REFERENCING NEW TABLE AS new_events
            FOR EACH STATEMENT EXECUTE FUNCTION {function}()""",
    ]


def _install_postgres(engine: Engine) -> None:
    with owner_upgrade("the event checks"), engine.begin() as connection:
        schema = connection.exec_driver_sql("SELECT current_schema()").scalar_one()
        if trigger_installed(connection, schema, f"{EVENTS_TABLE}_check",
                             f"ledger event checks {CHECKS_VERSION}", CHECKS_TRIGGER,
                             EVENTS_TABLE):
            return
        for statement in postgres_checks_sql(schema):
            connection.exec_driver_sql(statement.replace("%", "%%"))


def trigger_installed(connection: Connection, schema: str, function: str, comment: str,
                      trigger: str, table: str) -> bool:
    """Whether the schema's trigger function carries this version's comment and its trigger
    is on the table: then there is nothing to install (a login that may not create
    functions, such as an officer's, opens the ledger as it is)."""
    return bool(connection.exec_driver_sql(
        "SELECT obj_description(to_regprocedure(%(function)s), 'pg_proc') = %(comment)s "
        "AND EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = %(trigger)s "
        "AND tgrelid = to_regclass(%(table)s))",
        {"function": f'"{schema}"."{function}"()', "comment": comment, "trigger": trigger,
         "table": f'"{schema}"."{table}"'},
    ).scalar_one())
