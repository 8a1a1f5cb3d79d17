"""The certificate and key checks on their own: every way a file can fail to load is a finding, never a crash."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from core.config_types import FilesConfig
from engine.files_checks import XmlCheck, check_certificate, kind_of
from tests.support import certs


def key_pem(password: bytes | None) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    enc = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)


@pytest.fixture
def files(monkeypatch: pytest.MonkeyPatch) -> FilesConfig:
    monkeypatch.setenv("KEYS_PASSWORD", "s3cret")
    monkeypatch.delenv("UNSET_PASSWORD", raising=False)
    return FilesConfig(
        source_url="s3://app",
        pkcs12_password_env="KEYS_PASSWORD",
        password_envs={"certs/other/*": "UNSET_PASSWORD"},
    )


def test_keys_and_passwords(files: FilesConfig) -> None:
    assert check_certificate(files, "certs/k.key", key_pem(b"s3cret")).problem == ""
    assert (
        check_certificate(files, "certs/plain.key", key_pem(None)).problem == ""
    )  # a password is not forced on it
    wrong = check_certificate(files, "certs/k.key", key_pem(b"other"))
    assert wrong.problem == "private key does not open: wrong password (from KEYS_PASSWORD) or damaged key"
    unset = check_certificate(files, "certs/other/k.key", key_pem(b"s3cret"))
    assert (
        unset.problem == "private key is encrypted and its password variable UNSET_PASSWORD is empty or unset"
    )
    p12 = check_certificate(files, "certs/other/a.p12", certs.p12("a", 10, b"pw"))
    assert p12.problem == "PKCS#12 does not open: its password variable UNSET_PASSWORD is empty or unset"
    garbage = check_certificate(files, "certs/x.der", b"\x30\x82garbage")
    assert garbage.problem.startswith("does not load as a certificate or key")
    chain = certs.pem("leaf", 40) + certs.pem("intermediate", 400)
    assert [c.subject for c in check_certificate(files, "certs/chain.pem", chain).certificates] == [
        "CN=leaf",
        "CN=intermediate",
    ]


def test_kinds_follow_the_patterns(files: FilesConfig) -> None:
    assert kind_of(files, "xml/2026/A.XML") == "xml"
    assert kind_of(files, "certs/app.P12") == "certificate"
    assert kind_of(files, "readme.txt") == "other"


def test_xml_fed_in_pieces_reports_the_first_problem() -> None:
    check = XmlCheck()
    doc = b"<?xml version='1.0'?>\n<a>\n<b>\n</a>\n"
    for i in range(0, len(doc), 3):
        check.feed(doc[i : i + 3])
    assert check.close() == "malformed XML: mismatched tag at line 4, column 3"
    empty = XmlCheck()
    assert empty.close().startswith("malformed XML: no element found")
