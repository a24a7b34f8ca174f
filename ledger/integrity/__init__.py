"""Integrity: the SHA-256 hash chain over stored events, stamped with who recorded each and
when; the recorder that writes it in the same transaction as the events (on PostgreSQL the
server's own trigger, `server_chain`), the stamps read back (`stamps`), `verify` (a fast
parallel scan and a page-by-page check), head digests, EQA bundles that carry the chain for
checking with no database, the ledger id, and signed checkpoints (Ed25519) kept in a log
outside the database, with EQA countersignatures.

It may import `storage` and `bulk`; nothing here reads personal data or report tables.
"""
