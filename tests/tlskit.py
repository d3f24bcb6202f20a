"""TLS for the suite's servers: a CA with a server and a client certificate made in Python, and a
TLS-only server. Used by tests/topologies.py (TLS clusters and sentinel groups) and the TLS tests."""

from __future__ import annotations

import contextlib
import datetime
import functools
import ipaddress
import shutil
import socket
import ssl
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from redisq.core.embedded import EmbeddedServer, free_port


@functools.cache
def supports_tls(binary: str) -> bool:
    """Whether the binary was built with TLS: asked, not guessed from its version.

    Without certificate files a TLS build exits complaining about `tls-cert-file`; a build without TLS
    says "Failed finding TLS support" (valkey) or rejects `tls-port` as a bad directive (old redis)."""
    args = [binary, "--port", "0", "--tls-port", str(free_port()), "--save", "", "--appendonly", "no"]
    try:
        done = subprocess.run(args, capture_output=True, timeout=10, check=False, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:  # it found certificates somewhere and served TLS (run() killed it)
        return True
    return b"tls-cert-file" in done.stdout + done.stderr


class TLSUnsupported(RuntimeError):
    """The server binary was built without TLS."""


@dataclass(frozen=True)
class TLSFiles:
    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_tls_files(directory: Path) -> TLSFiles:
    """A CA, and a server (127.0.0.1, localhost) and a client certificate it signed, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def issue(
        name: str, issuer: tuple[x509.Name, Any] | None, extensions: list[tuple[Any, bool]]
    ) -> tuple[x509.Certificate, Any]:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        issuer_name, issuer_key = issuer or (subject, key)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            # Both identifiers: Python 3.13's default context (VERIFY_X509_STRICT) refuses certs without.
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
            )
        )
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(issuer_key, hashes.SHA256()), key

    def usage(ca: bool) -> x509.KeyUsage:
        return x509.KeyUsage(
            digital_signature=not ca, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
            encipher_only=False, decipher_only=False,
        )  # fmt: skip

    ca_cert, ca_key = issue("redisq test CA", None, [
        (x509.BasicConstraints(ca=True, path_length=0), True), (usage(True), True),
    ])  # fmt: skip
    leaf = [(x509.BasicConstraints(ca=False, path_length=None), True), (usage(False), True)]
    san = x509.SubjectAlternativeName(
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    )
    server_cert, server_key = issue("127.0.0.1", (ca_cert.subject, ca_key), [
        *leaf, (san, False), (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
    ])  # fmt: skip
    client_cert, client_key = issue("redisq test client", (ca_cert.subject, ca_key), [
        *leaf, (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False),
    ])  # fmt: skip

    directory.mkdir(parents=True, exist_ok=True)
    files = TLSFiles(
        *(directory / n for n in ("ca.crt", "server.crt", "server.key", "client.crt", "client.key"))
    )
    for path, cert in (
        (files.ca_cert, ca_cert),
        (files.server_cert, server_cert),
        (files.client_cert, client_cert),
    ):
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    for path, key in ((files.server_key, server_key), (files.client_key, client_key)):
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return files


@dataclass
class TLSServer(EmbeddedServer):
    """A server that listens only on a TLS port (`port` is that port; the plaintext one is off)."""

    files: TLSFiles | None = None
    # "optional": a client may present a certificate (it must then be valid); "yes": it must present one.
    auth_clients: str = "optional"

    @property
    def url(self) -> str:
        assert self.files is not None
        return f"rediss://127.0.0.1:{self.port}/0?ssl_ca_certs={quote(str(self.files.ca_cert))}"

    def command(self) -> list[str]:
        assert self.files is not None
        plain = super().command()
        # super() puts "--port <port>"; here that port is the TLS one and the plaintext listener is off.
        plain[plain.index("--port") + 1] = "0"
        assert self.port is not None
        return [*plain, *_tls_args(self.files, self.port, self.auth_clients)]

    def _accepts(self) -> bool:
        # The inherited check sends a plaintext PING, which a TLS port never answers.
        assert self.files is not None and self.port is not None
        return _tls_ping(self.files, self.port, (b"+PONG",))

    def __enter__(self) -> TLSServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _tls_args(files: TLSFiles, port: int, auth_clients: str = "optional") -> list[str]:
    """A server's arguments to listen on `port` with TLS (its plaintext `--port` must be 0)."""
    return [
        "--tls-port", str(port),
        "--tls-cert-file", str(files.server_cert),
        "--tls-key-file", str(files.server_key),
        "--tls-ca-cert-file", str(files.ca_cert),
        # What it presents when it is the client (replication, the cluster bus, a sentinel's links).
        "--tls-client-cert-file", str(files.client_cert),
        "--tls-client-key-file", str(files.client_key),
        "--tls-auth-clients", auth_clients,
    ]  # fmt: skip


def _tls_ping(files: TLSFiles, port: int, answers: tuple[bytes, ...]) -> bool:
    context = ssl.create_default_context(cafile=str(files.ca_cert))
    context.load_cert_chain(str(files.client_cert), str(files.client_key))
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=0.5) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as sock,
        ):
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(answers)
    except OSError:
        return False


def start_tls_server(binary: str, files: TLSFiles, auth_clients: str = "optional") -> tuple[TLSServer, str]:
    """A TLS-only server; `auth_clients="yes"` refuses clients without a certificate that the CA signed."""
    if not supports_tls(binary):
        raise TLSUnsupported(f"{binary} was built without TLS (see topologies.binaries_with_tls())")
    server = TLSServer(binary=binary, port=free_port(), files=files, auth_clients=auth_clients)
    server.start()
    return server, server.url


@contextlib.contextmanager
def tls_files() -> Iterator[TLSFiles]:
    """make_tls_files in a temporary directory that is removed afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="redisq-tls-"))
    try:
        yield make_tls_files(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
