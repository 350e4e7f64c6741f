"""genmon's own topics on the user's broker, their names and how they are created.

* ``genmon-reports``: checkpoints keyed by worker (``host:pid:token``), deltas keyed
  ``host:pid:token#number``. One partition, so a watcher reads every worker's reports in one ordered
  stream; compacted and time-limited where the broker supports it (the embedded broker keeps all:
  the traffic is kept small instead, see :mod:`genmon.fleet.publisher`).
* ``genmon-control``: the desired state of each generator, keyed ``app_id/name`` (a state, not an
  event: compaction keeps the newest, a worker starting later reads them all).
"""

from __future__ import annotations

import logging
import os

from genmon.broker.address import BrokerAddress
from genmon.model import one_line

REPORTS = os.environ.get("GENMON_REPORTS_TOPIC", "genmon-reports")
CONTROL = os.environ.get("GENMON_CONTROL_TOPIC", "genmon-control")
REPORT_RETENTION_BYTES = 256 * 1024 * 1024
RETENTION_MS = 3_600_000
"""Kafka keeps each worker's newest checkpoint (compaction) and drops records older than an hour:
every worker checkpoints at least every 10 minutes, and ``genmon watch`` looks back an hour. The
byte limit bounds the topic on a busy fleet; past it the oldest worker runs' reports go first, and
a watcher started later no longer counts their values (a fleet of three workers at 40 values/s
writes ~40 MB an hour)."""

log = logging.getLogger("genmon.fleet")


async def ensure_topics(broker: BrokerAddress) -> None:
    """Create genmon's two topics if the broker lacks them (both one partition, compacted).

    Another worker creating them at the same moment, or a broker that refuses the configs, is fine:
    the topics then exist, or are auto-created by the first send with the broker's defaults.
    """
    from aiokafka.admin import NewTopic

    from genmon.broker import clients

    admin = clients.admin(broker, request_timeout_ms=10_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        configs = {
            "cleanup.policy": "compact,delete",
            "retention.ms": str(RETENTION_MS),
            "retention.bytes": str(REPORT_RETENTION_BYTES),
        }
        missing = [
            NewTopic(name, 1, 1, topic_configs=configs) for name in (REPORTS, CONTROL) if name not in existing
        ]
        if missing:
            try:
                await admin.create_topics(missing)
            except Exception:  # a broker that refuses the configs: plain topics then
                await admin.create_topics([NewTopic(t.name, 1, 1) for t in missing])
    except Exception as exc:
        log.debug("genmon's topics: %s", one_line(exc))
    finally:
        await admin.close()
