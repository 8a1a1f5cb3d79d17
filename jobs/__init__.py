"""Queue, runner, scheduler and one module per job kind, over a SQLite store."""
