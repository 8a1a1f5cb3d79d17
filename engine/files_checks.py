"""What "this file is good" means for the application's XML and certificates.

XML is parsed with defusedxml's expat parser, which refuses entity declarations (the
"billion laughs" expansion) and external references (``SYSTEM "file:///etc/passwd"``,
``http://…``) instead of resolving them: a backed-up invoice must never make the bot
read a local file or call a URL. The parser is fed block by block and keeps no tree, so a
large XML file is checked in constant memory.

Certificates (PEM, DER, PKCS#12, private keys) are loaded with ``cryptography``; a
PKCS#12 file or an encrypted key gets its password from the environment variable that
``[files] password_envs`` (first matching pattern) or ``pkcs12_password_env`` names.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from xml.etree.ElementTree import ParseError

from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_der_private_key, load_pem_private_key, pkcs12
from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import DefusedXMLParser

from core.config_types import FilesConfig
from core.i18n import _

MAX_CERT_BYTES = 1024 * 1024  # a certificate or key file larger than this is not one
_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----")


@dataclass(frozen=True)
class CertInfo:
    path: str
    subject: str
    not_after: datetime


@dataclass
class Finding:
    """The verdict on one file: ``problem`` empty means good."""

    path: str
    kind: str  # "xml", "certificate" or "other"
    problem: str = ""
    certificates: list[CertInfo] = field(default_factory=list)


def kind_of(files: FilesConfig, path: str) -> str:
    name = path.lower()
    if any(fnmatch.fnmatchcase(name, p.lower()) for p in files.xml_patterns):
        return "xml"
    if any(fnmatch.fnmatchcase(name, p.lower()) for p in files.certificate_patterns):
        return "certificate"
    return "other"


class _Discard:
    """A parser target that keeps nothing: well-formedness is checked, no tree is built."""

    def start(self, tag: str, attrib: dict[str, str]) -> None: ...

    def end(self, tag: str) -> None: ...

    def data(self, data: str) -> None: ...

    def close(self) -> None: ...


class XmlCheck:
    """Feed blocks, then ``close()``; ``problem`` says what is wrong (empty: good)."""

    def __init__(self) -> None:
        self.parser = DefusedXMLParser(target=_Discard(), forbid_dtd=False)
        self.problem = ""

    def _line(self) -> int:
        return int(self.parser.parser.CurrentLineNumber)

    def _run(self, fn: object, *args: bytes) -> None:
        if self.problem:
            return
        try:
            fn(*args)  # type: ignore[operator]
        except EntitiesForbidden as exc:
            name = f"'{exc.name}'" + (f" {exc.sysid}" if exc.sysid else "")
            self.problem = _(
                "unsafe XML: declares entity {name} at line {line} "
                "(entities are refused: external files and expansion bombs)"
            ).format(name=name, line=self._line())
        except ExternalReferenceForbidden as exc:
            self.problem = _("unsafe XML: external reference {ref} at line {line}").format(
                ref=exc.sysid or exc.pubid, line=self._line()
            )
        except DTDForbidden:
            self.problem = _("unsafe XML: DTD at line {line}").format(line=self._line())
        except DefusedXmlException as exc:
            self.problem = _("unsafe XML: {error} at line {line}").format(
                error=type(exc).__name__, line=self._line()
            )
        except ParseError as exc:
            line, column = exc.position[0], exc.position[1] + 1  # expat counts columns from 0
            reason = str(exc).split(":")[0]
            self.problem = _("malformed XML: {reason} at line {line}, column {column}").format(
                reason=reason, line=line, column=column
            )

    def feed(self, block: bytes) -> None:
        self._run(self.parser.feed, block)

    def close(self) -> str:
        self._run(self.parser.close)
        return self.problem


def password_env(files: FilesConfig, path: str) -> str:
    for pattern, env in files.password_envs.items():
        if fnmatch.fnmatchcase(path, pattern):
            return env
    return files.pkcs12_password_env


def _password(files: FilesConfig, path: str) -> tuple[bytes | None, str]:
    env = password_env(files, path)
    value = os.environ.get(env, "") if env else ""
    return (value.encode() if value else None), env


def _no_password(env: str) -> str:
    if env:
        return _("its password variable {env} is empty or unset").format(env=env)
    return _("no password is configured ([files] pkcs12_password_env or password_envs)")


def _load_pem_key(data: bytes, password: bytes | None, env: str) -> str:
    try:
        load_pem_private_key(data, password)
    except TypeError:  # encrypted and no password, or a password for a plain key
        if password is None:
            return _("private key is encrypted and {why}").format(why=_no_password(env))
        load_pem_private_key(data, None)
    except ValueError:
        if password is None:
            raise
        return _("private key does not open: wrong password (from {env}) or damaged key").format(env=env)
    return ""


def check_certificate(files: FilesConfig, path: str, data: bytes) -> Finding:
    """Load every certificate and key in ``data``; never raises for a bad file."""
    found = Finding(path, "certificate")
    password, env = _password(files, path)
    certs: list[x509.Certificate] = []
    name = path.lower()
    try:
        if name.endswith((".p12", ".pfx")):
            try:
                _key, cert, extra = pkcs12.load_key_and_certificates(data, password)
            except ValueError:
                if password:
                    found.problem = _(
                        "PKCS#12 does not open: wrong password or damaged file (password from {env})"
                    ).format(env=env)
                else:
                    found.problem = _("PKCS#12 does not open: {why}").format(why=_no_password(env))
                return found
            certs = [c for c in (cert, *extra) if c is not None]
        elif b"-----BEGIN" in data:
            blocks = [b.decode() for b in _PEM_BLOCK.findall(data)]
            if any(b.endswith("CERTIFICATE") and b != "CERTIFICATE REQUEST" for b in blocks):
                certs = x509.load_pem_x509_certificates(data)
            if any(b.endswith("PRIVATE KEY") for b in blocks):
                problem = _load_pem_key(data, password, env)
                if problem:
                    found.problem = problem
                    return found
            if not certs and not any(b.endswith("PRIVATE KEY") for b in blocks):
                found.problem = _("PEM holds no certificate or private key (blocks: {blocks})").format(
                    blocks=", ".join(blocks) or _("none")
                )
                return found
        else:
            try:
                certs = [x509.load_der_x509_certificate(data)]
            except ValueError:
                load_der_private_key(data, password)
    except (ValueError, TypeError) as exc:
        found.problem = _("does not load as a certificate or key: {error}").format(
            error=str(exc).splitlines()[0][:160]
        )
        return found
    found.certificates = [
        CertInfo(path, c.subject.rfc4514_string() or _("(empty subject)"), c.not_valid_after_utc)
        for c in certs
    ]
    return found
