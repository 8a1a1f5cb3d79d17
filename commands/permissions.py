"""Who may run commands, and who belongs to a Slack user group.

The allowlist is channels AND (users OR a user group): empty lists mean "anyone".
Group membership comes from Slack's ``usergroups.users.list``, cached for a few
minutes so a burst of commands costs one API call, and when the call fails (a plan
without user groups, Slack down, a missing scope) the plain user-id list still
decides, so the bot fails closed for strangers but keeps working for listed people.
The restore approvals use the same ``GroupDirectory`` for their leads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

from core.config import SlackConfig
from core.errors import BackupbotError
from core.i18n import _
from core.redact import redact
from core.slack_text import channel as slack_channel
from core.slack_text import group as slack_group

log = logging.getLogger(__name__)

DEFAULT_TTL = 300.0


class NotAllowed(BackupbotError):
    """The person or channel is not on the allowlist; nothing was done.

    Its text is built from configured ids only, as Slack markup (``slack_safe``).
    """

    slack_safe = True


class GroupDirectory:
    """Members of Slack user groups, looked up through ``fetch`` and cached for ``ttl`` seconds."""

    def __init__(
        self,
        fetch: Callable[[str], Iterable[str]] | None,
        ttl: float = DEFAULT_TTL,
        failure_ttl: float = 30.0,
    ) -> None:
        self.fetch = fetch
        self.ttl = ttl
        self.failure_ttl = failure_ttl
        self._cache: dict[str, tuple[float, frozenset[str] | None]] = {}
        self._lock = threading.Lock()

    def members(self, group_id: str) -> frozenset[str] | None:
        """The group's user ids, or None when they cannot be known (no API, lookup failed)."""
        if not group_id or self.fetch is None:
            return None
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(group_id)
            if cached and cached[0] > now:
                return cached[1]
        try:
            users: frozenset[str] | None = frozenset(self.fetch(group_id))
            expires = now + self.ttl
        except Exception as exc:  # any failure falls back to the user list
            log.warning("cannot list members of user group %s: %s", group_id, redact(str(exc)))
            # keep serving the last good answer if there is one
            users = cached[1] if cached else None
            expires = now + self.failure_ttl
        with self._lock:
            self._cache[group_id] = (expires, users)
        return users

    def is_member(self, user: str, users: Iterable[str], group_id: str) -> bool:
        if user in set(users):
            return True
        members = self.members(group_id)
        return bool(members and user in members)


def check_allowed(slack: SlackConfig, user: str, channel: str, directory: GroupDirectory | None) -> None:
    """Raise ``NotAllowed`` unless the channel and the user are on the allowlist."""
    if slack.allowed_channels and channel not in slack.allowed_channels:
        raise NotAllowed(
            _("backupbot does not take commands in this channel"),
            detail=_("Allowed channels: {channels}.").format(
                channels=", ".join(slack_channel(c) for c in slack.allowed_channels)
            ),
            hint=_("Run the command in one of those channels."),
        )
    if not slack.allowed_users and not slack.allowed_group:
        return
    directory = directory or GroupDirectory(None)
    if directory.is_member(user, slack.allowed_users, slack.allowed_group):
        return
    detail = (
        _("Commands are limited to the user group {group}.").format(group=slack_group(slack.allowed_group))
        if slack.allowed_group
        else _("Commands are limited to the allowed users.")
    )
    raise NotAllowed(
        _("you are not allowed to run backupbot commands"),
        detail=detail,
        hint=_(
            "Ask a team lead to add your Slack user id to [slack] allowed_users, or add you to the group."
        ),
    )
