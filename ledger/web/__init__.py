"""The read-only web app (`ledger serve`) and the printable HTML reports.

Owns the routes, templates and static assets; it reads through the same ledger functions the
CLI uses (`ledger.reporting`, `ledger.integrity`, `projections`) and writes only one thing:
the access log event recorded when someone is shown a learner's personal data.
- `sources`: what the pages read, a live ledger or a verified EQA bundle.
- `users`: logins (argon2 users on SQLite, database logins on PostgreSQL) and roles.
- `security`: sessions, CSRF tokens, the login rate limit and the security headers.
- `shaping`: report rows filtered, sorted and paged; personal data withheld from EQA.
- `charts`: inline SVG charts.  `routes`: the pages.  `html_report`: one-file HTML reports.
"""
