"""``python -m jobs``: a runner (and the scheduler, unless BACKUPBOT_SCHEDULER=off) on its own.

It shares the state with the bot — the SQLite file (WAL mode) on one machine, or the
PostgreSQL state (BACKUPBOT_STATE_URL) across machines — so the bot enqueues and this
process runs. Reports go to the log; with ``--reporter module:factory`` (default: the
Slack reporter when SLACK_BOT_TOKEN is set) they go wherever that factory says.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
import threading

from core.config import load_config, state_dir_origin
from core.errors import BackupbotError
from core.logs import configure as configure_logs
from jobs.events import LogReporter, Reporter
from jobs.runner import Runner
from jobs.scheduler import start_scheduler
from jobs.store import Store

SLACK_REPORTER = "bot.reporting:reporter_from_env"


def _reporter(spec: str, cfg: object) -> Reporter:
    if spec == "auto":
        spec = SLACK_REPORTER if os.environ.get("SLACK_BOT_TOKEN") else "log"
    if spec == "log":
        return LogReporter()
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)(cfg)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs", description="Run queued backupbot jobs.")
    parser.add_argument("--config", help="path to backupbot.toml")
    parser.add_argument("--reporter", default="auto", help="'log', 'auto' or module:factory(cfg)")
    args = parser.parse_args(argv)
    configure_logs()
    try:
        cfg = load_config(args.config)
        store = Store.for_config(cfg)
        logging.getLogger("backupbot").info(
            "state (jobs, approvals) in %s (%s)", cfg.state_dir, state_dir_origin(cfg)
        )
        reporter = _reporter(args.reporter, cfg)
        runner = Runner(cfg, store, reporter).start()
        scheduler = start_scheduler(cfg, store, reporter)  # slots are claimed: safe beside the bot
    except BackupbotError as err:
        print(err.render(), file=sys.stderr)
        return err.exit_code
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    if scheduler:
        scheduler.stop()
    runner.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
