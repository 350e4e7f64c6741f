"""Measure, side by side, how the embedded broker (Tansu) and a real Apache Kafka 4 differ where genmon
or a Faust app can tell: the facts behind docs/BROKERS.md.

    python scripts/broker_differences.py          # starts both brokers, prints a Markdown table

Needs Java 17+ and Maven for the Kafka side (see genmon.broker.kafka).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from genmon.broker import BrokerProcess, EmbeddedBroker, KafkaBroker


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def auto_created_partitions(bootstrap: str) -> str:
    topic = name("auto")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"x")
        return str(len(producer.client.cluster.partitions_for_topic(topic) or ()))
    finally:
        await producer.stop()


async def end_offsets_after_a_batch(bootstrap: str) -> str:
    topic = name("batch")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=50)
    await producer.start()
    try:
        futures = [await producer.send(topic, b"x", partition=0) for _ in range(100)]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        ends = await consumer.end_offsets([tp])
        await consumer.seek_to_end(tp)
        await consumer.getmany(tp, timeout_ms=500)
        return f"end_offsets {ends[tp]}, fetch high watermark {consumer.highwater(tp)} (100 sent)"
    finally:
        await consumer.stop()


async def group_offsets_without_partitions(bootstrap: str) -> str:
    topic, group = name("offsets"), name("group")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    await producer.send_and_wait(topic, b"x", partition=0)
    await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest"
    )
    await consumer.start()
    await consumer.getmany(timeout_ms=5000)
    await consumer.commit()
    await consumer.stop()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    await admin.start()
    try:
        answer = await asyncio.wait_for(admin.list_consumer_group_offsets(group), 10)
        return f"answers ({len(answer)} partition)"
    except Exception as exc:
        return f"fails ({type(exc).__name__})"
    finally:
        await admin.close()


async def consumer_metadata_creates_topic(bootstrap: str) -> str:
    """What a Faust consumer meets when it subscribes to a topic nothing has created yet."""
    topic = name("asked")
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        consumer._client.add_topic(topic)
        await consumer._client.force_metadata_update()
        at_once = bool(consumer._client.cluster.partitions_for_topic(topic))
        await asyncio.sleep(1.0)
        await consumer._client.force_metadata_update()
        later = bool(consumer._client.cluster.partitions_for_topic(topic))
        if at_once:
            return "created, in the first answer"
        return "created, but only in a later answer" if later else "not created"
    finally:
        await consumer.stop()


async def idempotent_producer(bootstrap: str) -> str:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    try:
        await asyncio.wait_for(producer.start(), 10)
        await producer.send_and_wait(name("idem"), b"x")
        return "works"
    except Exception as exc:
        return f"fails ({type(exc).__name__})"
    finally:
        await producer.stop()


async def faust_request_reply(broker: BrokerProcess) -> str:
    import faust

    app_id = name("ask")
    with tempfile.TemporaryDirectory() as datadir:
        app = faust.App(
            app_id, broker=broker.url, web_enabled=False, datadir=datadir, **broker.faust_settings
        )
        topic = app.topic(f"{app_id}-in", value_type=int, value_serializer="json")

        @app.agent(topic)
        async def double(stream):  # type: ignore[no-untyped-def]
            async for value in stream:
                yield value * 2

        await app.start()
        try:
            started = time.monotonic()
            reply = await asyncio.wait_for(double.ask(21), 20)
            return f"reply {reply} after {time.monotonic() - started:.1f}s"
        except asyncio.TimeoutError:
            return "no reply within 20 s"
        finally:
            await app.stop()


CHECKS: list[tuple[str, Callable[[BrokerProcess], Coroutine[Any, Any, str]]]] = [
    ("partitions of an auto-created topic", lambda b: auto_created_partitions(b.address.bootstrap)),
    (
        "a consumer's metadata request creates a missing topic",
        lambda b: consumer_metadata_creates_topic(b.address.bootstrap),
    ),
    ("end offsets after a batched send", lambda b: end_offsets_after_a_batch(b.address.bootstrap)),
    (
        "list_consumer_group_offsets without partitions=",
        lambda b: group_offsets_without_partitions(b.address.bootstrap),
    ),
    ("idempotent producer", lambda b: idempotent_producer(b.address.bootstrap)),
    ("Faust agent.ask (request/reply)", faust_request_reply),
]


def measure(kind: type[BrokerProcess]) -> dict[str, str]:
    results: dict[str, str] = {}
    started = time.monotonic()
    with kind() as broker:
        results["start, until it answers"] = f"{time.monotonic() - started:.1f} s"
        for label, check in CHECKS:
            try:
                results[label] = asyncio.run(asyncio.wait_for(check(broker), 60))
            except Exception as exc:
                results[label] = f"error: {type(exc).__name__}: {str(exc)[:60]}"
    return results


def main() -> None:
    import logging

    logging.basicConfig(level=logging.CRITICAL)
    embedded = measure(EmbeddedBroker)
    kafka = measure(KafkaBroker)
    print(f"| behaviour | Apache Kafka {KafkaBroker().version} (local, defaults) | embedded (Tansu) |")
    print("|---|---|---|")
    for label in embedded:
        print(f"| {label} | {kafka.get(label, '')} | {embedded[label]} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
