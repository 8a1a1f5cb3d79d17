"""``python -m bot``: the Slack app and the runner in one process, or the local console.

- SLACK_BOT_TOKEN and SLACK_APP_TOKEN set: Socket Mode (no public URL needed).
- SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET set: HTTP on $PORT at /slack/events.
- No Slack token: the console on stdin/stdout.
SIGTERM (a redeploy) stops taking requests, lets running jobs finish for up to
BACKUPBOT_GRACE_SECONDS, then marks what is left interrupted.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import signal
import sys
import threading
from typing import Any

from bot.console import ConsoleReporter, run_console
from bot.services import Services
from commands.permissions import GroupDirectory
from core.config import Config, load_config, state_dir_origin
from core.errors import BackupbotError, ConfigError
from core.i18n import _
from core.logs import configure as configure_logs
from jobs.approvals import start_expiry_sweeper
from jobs.runner import Runner
from jobs.scheduler import start_scheduler
from jobs.store import Store

log = logging.getLogger("backupbot")


def _slack(cfg: Config, store: Store) -> int:
    from bot.app import build_app
    from bot.reporting import SlackReporter
    from bot.slack_client import check_app_token, make_client

    token = os.environ["SLACK_BOT_TOKEN"]
    app_token = check_app_token(os.environ.get("SLACK_APP_TOKEN", ""))
    secret = os.environ.get("SLACK_SIGNING_SECRET")
    if not app_token and not secret:
        raise ConfigError(
            _("SLACK_SIGNING_SECRET is not set"),
            detail=_(
                "SLACK_BOT_TOKEN is set, so the bot serves Slack over HTTP, which needs the signing secret."
            ),
            hint=_(
                "Export SLACK_SIGNING_SECRET (Basic Information → App Credentials), or SLACK_APP_TOKEN for Socket Mode."
            ),
        )
    client = make_client(token)
    reporter = SlackReporter(cfg, store, client)
    directory = GroupDirectory(lambda group: client.usergroups_users_list(usergroup=group)["users"])
    runner = None if os.environ.get("BACKUPBOT_RUNNER") == "off" else Runner(cfg, store, reporter).start()
    start_expiry_sweeper(store, cfg, reporter)
    scheduler = start_scheduler(cfg, store, reporter)
    services = Services(cfg=cfg, store=store, reporter=reporter, directory=directory, runner=runner)
    app = build_app(services, client, None if app_token else secret)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_args: stop.set())
    if app_token:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        handler = SocketModeHandler(app, app_token)
        handler.connect()
        log.info("connected to Slack in Socket Mode")
        closer = handler.close
    else:
        from bot.guard import RequestGuard
        from bot.http import make_server

        host = os.environ.get("HOST", "0.0.0.0")  # noqa: S104 - a PaaS routes to the container's interface
        guard = RequestGuard(secret or "", store.path.parent, store)
        server = make_server(
            app,
            host,
            int(os.environ.get("PORT", "3000")),
            *_observability(cfg, store, runner, scheduler),
            guard=guard,
        )
        threading.Thread(target=server.run, name="http", daemon=True).start()
        log.info("listening on http://%s:%s/slack/events", host, server.effective_port)
        closer = server.close
    stop.wait()
    log.info("shutting down")
    closer()
    if runner is not None:
        runner.stop(timeout=float(os.environ.get("BACKUPBOT_GRACE_SECONDS", "20")))
    reporter.outbox.close(timeout=10)
    return 0


def _observability(cfg: Config, store: Store, runner: Runner | None, scheduler: Any) -> tuple[Any, Any]:
    """/healthz and /metrics for the web process."""
    from bot.metrics import health, health_body, metrics_registry, render_metrics

    threads = {
        "runner": lambda: None if runner is None else runner.alive(),
        "scheduler": lambda: None if scheduler is None else scheduler.alive(),
    }

    def check() -> tuple[bool, bytes]:
        ok, report = health(store, threads)
        return ok, health_body(report)

    registry = metrics_registry(cfg, store)
    return check, lambda: render_metrics(registry)


def _console(cfg: Config, store: Store, user: str) -> int:
    from jobs.people import names

    reporter = ConsoleReporter(sys.stdout, cfg.runner.progress_interval_seconds, lambda: names(store))
    runner = Runner(cfg, store, reporter).start()
    start_expiry_sweeper(store, cfg, reporter)
    services = Services(
        cfg=cfg, store=store, reporter=reporter, directory=GroupDirectory(None), runner=runner
    )
    try:
        return run_console(services, user, sys.stdin, sys.stdout, interactive=sys.stdin.isatty())
    except KeyboardInterrupt:
        print("\n" + _("Leaving; running jobs are interrupted."))
        return 130
    finally:
        runner.stop(timeout=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--config", help="path to backupbot.toml (default: $BACKUPBOT_CONFIG or ./backupbot.toml)"
    )
    parser.add_argument(
        "--as", dest="user", help="console: who is typing (a Slack user id to try allowlists)"
    )
    parser.add_argument("--console", action="store_true", help="the console even when Slack tokens are set")
    args = parser.parse_args(argv)
    configure_logs(os.environ.get("LOG_LEVEL", "INFO"))
    try:
        cfg = load_config(args.config)
        store = Store.for_config(cfg)
        if os.environ.get("SLACK_BOT_TOKEN") and not args.console:
            log.info("state (jobs, approvals) in %s (%s)", cfg.state_dir, state_dir_origin(cfg))
            return _slack(cfg, store)
        logging.getLogger().setLevel(os.environ.get("LOG_LEVEL", "WARNING"))
        return _console(cfg, store, args.user or os.environ.get("BACKUPBOT_USER") or getpass.getuser())
    except BackupbotError as err:
        print(err.render(), file=sys.stderr)
        return err.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
