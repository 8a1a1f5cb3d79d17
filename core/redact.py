"""Keep secrets out of messages, logs and exception text.

Database URLs carry passwords and tools like pg_dump echo their connection string
in errors. Anything that came from a subprocess or a URL passes through here before
it is shown to anyone.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

_URL_PASSWORD = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@\s]*)@")
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
        return "<not a postgresql:// URL>"
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
        return "<unparseable url>"


def redact(text: str, secrets: list[str] | tuple[str, ...] = ()) -> str:
    """Text with URL passwords, key=value passwords, Slack tokens and the given secrets masked."""
    text = _URL_PASSWORD.sub(lambda m: f"{m.group('scheme')}{m.group('user')}:***@", text)
    text = _KV_PASSWORD.sub(lambda m: f"{m.group(1)}=***", text)
    text = _SLACK_TOKEN.sub("xox?-***", text)
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text
