"""Keep secrets out of messages, logs and exception text.

Database URLs carry passwords and tools like pg_dump echo their connection string
in errors. Anything that came from a subprocess or a URL passes through here before
it is shown to anyone.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from core.i18n import _

_WHITESPACE = re.compile(r"\s")
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
_KV_PASSWORD = re.compile(r"(?i)\b(password|passwd|pwd|token|secret|sslpassword)\s*=\s*('[^']*'|\S+)")
_SLACK_TOKEN = re.compile(r"\bxox[abposr]-[A-Za-z0-9-]+|\bxapp-[A-Za-z0-9-]+")


def redact_url(url: str) -> str:
    """The URL with its password replaced, for showing which server was meant."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    host = netloc[-1]
    user = parts.username or ""
    return urlunsplit((parts.scheme, f"{user}:***@{host}", parts.path, parts.query, parts.fragment))


_KV_PAIR = re.compile(r"(\w+)\s*=\s*('[^']*'|\S+)")


def _describe_keywords(conninfo: str) -> str:
    """user@host:port/dbname of a ``key=value`` string; anything else may be a mangled password."""
    pairs = {k.lower(): v.strip("'") for k, v in _KV_PAIR.findall(conninfo)}
    if not pairs:
        return _("<not a postgresql:// URL>")
    user = f"{pairs['user']}@" if pairs.get("user") else ""
    port = f":{pairs['port']}" if pairs.get("port") else ""
    return f"{user}{pairs.get('host', 'localhost')}{port}/{pairs.get('dbname', '')}"


def describe_url(url: str) -> str:
    """user@host:port/dbname — enough to know which database, nothing secret."""
    try:
        parts = urlsplit(url)
        if "://" not in url:
            # A typo such as "postgres//u:pw@h/db" parses as a bare path holding the password.
            return _describe_keywords(url)
        host = parts.hostname or "localhost"
        port = f":{parts.port}" if parts.port else ""
        user = f"{parts.username}@" if parts.username else ""
        return f"{user}{host}{port}{parts.path}"
    except ValueError:
        return _("<unparseable url>")


def _redact_url_passwords(text: str) -> str:
    """``scheme://user:***@host`` for every URL with a password, in one pass over the text.

    The password runs to the last ``@`` before the next whitespace, so one with ``@``,
    ``:`` or ``/`` typed raw is hidden whole (at worst a bit of the host goes with it).
    A regular expression for this backtracks on long input (quadratic time on a long
    line of ``a://``), which let one long command text stall the web process.
    """
    if "://" not in text:
        return text
    out: list[str] = []
    pos = 0
    i = text.find("://")
    while i >= 0:
        start = i + 3
        space = _WHITESPACE.search(text, start)
        end = space.start() if space else len(text)
        at = text.rfind("@", start, end)
        if i > 0 and text[i - 1] in _SCHEME_CHARS and at > start:
            colon = text.find(":", start, at)
            if colon >= 0 and text.find("/", start, colon) < 0:
                out.append(text[pos : colon + 1])
                out.append("***@")
                pos = at + 1
        i = text.find("://", end)
    out.append(text[pos:])
    return "".join(out)


def redact(text: str, secrets: list[str] | tuple[str, ...] = ()) -> str:
    """Text with URL passwords, key=value passwords, Slack tokens and the given secrets masked."""
    text = _redact_url_passwords(text)
    text = _KV_PASSWORD.sub(lambda m: f"{m.group(1)}=***", text)
    text = _SLACK_TOKEN.sub("xox?-***", text)
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text
