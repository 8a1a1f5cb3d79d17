"""The doctor's S3 checks: a probe object written with the configured SSE, read back and
deleted; which SSE the endpoint accepts; Object Lock on the bucket when retention asks for it.

The probe is written without an Object Lock retention (it must be deletable) and under
``doctor/`` beside the backups, so a bucket policy scoped to the prefix is what is tested.
"""

from __future__ import annotations

import os
import uuid
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from adapters.storage.s3_actions import denied
from adapters.storage.s3_errors import error_code, http_status
from core.config import Config
from core.i18n import N_, _
from core.redact import redact

if TYPE_CHECKING:
    from engine.doctor import Report


def label(template: str, **values: Any) -> Any:
    from engine.doctor import label as make

    return make(template, **values)


AREA = N_("storage")


def _why(exc: BaseException, bucket: str = "", key: str = "") -> str:
    """The refusal as a policy author needs it: ``s3:PutObject denied on arn:…`` for a 403."""
    if isinstance(exc, ClientError):
        why = f"{error_code(exc) or 'error'} (HTTP {http_status(exc) or '?'})"
        named = denied(exc, bucket, key) if http_status(exc) == 403 else ""
        return f"{named}: {why}" if named else why
    return redact(f"{type(exc).__name__}: {exc}")


def _grant(exc: BaseException, bucket: str, key: str, otherwise: str) -> str:
    named = denied(exc, bucket, key) if isinstance(exc, ClientError) and http_status(exc) == 403 else ""
    if not named:
        return otherwise
    action, _sep, arn = named.partition(" denied on ")
    return _("Grant {action} on {arn} to this credential (docs/iam/bot.json is the bot's policy).").format(
        action=action, arn=arn
    )


def _sse_args(sse: str, kms_key_id: str | None) -> dict[str, str]:
    if sse == "none":
        return {}
    args = {"ServerSideEncryption": sse}
    if sse == "aws:kms" and kms_key_id:
        args["SSEKMSKeyId"] = kms_key_id
    return args


def accepted_sse(client: Any, bucket: str, prefix: str) -> list[str]:
    """Which of AES256 / none the endpoint takes on a write (each tried on its own probe).

    Some stores (s3rver, some gateways) take the AES256 header and store the object plain:
    that one is listed as "'AES256' (taken, not applied)", so nobody relies on it.
    """
    took = []
    for sse in ("AES256", "none"):
        key = f"{prefix}doctor/sse-{uuid.uuid4().hex}"
        try:
            client.put_object(Bucket=bucket, Key=key, Body=b"sse probe", **_sse_args(sse, None))
        except (ClientError, BotoCoreError):
            continue
        shown = repr(sse)
        if sse != "none":
            try:
                if not client.head_object(Bucket=bucket, Key=key).get("ServerSideEncryption"):
                    shown += " " + _("(taken, not applied)")
            except (ClientError, BotoCoreError):
                pass
        took.append(shown)
        try:
            client.delete_object(Bucket=bucket, Key=key)
        except (ClientError, BotoCoreError):
            pass
    return took


def check_s3(cfg: Config, storage: Any, report: Report) -> None:
    client, bucket = storage.client, storage.bucket
    key = f"{storage.prefix}doctor/probe-{uuid.uuid4().hex}"
    data = os.urandom(64)
    sse = cfg.storage.sse
    try:
        client.put_object(Bucket=bucket, Key=key, Body=data, **_sse_args(sse, cfg.storage.kms_key_id))
    except (ClientError, BotoCoreError) as exc:
        took = accepted_sse(client, bucket, storage.prefix)
        usable = [s for s in ("AES256", "none") if repr(s) in took]
        if usable and sse not in usable:
            report.add(
                AREA,
                label(N_("write with sse = {sse}"), sse=repr(sse)),
                "fail",
                _("the endpoint refused it: {why}; it accepts: {sses}").format(
                    why=_why(exc), sses=", ".join(took)
                ),
                _(
                    "Set [storage] sse = {sse} (backups stay encrypted client-side with AES-256-GCM either way)."
                ).format(sse=repr(usable[0])),
            )
        else:
            report.add(
                AREA,
                N_("write a probe object"),
                "fail",
                _why(exc, bucket, key),
                _grant(
                    exc,
                    bucket,
                    key,
                    _(
                        "Grant s3:PutObject on the bucket's prefix to this credential (check the bucket policy too)."
                    ),
                ),
            )
        return
    report.add(AREA, N_("write a probe object"), "ok", key)
    try:
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        same = body == data
        report.add(
            AREA,
            N_("read it back"),
            "ok" if same else "fail",
            _("same bytes") if same else _("the object read back differs from what was written"),
            "" if same else _("Check for a proxy or an endpoint that rewrites objects."),
        )
        head = client.head_object(Bucket=bucket, Key=key)
        applied = head.get("ServerSideEncryption") or "none"
        took = accepted_sse(client, bucket, storage.prefix)
        if len(took) > 1:
            offered = _("the endpoint accepts {first} and {second}").format(
                first=took[0], second=", ".join(took[1:])
            )
        elif took:
            offered = _("the endpoint accepts {sse}").format(sse=took[0])
        else:
            offered = _("the endpoint accepts neither AES256 nor none")
        if sse == "none":
            report.add(
                AREA,
                N_("server-side encryption"),
                "ok",
                _('sse = "none" (client-side AES-256-GCM only); {offered}').format(offered=offered),
            )
        elif applied == sse:
            report.add(
                AREA,
                N_("server-side encryption"),
                "ok",
                _("objects are stored with {sse}; {offered}").format(sse=applied, offered=offered),
            )
        else:
            report.add(
                AREA,
                N_("server-side encryption"),
                "warn",
                _("asked for {asked}, the object says {applied}; {offered}").format(
                    asked=sse, applied=applied, offered=offered
                ),
                _(
                    "Check the bucket's default encryption and that the endpoint supports SSE; where it has none, "
                    'set [storage] sse = "none" (backups stay encrypted client-side with AES-256-GCM).'
                ),
            )
    except (ClientError, BotoCoreError) as exc:
        report.add(
            AREA,
            N_("read it back"),
            "fail",
            _why(exc, bucket, key),
            _grant(exc, bucket, key, _("Grant s3:GetObject on the bucket's prefix.")),
        )
    try:
        client.delete_object(Bucket=bucket, Key=key)
        report.add(AREA, N_("delete it"), "ok", _("probe deleted"))
    except (ClientError, BotoCoreError) as exc:
        report.add(
            AREA,
            N_("delete it"),
            "fail",
            _why(exc, bucket, key),
            _grant(exc, bucket, key, _("Grant s3:DeleteObject on the prefix."))
            + " "
            + _("Retention (prune) needs it; delete the probe {key} by hand.").format(key=key),
        )
    if not cfg.storage.object_lock_mode:
        report.add(AREA, N_("Object Lock"), "skip", _("not configured ([storage] object_lock_mode)"))
        return
    try:
        conf = client.get_object_lock_configuration(Bucket=bucket).get("ObjectLockConfiguration", {})
        enabled = conf.get("ObjectLockEnabled") == "Enabled"
    except (ClientError, BotoCoreError) as exc:
        enabled, conf = False, {"error": _why(exc, bucket)}
    if enabled:
        report.add(
            AREA,
            N_("Object Lock"),
            "ok",
            _("enabled on the bucket; backups get {mode} for {days} days").format(
                mode=cfg.storage.object_lock_mode, days=cfg.storage.object_lock_days
            ),
        )
    else:
        report.add(
            AREA,
            N_("Object Lock"),
            "fail",
            _("object_lock_mode = {mode} but the bucket has no Object Lock").format(
                mode=repr(cfg.storage.object_lock_mode)
            )
            + (f" ({conf['error']})" if "error" in conf else ""),
            _(
                "Object Lock can only be turned on when a bucket is created: create one with it and move the "
                'backups, or set object_lock_mode = "".'
            ),
        )
