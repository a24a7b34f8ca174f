"""Read models rebuilt from events: late registrations, maladministration, audit."""
