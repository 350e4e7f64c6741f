"""Which topics a reading's apps read, and what a topic nothing reads is: a sink (values leave the
apps there) or a typo of a topic an agent reads (docs/ARCHITECTURE.md, "A topic no agent reads is a
sink").
"""

from __future__ import annotations

import functools

from genmon.model.state import AppReading, Reading, SourceState
from genmon.model.vocabulary import (
    REPLIES,
    AppState,
)


def agent_topics(app: AppReading) -> list[str]:
    """The topics the app's agents read: not its reply topic, which Faust's reply consumer reads
    (subscribed only once the app asks, so never "unassigned")."""
    return [topic for topic, agents in app.readers.items() if agents != (REPLIES,)]


def reply_topics(reading: Reading) -> set[str]:
    return {topic for app in reading.apps for topic, agents in app.readers.items() if REPLIES in agents}


def read_topics(reading: Reading) -> set[str] | None:
    """Topics some agent of some app reads; None while no app has started (not known yet)."""
    if not reading.apps or all(app.state == AppState.STARTING for app in reading.apps):
        return None
    return {topic for app in reading.apps for topic in app.readers}


REPLY_SUBSCRIBE_SECONDS = 45.0
"""``faust.transport.conductor.Conductor._resubscribe_sleep_lock_seconds``: how long Faust may take
to subscribe a topic added at run time (the reply topic, at an app's first ``agent.ask``)."""


def replies_only(src: SourceState, reading: Reading) -> bool:
    replies = reply_topics(reading)
    return bool(src.topics) and all(topic in replies for topic in src.topics)


def sinks_of(src: SourceState, read: set[str] | None) -> tuple[tuple[str, ...], tuple[str, str] | None]:
    """The topics ``src`` sends to that no agent of any app reads, when that is all of them and
    nothing was received: its values leave the apps genmon sees (an output topic). Not a sink but
    a mistake when one of them is named nearly like a topic an agent reads (``orders``/``order``,
    ``-``/``_``, one or two characters apart): then ``(sent to, read)``. ``read``: every topic an
    agent reads (None while not known yet)."""
    if not src.topics or read is None:
        return (), None  # the apps' agents are not known yet
    unread = [topic for topic in src.topics if topic not in read]
    for topic in unread:
        for other in sorted(read):
            if nearly_same(topic, other):
                return (), (topic, other)
    if src.received or len(unread) < len(src.topics):
        return (), None
    return tuple(unread), None


@functools.lru_cache(maxsize=4096)  # asked for the same pairs on every build (5 a second)
def nearly_same(a: str, b: str) -> bool:
    """Topic names a typo apart: equal but for case, ``-``/``_``/``.`` or a plural ``s``, or at most
    two edits apart (both at least 4 characters long)."""

    def plain(name: str) -> str:
        name = name.lower().replace("-", "").replace("_", "").replace(".", "")
        return name[:-1] if name.endswith("s") else name

    if a == b:
        return False
    if plain(a) == plain(b):
        return True
    return min(len(a), len(b)) >= 4 and edits(a.lower(), b.lower(), 2) <= 2


def edits(a: str, b: str, limit: int) -> int:
    """Levenshtein distance of ``a`` and ``b``, or ``limit + 1`` once it is sure to exceed ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i]
        for j, cb in enumerate(b, 1):
            row.append(min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(row) > limit:
            return limit + 1
        previous = row
    return previous[-1]
