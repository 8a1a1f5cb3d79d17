"""The book of scratch databases (``engine.scratch.ScratchBook``), kept in the job store's file.

In the store because that is what survives a killed process on the same machine, and what
the bot, the worker and the CLI already share; its own table, created on first use.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from engine.scratch import ScratchRecord
from jobs.status import JobStatus
from jobs.store import Store

TABLE = "scratch_databases"
_COLUMNS = {f.name for f in fields(ScratchRecord)}


class StoreScratchBook:
    def __init__(self, store: Store) -> None:
        self.store = store
        with store.transaction() as db:
            db[TABLE].create(
                {
                    "name": str,
                    "server": str,
                    "purpose": str,
                    "backup_id": str,
                    "owner": str,
                    "created_at": str,
                    "expires_at": str,
                    "job_id": int,
                    "status": str,
                },
                pk="name",
                if_not_exists=True,
            )

    def add(self, rec: ScratchRecord) -> None:
        with self.store.transaction() as db:
            db[TABLE].insert(rec.as_dict(), pk="name")
            self.store.audit(rec.job_id, "scratch_created", rec.owner, rec.as_dict())

    def update(self, name: str, **values: Any) -> None:
        with self.store.transaction() as db:
            db[TABLE].update(name, {k: v for k, v in values.items() if k in _COLUMNS})

    def remove(self, name: str) -> None:
        with self.store.transaction() as db:
            cur = db.execute(f"DELETE FROM {TABLE} WHERE name = ?", [name])
            if cur.rowcount:
                self.store.audit(None, "scratch_dropped", "backupbot", {"name": name})

    def all(self) -> list[ScratchRecord]:
        rows = self.store.db.query(f"SELECT * FROM {TABLE} ORDER BY created_at")
        return [ScratchRecord(**{k: v for k, v in r.items() if k in _COLUMNS}) for r in rows]

    def get(self, name: str) -> ScratchRecord | None:
        return next((r for r in self.all() if r.name == name), None)

    def job_active(self, job_id: int) -> bool:
        job = self.store.find_job(job_id)
        return job is not None and not job.status.terminal and job.status != JobStatus.INTERRUPTED
