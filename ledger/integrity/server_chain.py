"""PostgreSQL: the chain computed and stamped by the server, in the transaction that inserts.

A statement-level trigger on the events table (with the statement's new rows as a transition
table) locks the chain table, stamps the statement's events with the login that recorded them
(`session_user`) and the server's clock (read after the lock, so stamps follow chain order),
hashes each event and links it to the head, and inserts the chain entries. The function runs
as the ledger's owner (SECURITY DEFINER): no role that `ledger grant` hands out may insert into
the chain table itself, so an entry can only come from the server. One trigger call per
statement, not per row: an import's COPY of thousands of events pays for one lock, one head
read and one multi-row insert, and the hashing is a loop in PL/pgSQL over the new rows.

The hashes are those of `ledger.integrity.chain` (content: `HASH_VERSION`; link:
`STAMPED_HASH_VERSION` with the stamp bytes), written out in SQL: change both together
(tests/integration/integrity/test_server_chain.py checks they agree).
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from ledger.integrity.chain import HASH_VERSION, STAMPED_HASH_VERSION
from ledger.storage.event_checks import trigger_installed

SERVER_CHAIN_VERSION = "2"  # bump to replace installed functions when their SQL changes


def function_name(hashes_table: str) -> str:
    return f"{hashes_table}_extend"


def trigger_name(hashes_table: str) -> str:
    return f"{hashes_table}_server_chain"


def server_chain_sql(schema: str, events_table: str, hashes_table: str) -> list[str]:
    """The function and trigger that chain every statement's new events on the server."""
    chain = f'"{schema}"."{hashes_table}"'
    events = f'"{schema}"."{events_table}"'
    function = f'"{schema}"."{function_name(hashes_table)}"'
    content_prefix = HASH_VERSION.decode()
    link_prefix = STAMPED_HASH_VERSION.decode()
    return [
        f"""CREATE OR REPLACE FUNCTION {function}() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
        DECLARE
            last_position bigint;
            chain_seq bigint;
            previous bytea;
            last_at bigint;
            login text := session_user;
            at_us bigint;
            stamp bytea;
            link_prefix constant bytea := convert_to('{link_prefix}', 'UTF8');
            content_prefix constant bytea := convert_to('{content_prefix}', 'UTF8');
            contents bytea[] := '{{}}';
            links bytea[] := '{{}}';
            event record;
        BEGIN
            LOCK TABLE {chain} IN EXCLUSIVE MODE;
            SELECT h.position, h.seq, decode(h.hash, 'hex'), coalesce(h.recorded_at_us, 0)
              INTO last_position, chain_seq, previous, last_at
              FROM {chain} h ORDER BY h.position DESC LIMIT 1;
            IF NOT FOUND THEN
                last_position := 0; chain_seq := 0; last_at := 0;
                previous := decode(repeat('00', 32), 'hex');
            END IF;
            IF (SELECT min(n.id) FROM new_events n) <= last_position THEN
                RAISE EXCEPTION 'ledger events are chained in position order: new positions '
                    'must come after %: lock {events_table} IN EXCLUSIVE MODE before '
                    'inserting', last_position;
            END IF;
            at_us := greatest(
                floor(extract(epoch FROM clock_timestamp()) * 1000000)::bigint, last_at);
            stamp := int8send(octet_length(login)::bigint) || convert_to(login, 'UTF8')
                     || int8send(at_us);
            -- the contents, and each link's bytes after the previous hash, worked out by the
            -- query; the loop only chains (one hash on the one before)
            FOR event IN
                SELECT c.content, int8send(chain_seq + c.number) || int8send(c.id)
                                  || c.content || stamp AS tail
                FROM (SELECT n.id, row_number() OVER (ORDER BY n.id) AS number,
                             sha256(content_prefix
                                 || int8send(36) || convert_to(n.originator_id::text, 'UTF8')
                                 || int8send(length(n.originator_version::text)::bigint)
                                 || convert_to(n.originator_version::text, 'UTF8')
                                 || int8send(octet_length(n.topic)::bigint)
                                 || convert_to(n.topic, 'UTF8')
                                 || int8send(length(n.state)::bigint) || n.state) AS content
                      FROM new_events n) c
                ORDER BY c.id
            LOOP
                previous := sha256(link_prefix || previous || event.tail);
                contents := contents || event.content;
                links := links || previous;
            END LOOP;
            INSERT INTO {chain} (position, seq, content_hash, hash, recorded_by,
                                 recorded_at_us)
                SELECT n.id, chain_seq + n.number, encode(contents[n.number], 'hex'),
                       encode(links[n.number], 'hex'), login, at_us
                FROM (SELECT id, row_number() OVER (ORDER BY id) AS number
                      FROM new_events) n;
            RETURN NULL;
        END $fn$""",
        f"COMMENT ON FUNCTION {function}() IS 'ledger server chain {SERVER_CHAIN_VERSION}'",
        f"REVOKE ALL ON FUNCTION {function}() FROM PUBLIC",
        f"""CREATE OR REPLACE TRIGGER {trigger_name(hashes_table)}
            AFTER INSERT ON {events}
            REFERENCING NEW TABLE AS new_events
            FOR EACH STATEMENT EXECUTE FUNCTION {function}()""",
    ]


def install_server_chain(connection: Connection, events_table: str, hashes_table: str) -> None:
    """Install (or bring up to date) the server-side chain on the current schema's tables.

    Nothing is done when this version is already installed, so a login that may not
    create functions (an officer) starts the ledger as before."""
    schema = connection.exec_driver_sql("SELECT current_schema()").scalar_one()
    if trigger_installed(connection, schema, function_name(hashes_table),
                         f"ledger server chain {SERVER_CHAIN_VERSION}",
                         trigger_name(hashes_table), events_table):
        return
    for statement in server_chain_sql(schema, events_table, hashes_table):
        connection.exec_driver_sql(statement.replace("%", "%%"))
