"""The site's certificate authority and the certificates it issues (pure, ``cryptography``).

Everything here is a function of its arguments: no clock, no files, no network.

- ``new_ca_key()`` is the only random step (a fresh P-256 key); the Pulumi layer calls it
  once and keeps the key in its state as a secret.
- ``ca_certificate(key, ...)`` and ``issue_server(ca, ...)`` are deterministic: ECDSA
  signatures are RFC 6979 deterministic, serial numbers are hashes of the inputs, and the
  server key is derived from the CA key and the names (HKDF). So issuing the same
  certificate again yields the same bytes and a host deploy that writes it is a no-op.

Anyone holding the CA key can derive the server key; that is no weaker than before, since
they can issue any certificate anyway.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_CURVE = ec.SECP256R1()
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
"""Default start of validity of a generated CA (fixed, so the certificate is reproducible)."""


class PkiError(ValueError):
    """A certificate or key is unusable; the message says which and why."""


@dataclass(frozen=True)
class Issued:
    """A PEM certificate and its PEM private key (the key is secret)."""

    cert_pem: str
    key_pem: str


def new_ca_key() -> str:
    """A fresh random P-256 private key as PKCS#8 PEM (the one random step)."""
    return _key_pem(ec.generate_private_key(_CURVE))


def derive_key(seed: bytes, label: str) -> str:
    """A P-256 private key derived from ``seed`` and ``label`` (HKDF-SHA256), as PEM."""
    okm = HKDF(
        algorithm=hashes.SHA256(), length=48, salt=b"mlsite-pki", info=label.encode()
    ).derive(seed)
    scalar = int.from_bytes(okm, "big") % (_P256_ORDER - 1) + 1
    return _key_pem(ec.derive_private_key(scalar, _CURVE))


def ca_certificate(
    key_pem: str, common_name: str, *, not_before: datetime = EPOCH, validity_days: int = 3650
) -> str:
    """A self-signed CA certificate for ``key_pem`` (PEM), deterministic in its inputs."""
    if validity_days < 1:
        raise PkiError(f"validity_days must be positive (got {validity_days})")
    key = _load_key(key_pem, "CA key")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(_serial("ca", common_name, not_before.isoformat(), _public_der(key).hex()))
        .not_valid_before(not_before)
        .not_valid_after(not_before + timedelta(days=validity_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
    )
    return _sign(builder, key)


def issue_server(
    ca_cert_pem: str,
    ca_key_pem: str,
    dns_names: Iterable[str],
    ip_addresses: Iterable[str] = (),
) -> Issued:
    """A TLS server certificate for the names, signed by the CA, valid as long as the CA.

    Deterministic: the key is derived from the CA key and the (sorted) names."""
    dns = sorted(set(dns_names))
    ips = sorted(set(ip_addresses), key=lambda a: ipaddress.ip_address(a).packed)
    if not dns and not ips:
        raise PkiError("a server certificate needs at least one DNS name or IP address")
    ca_key = _load_key(ca_key_pem, "CA key")
    ca_cert = load_certificate(ca_cert_pem)
    if _public_der(ca_cert.public_key()) != _public_der(ca_key):
        raise PkiError("the CA key does not belong to the CA certificate")
    label = "server:" + ",".join(dns) + "|" + ",".join(ips)
    key_pem = derive_key(ca_key.private_numbers().private_value.to_bytes(32, "big"), label)
    key = _load_key(key_pem, "server key")
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ips]
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, (dns or ips)[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(_serial(label, ca_cert.serial_number))
        .not_valid_before(ca_cert.not_valid_before_utc)
        .not_valid_after(ca_cert.not_valid_after_utc)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    return Issued(cert_pem=_sign(builder, ca_key), key_pem=key_pem)


def load_certificate(pem: str) -> x509.Certificate:
    """The first certificate in ``pem``; PkiError when there is none."""
    try:
        return x509.load_pem_x509_certificate(pem.encode())
    except ValueError as exc:
        raise PkiError(f"not a PEM certificate: {exc}") from None


def fingerprint(cert_pem: str) -> str:
    """SHA-256 fingerprint of a PEM certificate, ``sha256:<hex>``."""
    return "sha256:" + load_certificate(cert_pem).fingerprint(hashes.SHA256()).hex()


def _load_key(pem: str, what: str) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise PkiError(f"{what}: not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PkiError(f"{what}: an EC (P-256) key is required, got {type(key).__name__}")
    return key


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _public_der(key: ec.EllipticCurvePrivateKey | object) -> bytes:
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise PkiError(f"an EC (P-256) key is required, got {type(public).__name__}")
    return public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _serial(*parts: object) -> int:
    digest = hashlib.sha256("\0".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:19], "big") | 1  # positive, at most 20 octets


def _sign(builder: x509.CertificateBuilder, key: ec.EllipticCurvePrivateKey) -> str:
    cert = builder.sign(key, hashes.SHA256(), ecdsa_deterministic=True)
    return cert.public_bytes(serialization.Encoding.PEM).decode()
