"""Certificates made on the spot with ``cryptography``: valid, expiring, expired, PKCS#12 with a password."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID


def make_cert(common_name: str, not_after: datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_after - timedelta(days=400))
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def days_from_now(days: float) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


def pem(common_name: str, days: float, with_key: bool = False) -> bytes:
    cert, key = make_cert(common_name, days_from_now(days))
    out = cert.public_bytes(serialization.Encoding.PEM)
    if with_key:
        out += key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    return out


def der(common_name: str, days: float) -> bytes:
    cert, _ = make_cert(common_name, days_from_now(days))
    return cert.public_bytes(serialization.Encoding.DER)


def p12(common_name: str, days: float, password: bytes) -> bytes:
    cert, key = make_cert(common_name, days_from_now(days))
    return pkcs12.serialize_key_and_certificates(
        b"app", key, cert, None, serialization.BestAvailableEncryption(password)
    )
