"""Signed fleet records (genmon/fleet/signing.py): what verifies, and every way a record does not."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from genmon.fleet.signing import MAC_HEADER, UNSIGNED, SecretError, Signer, from_env


def test_a_signed_record_verifies_and_every_forgery_is_refused_by_the_key_id_it_claims() -> None:
    signer, other = Signer(b"s3cret"), Signer(b"another")
    key, value = b"app/numbers", b'{"format": 1, "on": false, "stamp": 1}'
    headers = signer.headers(key, value)
    assert signer.refusal(key, value, headers) is None
    assert signer.refusal(key, value, None) == UNSIGNED
    assert signer.refusal(key, value, [("other", b"x")]) == UNSIGNED
    assert signer.refusal(key, value + b" ", headers) == signer.key_id  # the value altered
    assert signer.refusal(b"app/other", value, headers) == signer.key_id  # moved to another key
    assert signer.refusal(key, value, other.headers(key, value)) == other.key_id  # another secret
    kid, stamp, mac = headers[0][1].split(b":")
    later = [(MAC_HEADER, b"%s:%d:%s" % (kid, int(stamp) + 1, mac))]
    assert signer.refusal(key, value, later) == signer.key_id  # the time it was signed altered
    future = signer.headers(key, value, now_ns=time.time_ns() + 3_600 * 10**9)
    assert signer.refusal(key, value, future) == signer.key_id  # signed an hour ahead
    assert signer.key_id != other.key_id and len(signer.key_id) == 8 and b"s3cret" not in headers[0][1]


def test_the_secret_comes_from_the_environment_or_a_file(tmp_path: Path) -> None:
    assert from_env({}) is None
    assert from_env({"GENMON_SECRET": "abc"}) == Signer(b"abc")
    path = tmp_path / "secret"
    path.write_bytes(b"from a file\n")
    assert from_env({"GENMON_SECRET_FILE": str(path)}) == Signer(b"from a file")
    with pytest.raises(SecretError, match=r"GENMON_SECRET_FILE: cannot read .*missing"):
        from_env({"GENMON_SECRET_FILE": str(tmp_path / "missing")})
    path.write_bytes(b"\n")
    with pytest.raises(SecretError, match="is empty"):
        from_env({"GENMON_SECRET_FILE": str(path)})
