"""``backupbot keygen``: a fresh client-side encryption key, printed once, stored nowhere."""

from __future__ import annotations

import argparse
import base64
import os

from cli.output import emit_json


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("keygen", help="print a new encryption key (base64 of 32 random bytes)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    key = base64.b64encode(os.urandom(32)).decode()
    if args.json:
        emit_json({"key": key})
    else:
        print(key)
    return 0
