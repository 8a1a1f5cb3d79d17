"""A connection URL whose password would be misread is refused before anything connects.

Why: libpq splits ``postgresql://user:p@ss@host/db`` at the first ``@`` and then reports a
failure to reach host ``ss@host`` — part of the password, in an error that reaches logs and
Slack. A password with ``/``, ``?`` or ``#`` is cut the same way. Such a URL can never
connect, so refusing it up front, with a message that shows none of it, loses nothing.
"""

from __future__ import annotations

import re

from core.errors import ConfigError
from core.i18n import _

_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# How to percent-encode a password without it reaching the shell history (syntax: never translated).
_ENCODE_COMMAND = (
    "python3 -c 'import urllib.parse,getpass; print(urllib.parse.quote(getpass.getpass(), safe=\"\"))'"
)


def misread_reason(url: str) -> str | None:
    """Why libpq would read this URL differently from what was meant; None if it would not."""
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme.lower().startswith("postgres"):
        return None
    end = next((i for i, c in enumerate(rest) if c in "/?#"), len(rest))
    authority, after = rest[:end], rest[end:]
    if authority.count("@") > 1:
        return _("Its user or password contains an unencoded '@'")
    path = re.split(r"[?#]", after, maxsplit=1)[0]
    if ("@" not in authority and "@" in after) or "@" in path:
        return _("Its user or password contains an unencoded '/', '?', '#' or '@'")
    userinfo = authority.rpartition("@")[0]
    if _BAD_PERCENT.search(userinfo):
        return _("Its user or password contains a '%' that is not a %XX escape")
    return None


def check_connection_url(url: str, env_name: str, database: str) -> None:
    reason = misread_reason(url)
    if reason:
        raise ConfigError(
            _("the connection URL in {env} (database '{db}') cannot be used as written").format(
                env=env_name, db=database
            ),
            detail=_(
                "{reason}: PostgreSQL would take part of the password for the host name. "
                "The URL is not shown because it holds the password."
            ).format(reason=reason),
            hint=_(
                "Percent-encode those characters in the password: @ → %40, / → %2F, ? → %3F, # → %23, "
                "% → %25 (':' may stay), e.g. `{command}`."
            ).format(command=_ENCODE_COMMAND),
        )


def is_env_name(value: str) -> bool:
    return bool(_ENV_NAME.match(value))
