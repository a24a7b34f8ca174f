"""Privacy: the master key and per-learner keys, sealing personal attributes with AES-GCM,
crypto-shredding erasure, retention periods, PostgreSQL roles, and redaction for sharing.

It may import `storage` and `rules`; `erasure` and `retention` take the application as an
argument (imported for type checking only).
"""
