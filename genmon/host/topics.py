"""Creating the topics an app's agents read before the app starts, when genmon is asked to.

A Faust consumer that subscribes to a topic that does not exist yet is assigned nothing for it. On
Apache Kafka the topic is then auto-created by the first send, but the consumer only notices at its
next metadata refresh (``consumer_metadata_max_age_ms``, 5 minutes by default): until then the agent
receives nothing. Faust declares only its internal topics (changelogs, repartitions); a deployment
creates the others beforehand. genmon does the same when the broker is its own (the embedded one),
or when the user asks (``--create-topics``), with the partition count the app declares — so a
table's changelog and its source topic agree — and never changes a topic that exists.
"""

from __future__ import annotations

import logging
from typing import Any

from genmon.broker.address import BrokerAddress
from genmon.model import one_line
from genmon.probe.touchpoints import agent_topics

log = logging.getLogger("genmon.topics")


async def create_missing_topics(app: Any, broker: BrokerAddress) -> list[str]:
    """Create every topic the app's agents read that the broker does not have; return their names."""
    from aiokafka.admin import NewTopic

    from genmon.broker import clients

    wanted = agent_topics(app)
    if not wanted:
        return []
    admin = clients.admin(broker, request_timeout_ms=10_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        replicas = int(getattr(app.conf, "topic_replication_factor", 1) or 1)
        missing = [
            NewTopic(name, partitions, replicas)
            for name, partitions in wanted.items()
            if name not in existing
        ]
        if missing:
            await admin.create_topics(missing)
            for topic in missing:
                log.info(
                    "created topic %s (%d partitions) before the app started",
                    topic.name,
                    topic.num_partitions,
                )
        return [topic.name for topic in missing]
    except Exception as exc:  # another app created it first, or no permission: the app still runs
        log.warning("could not create the app's topics: %s", one_line(exc))
        return []
    finally:
        await admin.close()
