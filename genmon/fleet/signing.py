"""Signed fleet records: with a shared secret, every report and control record carries an HMAC, and
only what verifies is obeyed or merged (docs/FLEET.md, "Signed records").

Anyone who can write to ``genmon-control`` could otherwise switch off every tracked generator of
every app, and anyone who can write to ``genmon-reports`` could feed the watcher any numbers. With
``GENMON_SECRET`` (or a file named by ``GENMON_SECRET_FILE``) set alike for the workers and the
watcher, each record gets one header, ``genmon-mac: <key id>:<ns>:<hex>``: HMAC-SHA256 under the
secret over the key id, the time it was signed (ns), the record's key and its value. A record that
does not verify — unsigned, signed with another secret, altered, or signed more than
``FUTURE_SECONDS`` in the future — is refused and counted. A replayed control record verifies, but
carries its old stamp: a worker keeps only the newest state per generator, so it changes nothing.
Without a secret nothing is signed or checked (the README says what that exposes).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from genmon.host.errors import HostError

SECRET_ENV = "GENMON_SECRET"
SECRET_FILE_ENV = "GENMON_SECRET_FILE"
MAC_HEADER = "genmon-mac"
FUTURE_SECONDS = 300.0
"""A record signed this far ahead of the reader's clock is refused (clocks of a fleet agree within
seconds; a stamp far in the future would win every "newest" comparison)."""
UNSIGNED = "unsigned"


class SecretError(HostError):
    """The secret named in the environment cannot be read; the message is one line."""


@dataclass(frozen=True)
class Signer:
    """Signs and checks records under one secret."""

    secret: bytes

    @property
    def key_id(self) -> str:
        """Names the secret in each signature without revealing it (8 hex digits of a hash)."""
        return hashlib.sha256(b"genmon key id\0" + self.secret).hexdigest()[:8]

    def _mac(self, key_id: bytes, stamp: bytes, key: bytes, value: bytes) -> str:
        mac = hmac.new(self.secret, digestmod=hashlib.sha256)
        for part in (key_id, stamp, key, value):  # each length-prefixed: no two messages sign alike
            mac.update(len(part).to_bytes(8, "big"))
            mac.update(part)
        return mac.hexdigest()

    def headers(self, key: bytes, value: bytes, now_ns: int | None = None) -> list[tuple[str, bytes]]:
        """The header that signs ``key``/``value`` now."""
        stamp = str(time.time_ns() if now_ns is None else now_ns).encode()
        kid = self.key_id.encode()
        return [(MAC_HEADER, b"%s:%s:%s" % (kid, stamp, self._mac(kid, stamp, key, value).encode()))]

    def refusal(self, key: bytes | None, value: bytes | None, headers: Iterable[Any] | None) -> str | None:
        """None when the record verifies; else who it claims to be from (a key id, or ``unsigned``)."""
        found = _header(headers)
        if found is None:
            return UNSIGNED
        kid, _, rest = found.partition(b":")
        stamp, _, mac = rest.partition(b":")
        claimed = kid.decode(errors="replace")[:16] or UNSIGNED
        if kid != self.key_id.encode() or not stamp.isdigit() or len(stamp) > 20:
            return claimed
        if int(stamp) > (time.time() + FUTURE_SECONDS) * 1e9:
            return claimed
        expected = self._mac(kid, stamp, key or b"", value or b"")
        return None if hmac.compare_digest(expected.encode(), mac) else claimed


def _header(headers: Iterable[Any] | None) -> bytes | None:
    for name, value in headers or ():
        if name == MAC_HEADER and isinstance(value, bytes):
            return value
    return None


def from_env(environ: Mapping[str, str] | None = None) -> Signer | None:
    """The signer of this process's secret (``GENMON_SECRET``, else the file ``GENMON_SECRET_FILE``
    names), or None when neither is set."""
    env = os.environ if environ is None else environ
    secret = env.get(SECRET_ENV, "")
    if not secret and env.get(SECRET_FILE_ENV):
        path = env[SECRET_FILE_ENV]
        try:
            with open(path, "rb") as f:
                raw = f.read().strip()
        except OSError as exc:
            raise SecretError(f"{SECRET_FILE_ENV}: cannot read {path}: {exc.strerror or exc}") from None
        if not raw:
            raise SecretError(f"{SECRET_FILE_ENV}: {path} is empty")
        return Signer(raw)
    return Signer(secret.encode()) if secret else None
