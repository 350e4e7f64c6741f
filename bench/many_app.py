"""An app with many pipelines, for ``bench/fleet.py``'s screen measurement: ``BENCH_PIPELINES``
tracked generators (200 by default) at ``BENCH_RATE`` values/s each (10), over 20 topics and 20
agents; with ``BENCH_BROKEN=N`` every N-th pipeline does not await every 7th send.
Run with ``genmon -A bench.many_app --embedded``."""

import asyncio
import os

import faust

import genmon

PIPELINES = int(os.environ.get("BENCH_PIPELINES", "200"))
RATE = float(os.environ.get("BENCH_RATE", "10"))
TOPICS = 20
BROKEN = int(os.environ.get("BENCH_BROKEN", "0"))
"""Every BROKEN-th pipeline forgets to await every 7th send (0: none): rows with problems."""

app = faust.App("bench-many", broker="kafka://127.0.0.1:9092", web_enabled=False)
topics = [app.topic(f"bench-many-{t}", value_type=int, value_serializer="json") for t in range(TOPICS)]


def _agent(topic):  # one agent per topic
    async def consume(stream):
        async for _ in stream:
            pass

    consume.__name__ = consume.__qualname__ = f"consume_{topic.get_topic_name().rsplit('-', 1)[1]}"
    return app.agent(topic)(consume)


for _topic in topics:
    _agent(_topic)


def _pipeline(number):
    topic = topics[number % TOPICS]

    @genmon.track(name=f"gen-{number:03d}")
    async def produce():
        n = 0
        while True:
            n += 1
            yield n
            await asyncio.sleep(1.0 / RATE)

    broken = BROKEN and number % BROKEN == BROKEN // 2

    async def pump():
        async for n in produce():
            if broken and n % 7 == 0:
                topic.send(value=n)
                continue
            await topic.send(value=n)

    pump.__name__ = pump.__qualname__ = f"pump_{number:03d}"
    app.task(pump)


for _n in range(PIPELINES):
    _pipeline(_n)
