"""Rules: awarding-body rule sets loaded from TOML (validation, the version in force on a date)
and the working-day calendars of the UK nations.

Pure data and arithmetic: it imports nothing of ours outside this room.
"""
