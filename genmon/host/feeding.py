"""Runs a feed (:mod:`genmon.model.feed`) inside the app's process: once the app has started, every
line is produced to its topic through the app's own topic object (its serializers apply), as the
value of a tracked generator named after the feed — so each value carries its line number as its
id, and the row is followed, switched and judged like any tracked generator's.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from genmon.model import one_line
from genmon.model.feed import Feed, parse_lines
from genmon.probe.runtime import OWNER
from genmon.probe.touchpoints import topic_object
from genmon.probe.tracking import track_feed

log = logging.getLogger("genmon.feed")


def load(plan: dict[str, Any]) -> Feed:
    """A feed as the worker's plan names it, read and checked again from its file."""
    with open(plan["path"], encoding="utf-8") as f:
        lines = parse_lines(f.read(), plan["path"], plan.get("key_separator"))
    return Feed(plan["topic"], plan["path"], plan["name"], lines, plan.get("rate"), plan.get("key_separator"))


async def run(app: Any, feed: Feed, owner: str) -> None:
    """Produce the feed's lines (on the app's loop; ``owner``: the app's label, whose row it is);
    an error is logged in one line, never raised into the app."""
    OWNER.set(owner)
    topic = topic_object(app, feed.topic)
    interval = 1.0 / feed.rate if feed.rate else 0.0
    lines = feed.lines

    async def values() -> Any:
        for line in lines:
            yield line

    tracked = track_feed(values, feed.name, feed.code)
    loop = asyncio.get_running_loop()
    due = loop.time()
    try:
        async for line in tracked():
            if line.key is None:
                await topic.send(value=line.value)
            else:
                await topic.send(key=line.key, value=line.value)
            if interval:  # on a schedule: the send's own time does not slow the rate
                due += interval
                await asyncio.sleep(max(due - loop.time(), 0.0))
        log.info("genmon: feed %s: %d values produced to %s", feed.name, len(lines), feed.topic)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.warning("genmon: feed %s stopped: %s", feed.name, one_line(exc))
