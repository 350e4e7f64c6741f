"""What the sensor's hooks saw, waiting to be counted: Faust's hot path appends, a reader counts.

Counting a value where Faust hands it over — parse its header, find the stage's id set, add the id,
note its latency — cost ~30 µs a value inside a running Faust worker (the same Python took a third
of that in a loop of its own: in a worker every hook starts with cold caches), about 7 % of a
trivial pipeline's CPU. So the hooks only append what they saw to a ``deque`` (one C call; thread
safe), and :meth:`Ledger.count` counts the backlog in one loop: on the reader's thread just before a
source is read (the publisher's, the sampler's), before a loss is recorded, and on the loop's thread
when a backlog grows past ``BACKLOG`` (a probe nobody reads).

Order. A value enters the stages' queues in stage order (sent before acked before received before
processed), so the lengths are taken later stages first: every entry counted in a later stage's
queue had its earlier stages' entries queued before — and counted in the same pass. A reading never
shows a later stage ahead of an earlier one because of the backlog.

Everything that changes a source's id sets — the count, a recorded loss, a reset — holds ``lock``.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import TYPE_CHECKING, Any

from genmon.model import Cause
from genmon.model.vocabulary import REPLIES
from genmon.probe.touchpoints import channel_name

if TYPE_CHECKING:
    from genmon.probe.runtime import Probe

BACKLOG = 50_000
"""Entries one queue holds before a hook counts them itself (nobody read the probe for that long)."""
CRASHED = Cause.CRASHED


class Ledger:
    """The four queues of one probe, and the lock every change of an id set holds."""

    __slots__ = ("_agent_names", "acked", "lock", "processed", "received", "sent")

    def __init__(self) -> None:
        self.sent: deque[tuple[Any, int, str]] = deque()
        """``(source, id, topic)`` of a send Faust is about to make (its header is stamped)."""
        self.acked: deque[tuple[Any, int, str]] = deque()
        """``(source, id, topic)`` of a send the broker acknowledged (a channel: its queues took it)."""
        self.received: deque[tuple[str, int, Any, str | None]] = deque()
        """``(topic, partition, headers, app run)`` of a message the consumer took in."""
        self.processed: deque[tuple[str | None, Any, Any, Any, int]] = deque()
        """``(topic or None for a channel, stream, headers, agent, ns since the epoch)``: an agent
        finished an event."""
        self.lock = threading.RLock()
        self._agent_names: dict[int, tuple[Any, str]] = {}

    def __len__(self) -> int:
        return len(self.sent) + len(self.acked) + len(self.received) + len(self.processed)

    def count(self, probe: Probe) -> None:
        """Move every entry queued so far into its source's id sets (any thread)."""
        with self.lock:
            # later stages first: see the module docstring
            processed, received = len(self.processed), len(self.received)
            acked, sent = len(self.acked), len(self.sent)
            if sent:
                _count_sent(self.sent, sent)
            if acked:
                _count_acked(self.acked, acked)
            if received:
                _count_received(probe, self.received, received)
            if processed:
                self._count_processed(probe, processed)

    def _count_processed(self, probe: Probe, n: int) -> None:
        pop = self.processed.popleft
        for _ in range(n):
            topic, stream, headers, agent, at_ns = pop()
            if topic is None:
                topic = channel_name(stream.app, stream.channel)
            name = self._agent_name(agent, stream, topic)
            found = probe.from_headers(headers)
            if found is None:
                inbound = probe.inbound_for(topic)
                inbound.processed[name] = inbound.processed.get(name, 0) + 1
                continue
            src, seq, yielded_at = found
            if seq in src.damaged[CRASHED].ids:
                continue  # the agent raised on it: Faust fires this hook anyway, from a ``finally``
            if src.processed_by(topic, name).add(seq):
                # a redelivered or copied value is not new: its latency was measured the first time
                src.note_latency(at_ns // 1000 - yielded_at)

    def _agent_name(self, agent: Any, stream: Any, topic: str) -> str:
        if agent is None:
            # Faust's ReplyConsumer reads the app's reply topic (agent.ask/map/join): no agent,
            # but not unknown either.
            return REPLIES if topic == str(getattr(stream.app.conf, "reply_to", "")) else "?"
        known = self._agent_names.get(id(agent))
        if known is None or known[0] is not agent:
            known = self._agent_names[id(agent)] = (agent, agent.name.rsplit(".", 1)[-1])
        return known[1]


def _count_sent(queue: deque[tuple[Any, int, str]], n: int) -> None:
    pop = queue.popleft
    for _ in range(n):
        src, seq, topic = pop()
        if seq > src.floor:  # else yielded before a reset
            src.stage_on(src.sent_by, topic).add(seq)
            src.topics[topic] = None


def _count_acked(queue: deque[tuple[Any, int, str]], n: int) -> None:
    pop = queue.popleft
    for _ in range(n):
        src, seq, topic = pop()
        if seq > src.floor:
            src.stage_on(src.acked_by, topic).add(seq)


def _count_received(probe: Probe, queue: deque[tuple[str, int, Any, str | None]], n: int) -> None:
    pop = queue.popleft
    consumed = probe.consumed
    for _ in range(n):
        topic, partition, headers, owner = pop()
        if topic not in consumed:
            consumed[topic] = None
        found = probe.from_headers(headers, owner)
        if found is not None:
            found[0].note_received(found[1], topic, partition)
        else:
            probe.inbound_for(topic).received += 1
