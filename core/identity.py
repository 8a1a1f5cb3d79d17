"""Who asked for something, written the same way on every surface.

One form per surface, so ``list``, the audit trail and the runbook can be read and filtered
without knowing which code path wrote them:

- Slack: the Slack user id (``U0123ABCD``), as Slack sends it; messages show it as a mention.
- the command line: ``cli:NAME@HOST`` — NAME is the CI actor (``GITHUB_ACTOR``,
  ``GITLAB_USER_LOGIN``) or the login name, HOST the machine it ran on.
- a break-glass restore from the command line: ``break-glass:NAME@HOST``.
- the scheduler: ``scheduler`` (nightly dumps and retention).
"""

from __future__ import annotations

import getpass
import os
import socket


def cli_user() -> str:
    user = os.environ.get("GITHUB_ACTOR") or os.environ.get("GITLAB_USER_LOGIN") or os.environ.get("USER")
    if user:
        return user
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def cli_identity() -> str:
    return f"cli:{cli_user()}@{socket.gethostname()}"


def break_glass_identity() -> str:
    return f"break-glass:{cli_user()}@{socket.gethostname()}"
