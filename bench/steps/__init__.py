"""The bench's measured steps, one module each: `DOING` (for the progress line), `measure`
(run in a child process, returns the figures) and `lines` (the figures as table lines)."""
