"""Why genmon cannot connect, in one line, before anything starts.

aiokafka's clients turn every failed connection into "Unable to bootstrap": a wrong password, a
certificate nobody trusts and a plaintext client on a TLS port all look the same. This module
connects once to the first server that accepts a TCP connection, step by step, and names the step
that failed: the transport (TLS or not, the broker's certificate, a client certificate the broker
requires), the SASL mechanism (the broker lists the ones it enables), the authentication, and —
for a client that authenticates with nothing — whether the listener wanted SASL. Every connection
comes from :mod:`genmon.broker.clients`; no line carries a secret.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct

from genmon.broker import clients
from genmon.broker.address import BrokerAddress, BrokerError
from genmon.broker.health import _read_exactly, api_versions_request
from genmon.broker.security import PLAINTEXT, Security, redact

TIMEOUT = 5.0
_SASL_HANDSHAKE = 17
_UNSUPPORTED_MECHANISM = 33


class ConnectError(BrokerError):
    """genmon's clients cannot connect with the settings given; the message is one line."""


def _hint(security: Security, text: str) -> str:
    """``-X`` advice, or where the settings came from when the user did not type them."""
    if security.origin in ("default", "-X") or security.origin.startswith(("--kafka-config", "-X")):
        return text
    return f"{text} (genmon's settings came from {security.origin})"


def _sasl_handshake(mechanism: str) -> bytes:
    """SaslHandshake v1 (request header v1, body: the mechanism)."""
    client = b"genmon-handshake"
    body = struct.pack(">hhih", _SASL_HANDSHAKE, 1, 9, len(client)) + client
    name = mechanism.encode()
    body += struct.pack(">h", len(name)) + name
    return struct.pack(">i", len(body)) + body


def _mechanisms(answer: bytes) -> tuple[int, list[str]]:
    """(error code, enabled mechanisms) of a SaslHandshake response (after the correlation id)."""
    error, count = struct.unpack(">hi", answer[4:10])
    at, names = 10, []
    for _ in range(max(count, 0)):
        (size,) = struct.unpack(">h", answer[at : at + 2])
        names.append(answer[at + 2 : at + 2 + size].decode(errors="replace"))
        at += 2 + size
    return error, names


def _ask(sock: socket.socket, request: bytes) -> bytes:
    sock.sendall(request)
    size = struct.unpack(">i", _read_exactly(sock, 4))[0]
    return _read_exactly(sock, min(size, 1 << 20))


def _speaks_tls(host: str, port: int) -> bool:
    """Whether a TLS handshake succeeds at ``host:port`` (trusting anything: only the question)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((host, port), timeout=TIMEOUT) as raw,
            context.wrap_socket(raw, server_hostname=host),
        ):
            return True
    except (OSError, ssl.SSLError):
        return False


def _transport(address: BrokerAddress, security: Security, host: str, port: int) -> str | None:
    """The transport and SASL-mechanism steps on a raw socket: why they fail, or None."""
    where = f"{host}:{port}"
    try:
        sock = clients.raw_socket(address, host, port, TIMEOUT)
    except ssl.SSLCertVerificationError as exc:
        reason = exc.verify_message or str(exc)
        if "mismatch" in reason or "doesn't match" in reason:
            return _hint(
                security,
                f"the broker at {where} presents a certificate that is not valid for {host} ({reason}); "
                "connect by a name the certificate holds, or set -X ssl.endpoint.identification.algorithm=",
            )
        return _hint(
            security,
            f"the broker at {where} presents a certificate genmon does not trust ({reason}): "
            "give the CA that signed it with -X ssl.ca.location=FILE",
        )
    except ssl.SSLError as exc:
        if _not_tls(exc):
            return _hint(
                security,
                f"the broker at {where} does not speak TLS: set -X security.protocol="
                f"{'SASL_PLAINTEXT' if security.sasl else 'PLAINTEXT'}",
            )
        return f"TLS with the broker at {where} failed: {exc.reason or exc}"
    except ConnectionResetError:
        if security.tls:
            return _hint(
                security,
                f"the broker at {where} does not speak TLS (it reset the TLS handshake): "
                f"set -X security.protocol={'SASL_PLAINTEXT' if security.sasl else 'PLAINTEXT'}",
            )
        return f"the broker at {where} reset the connection"
    except OSError as exc:
        return f"the broker at {where} is unreachable: {exc.strerror or exc}"
    with sock:
        try:
            _ask(sock, api_versions_request(7, b"genmon-handshake"))
            if security.sasl and security.mechanism:
                error, enabled = _mechanisms(_ask(sock, _sasl_handshake(security.mechanism)))
                if error == _UNSUPPORTED_MECHANISM or (enabled and security.mechanism not in enabled):
                    offers = ", ".join(enabled) or "none"
                    return _hint(
                        security,
                        f"the broker at {where} does not enable SASL mechanism {security.mechanism} "
                        f"(it offers {offers}): set -X sasl.mechanism={enabled[0] if enabled else '…'}",
                    )
                if error:
                    return _hint(
                        security,
                        f"the broker at {where} refused SASL (error {error}): is its listener "
                        f"{'SSL' if security.tls else 'PLAINTEXT'}? set -X security.protocol="
                        f"{'SSL' if security.tls else 'PLAINTEXT'}",
                    )
        except ssl.SSLError as exc:
            text = str(exc.reason or exc).upper()
            if "CERTIFICATE_REQUIRED" in text or "BAD_CERTIFICATE" in text:
                if security.certificate_location or security.context is not None:
                    return _hint(
                        security,
                        f"the broker at {where} refused genmon's client certificate "
                        f"({exc.reason}): is it signed by a CA the broker trusts?",
                    )
                return _client_certificate(security, where)
            return f"TLS with the broker at {where} failed: {exc.reason or exc}"
        except (OSError, ConnectionError, struct.error):
            if not security.tls and _speaks_tls(host, port):
                return _hint(
                    security,
                    f"the broker at {where} speaks TLS; genmon connected in plaintext: "
                    f"set -X security.protocol={'SASL_SSL' if security.sasl else 'SSL or SASL_SSL'}",
                )
            if security.tls and not security.certificate_location and security.context is None:
                return _client_certificate(security, where)
            return f"the broker at {where} closed the connection before it answered"
    return None


def _client_certificate(security: Security, where: str) -> str:
    return _hint(
        security,
        f"the broker at {where} requires a client certificate (mutual TLS): give -X "
        "ssl.certificate.location=FILE -X ssl.key.location=FILE",
    )


def _not_tls(exc: ssl.SSLError) -> bool:
    text = f"{exc.reason} {exc}".upper()
    return any(
        word in text
        for word in (
            "WRONG_VERSION_NUMBER",
            "RECORD_LAYER_FAILURE",
            "UNEXPECTED_EOF",
            "PACKET_LENGTH_TOO_LONG",
            "HTTP_REQUEST",
        )
    )


async def _authenticate(address: BrokerAddress, security: Security, host: str, port: int) -> str | None:
    """The SASL step and a first request, with aiokafka's own connection: why it fails, or None."""
    from aiokafka import errors
    from aiokafka.protocol.metadata import MetadataRequest

    where = f"{host}:{port}"
    try:
        conn = await clients.connection(address, host, port, int(TIMEOUT * 1000))
    except errors.SaslAuthenticationFailed:
        user = security.username or "?"
        return _hint(security, f"authentication failed for user {user} ({security.mechanism}) at {where}")
    except errors.UnsupportedSaslMechanismError:
        return _hint(security, f"the broker at {where} does not enable SASL mechanism {security.mechanism}")
    except errors.KafkaError as exc:
        return f"the broker at {where} refused genmon: {type(exc).__name__}"
    except (OSError, asyncio.TimeoutError) as exc:
        return f"the broker at {where} closed the connection: {type(exc).__name__}"
    try:
        await asyncio.wait_for(conn.send(MetadataRequest([])), TIMEOUT)
    except (errors.KafkaError, OSError, asyncio.TimeoutError):
        if not security.sasl:
            return _hint(
                security,
                f"the broker at {where} requires SASL authentication: give -X security.protocol="
                f"{'SASL_SSL' if security.tls else 'SASL_PLAINTEXT'} -X sasl.mechanism=… "
                "-X sasl.username=… -X sasl.password=…",
            )
        return f"the broker at {where} closed the connection after authentication"
    finally:
        conn.close()
    return None


def why_not(address: BrokerAddress) -> str | None:
    """Why genmon's clients cannot use ``address`` (one line, no secret), or None when they can.
    Asks the first server that accepts a TCP connection (the others are the same cluster)."""
    security = address.security or PLAINTEXT
    for host, port in address.servers:
        try:
            socket.create_connection((host, port), timeout=TIMEOUT).close()
        except OSError:
            continue
        reason = _transport(address, security, host, port)
        if reason is None:
            reason = asyncio.run(_authenticate(address, security, host, port))
        return redact(reason, security) if reason else None
    return None


def check_connects(address: BrokerAddress) -> None:
    """:class:`ConnectError` with the one line of :func:`why_not`, if there is one."""
    reason = why_not(address)
    if reason is not None:
        raise ConnectError(reason)
