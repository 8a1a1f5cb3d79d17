"""Prove the backed-up application files are good: decrypt each copy and check what it holds.

Why the copies and not the source: the point is that a restore would give back a working
certificate and a parseable invoice, so every file is read from the backup bucket through
the same checked decryption a restore uses (``iter_file_plain``: chunk authentication,
stored and plain sha256 against the manifest), then XML is parsed safely and certificates
are loaded (``files_checks``). Certificates that expired, or expire within
``expiry_warning_days``, are listed but are not "bad": an app may keep old certificates on
purpose (to check old signatures); a file that does not decrypt, match, parse or load is.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from adapters.crypto import KeyRing, load_keyring
from adapters.storage import Storage, open_storage
from core.config import Config
from core.errors import BackupbotError, IntegrityError, NotFoundError
from core.i18n import _
from engine.files_checks import MAX_CERT_BYTES, CertInfo, Finding, XmlCheck, check_certificate, kind_of
from engine.files_manifest import FileEntry
from engine.files_restore import iter_file_plain, run_for
from engine.files_sync import files_config


@dataclass
class VerifyReport:
    run_id: str
    run_at: datetime
    checked: int = 0
    ok: dict[str, int] = field(default_factory=lambda: {"xml": 0, "certificate": 0, "other": 0})
    bad: list[Finding] = field(default_factory=list)
    expired: list[CertInfo] = field(default_factory=list)
    expiring: list[CertInfo] = field(default_factory=list)
    warning_days: int = 30
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "run_at": self.run_at.isoformat(),
            "checked": self.checked,
            "ok": self.ok,
            "bad": [{"path": f.path, "kind": f.kind, "problem": f.problem} for f in self.bad],
            "expired": [_cert(c) for c in self.expired],
            "expiring": [_cert(c) for c in self.expiring],
            "warning_days": self.warning_days,
            "seconds": self.seconds,
        }


def _cert(c: CertInfo) -> dict[str, str]:
    return {"path": c.path, "subject": c.subject, "not_after": c.not_after.isoformat()}


def check_entry(cfg: Config, storage: Storage, ring: KeyRing, entry: FileEntry) -> Finding:
    """Decrypt one copy and judge it; whatever is wrong with the file becomes the finding's problem.

    A storage failure (the backup bucket unreachable) is not the file's fault: it propagates
    and fails the check as a whole, so on-call read "bucket unreachable", not N bad files.
    """
    files = files_config(cfg)
    kind = kind_of(files, entry.path)
    finding = Finding(entry.path, kind)
    xml = XmlCheck() if kind == "xml" else None
    held = bytearray()
    too_big = False
    try:
        for block in iter_file_plain(storage, ring, entry):
            if xml is not None:
                xml.feed(block)
            elif kind == "certificate" and not too_big:
                held += block
                if len(held) > MAX_CERT_BYTES:
                    too_big, held = True, bytearray()
    except NotFoundError:
        finding.problem = _("backup copy is missing: {key} is not in the backup bucket").format(
            key=entry.stored_key
        )
        return finding
    except IntegrityError as err:
        finding.problem = _("backup copy is damaged: {problem}").format(
            problem=err.message.split(": ", 1)[-1]
        )
        return finding
    if xml is not None:
        finding.problem = xml.close()
    elif too_big:
        finding.problem = _("{size} bytes is too large for a certificate or key file; not loaded").format(
            size=entry.size
        )
    elif kind == "certificate":
        return check_certificate(files, entry.path, bytes(held))
    return finding


def verify_files(
    cfg: Config,
    at: datetime | None = None,
    *,
    now: datetime | None = None,
    on_progress: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
) -> VerifyReport:
    """Check every file of the newest files backup (or the one in force at ``at``)."""
    files = files_config(cfg)
    started = time.monotonic()
    now = (now or datetime.now(UTC)).astimezone(UTC)
    storage = open_storage(cfg.storage)
    ring = load_keyring(cfg.encryption, require_current=False)
    run = run_for(storage, at)
    report = VerifyReport(run.id, run.created_at, warning_days=files.expiry_warning_days)
    soon = now + timedelta(days=files.expiry_warning_days)
    for n, entry in enumerate(run.files, 1):
        if cancel is not None and cancel.is_set():
            raise BackupbotError(_("the files check was cancelled"), hint=_("Run it again when ready."))
        if on_progress is not None:
            on_progress(
                _("checking {n} of {total}: {path}").format(n=n, total=len(run.files), path=entry.path)
            )
        finding = check_entry(cfg, storage, ring, entry)
        report.checked += 1
        if finding.problem:
            report.bad.append(finding)
            continue
        report.ok[finding.kind] += 1
        for cert in finding.certificates:
            if cert.not_after <= now:
                report.expired.append(cert)
            elif cert.not_after <= soon:
                report.expiring.append(cert)
    report.expired.sort(key=lambda c: c.not_after)
    report.expiring.sort(key=lambda c: c.not_after)
    report.seconds = round(time.monotonic() - started, 3)
    return report
