"""``backupbot keygen`` and ``backupbot key-id``: a new key with its id, and the ids of the keys loaded.

Why the id matters: a backup's manifest names the id of the key it needs ("encrypted with key
id 3f2a…, which is not loaded"); the id is a one-way fingerprint, safe to print and to store
beside the key in a password manager, so the right key can be found again.
The key goes to stdout alone (``export BACKUPBOT_KEY=$(backupbot keygen)`` keeps working);
its id goes to stderr, next to it on a terminal.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys

from adapters.crypto import key_id, load_keyring
from cli.dump import add_json_flag
from cli.output import emit_json
from core.config import load_config
from core.i18n import _


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "keygen", help=_("print a new encryption key (base64 of 32 random bytes) and its key id")
    )
    add_json_flag(p)
    p.set_defaults(func=run)
    q = sub.add_parser("key-id", help=_("print the key id of each encryption key set in the environment"))
    add_json_flag(q)
    q.set_defaults(func=run_key_id)


def run(args: argparse.Namespace) -> int:
    raw = os.urandom(32)
    key = base64.b64encode(raw).decode()
    if args.json:
        emit_json({"key": key, "key_id": key_id(raw)})
    else:
        print(key)
        print(
            _("key id: {key_id}  (store it with the key; backups name the id of the key they need)").format(
                key_id=key_id(raw)
            ),
            file=sys.stderr,
        )
    return 0


def run_key_id(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    ring = load_keyring(cfg.encryption, require_current=False)
    rows = [
        {"env": env, "key_id": kid, "current": kid == ring.current_id}
        for kid, env in sorted(ring.sources.items(), key=lambda item: item[0] != ring.current_id)
    ]
    if args.json:
        emit_json(rows)
        return 0
    for row in rows:
        role = _("current: encrypts new backups") if row["current"] else _("old: decrypts older backups")
        # The key id and the variable stay the first two words for a script; the role is for people.
        print(f"{row['key_id']}  {row['env']}  ({role})")
    return 0
