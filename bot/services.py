"""What the listeners and the console share: config, store, reporter, runner, group lookups.

Built once in ``bot/__main__.py`` (or a test) and handed to Bolt listeners through the
request context, so listeners stay plain functions and tests can build the whole bot
around a temp folder.
"""

from __future__ import annotations

from dataclasses import dataclass

from commands.base import Invocation
from commands.permissions import GroupDirectory
from core.config import Config
from jobs.events import Reporter
from jobs.runner import Runner
from jobs.store import Store


@dataclass
class Services:
    cfg: Config
    store: Store
    reporter: Reporter
    directory: GroupDirectory
    runner: Runner | None = None

    def wake(self) -> None:
        if self.runner is not None:
            self.runner.wake()
        else:
            self.store.job_queued.set()

    def invocation(self, user: str, channel: str) -> Invocation:
        return Invocation(
            user=user,
            channel=channel,
            cfg=self.cfg,
            store=self.store,
            reporter=self.reporter,
            wake=self.wake,
            directory=self.directory,
        )
