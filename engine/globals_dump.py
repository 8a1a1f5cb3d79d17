"""Roles and memberships beside a backup (``globals = true``): what a new server needs first.

A database dump refers to roles (owners, grants) but does not contain them; restoring onto
a fresh server then fails on every ``OWNER TO`` and ``GRANT``. ``pg_dumpall --globals-only
--no-role-passwords`` writes the roles, their attributes and memberships (never passwords)
as SQL; it is stored encrypted next to the backup and named in its manifest. Reading them
needs only what any role may read (``pg_roles``); if the dump role cannot, the backup is
still stored and its manifest says why the roles are missing, so the card can say so.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from adapters.crypto import Decryptor, Encryptor, KeyRing, load_keyring
from adapters.storage import Storage
from core.config import Config
from core.i18n import _
from core.redact import redact
from engine.manifest import Manifest

SUFFIX = ".globals.sql.enc"


def key_for(object_key: str) -> str:
    return object_key.removesuffix(".dump.zst.enc") + SUFFIX


def read_globals(url: str, pg_dump_path: str) -> tuple[bytes | None, str]:
    """(SQL, "") or (None, why not): pg_dumpall of the same version as the pg_dump in use."""
    params = conninfo_to_dict(url)
    password = str(params.pop("password", "") or "")
    env = dict(os.environ)
    if password:
        env["PGPASSWORD"] = password
    tool = str(Path(pg_dump_path).with_name("pg_dumpall"))
    argv = [tool, "--globals-only", "--no-role-passwords", f"--dbname={make_conninfo(**params)}"]  # type: ignore[arg-type]
    try:
        proc = subprocess.run(argv, capture_output=True, env=env, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, _("pg_dumpall could not run ({error})").format(error=type(exc).__name__)
    if proc.returncode != 0:
        err = redact(proc.stderr.decode("utf-8", "replace").strip(), [password])
        return None, _("pg_dumpall --globals-only failed: {error}").format(error=err[-300:])
    return proc.stdout, ""


def store(storage: Storage, ring: KeyRing, object_key: str, sql: bytes) -> str:
    enc = Encryptor(ring)
    data = b"".join([*enc.update(sql), *enc.finalize()])
    key = key_for(object_key)
    storage.put_bytes(key, data, "application/octet-stream")
    return key


def load(cfg: Config, manifest: Manifest, storage: Storage) -> bytes:
    """The stored roles SQL of ``manifest``, authenticated chunk by chunk."""
    ring = load_keyring(cfg.encryption, require_current=False)
    dec = Decryptor(ring, _("roles of backup {id}").format(id=manifest.id))
    raw = storage.get_bytes(manifest.globals_key)
    return b"".join([*dec.update(raw), *dec.finalize()])
