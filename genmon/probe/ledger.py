"""What the sensor's hooks saw, waiting to be counted: Faust's hot path appends, a reader counts.

Counting a value where Faust hands it over — parse its header, find the stage's id set, add the id,
note its latency — is slow inside a running Faust worker, where every hook starts with cold caches
(docs/PERFORMANCE.md has the numbers). So the hooks only append what they saw to a ``deque`` (one C
call; thread safe), and :meth:`Ledger.count` counts the backlog in one loop: on the reader's thread
just before a source is read (the publisher's, the sampler's), before a loss is recorded, and on the
loop's thread when a backlog grows past ``BACKLOG`` (a probe nobody reads).

Order. A value enters the stages' queues in stage order (sent before acked before received before
processed), so the lengths are taken later stages first: every entry counted in a later stage's
queue had its earlier stages' entries queued before — and counted in the same pass. A reading never
shows a later stage ahead of an earlier one because of the backlog.

Runs. A backlog is mostly long runs of one source's ids on one topic (for processed: and one agent),
all new: a run goes to its source in one call, which adds it to the id set in one C call when every
id is new, and id by id otherwise (``Source.note_received``, ``Source.note_processed``). Received
values of one topic come off its partitions interleaved: a run spans partitions, and the reorder
check (per partition) still looks at each id.

Flat queues. An entry goes into its queue as its fields, one after another (``deque.extend`` of a
tuple made and dropped at once), and the count pops them field by field. Entries wait up to half a
second: kept as tuples, four a value, every one of them would outlive the collections of Python's
young generation and be promoted to the oldest one, multiplying the young collections and setting
off full ones. In a flat queue nothing is allocated per entry that outlives the hook (``deque.extend``
is one C call: an entry's fields go in together, as one ``append`` did; ``len`` of a queue is its
entries times ``SENT`` / ``RECEIVED`` / ``PROCESSED`` fields).

Everything that changes a source's id sets — the count, a recorded loss, a reset — holds ``lock``.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from genmon.model.vocabulary import REPLIES
from genmon.probe.landing import Landed, by_partition
from genmon.probe.touchpoints import channel_name

if TYPE_CHECKING:
    from genmon.probe.runtime import Probe

BACKLOG = 200_000
"""Fields (an entry is 3 to 5) one queue holds before a hook counts them itself (nobody read the
probe for that long)."""
SENT = 3
"""Fields of an entry of ``sent``."""
ACKED = 5
"""Fields of an entry of ``acked``."""
RECEIVED = 5
"""Fields of an entry of ``received``."""
PROCESSED = 5
"""Fields of an entry of ``processed``."""


class Ledger:
    """The four queues of one probe, and the lock every change of an id set holds."""

    __slots__ = ("_agent_names", "acked", "lock", "processed", "received", "sent")

    def __init__(self) -> None:
        self.sent: deque[Any] = deque()
        """``source, id, topic`` of a send Faust is about to make (its header is stamped)."""
        self.acked: deque[Any] = deque()
        """``source, id, topic, partition, offset`` of a send the broker acknowledged (a channel: its
        queues took it; partition and offset -1). The ints, not the acknowledgement: nothing the
        hook keeps outlives it as an object of its own."""
        self.received: deque[Any] = deque()
        """``topic, partition, offset, genmon's header (its value, or None), app run`` of a message
        the consumer took in (offset -1: a channel's)."""
        self.processed: deque[Any] = deque()
        """``topic or None for a channel, stream, genmon's header (its value, or None), agent, ns
        since the epoch``: an agent finished an event."""
        self.lock = threading.RLock()
        self._agent_names: dict[int, tuple[Any, str]] = {}

    def __len__(self) -> int:
        """Entries waiting, in all four queues."""
        sends = len(self.sent) // SENT + len(self.acked) // ACKED
        return sends + len(self.received) // RECEIVED + len(self.processed) // PROCESSED

    def count(self, probe: Probe) -> None:
        """Move every entry queued so far into its source's id sets (any thread)."""
        with self.lock:
            # later stages first: see the module docstring
            processed, received = len(self.processed) // PROCESSED, len(self.received) // RECEIVED
            acked, sent = len(self.acked) // ACKED, len(self.sent) // SENT
            if sent:
                for src, topic, seqs in _sends(self.sent, sent):
                    src.stage_on(src.sent_by, topic).add_all(seqs)
                    src.topics[topic] = None
            if acked:
                for src, topic, seqs, landed in _acks(self.acked, acked):
                    src.stage_on(src.acked_by, topic).add_all(seqs)
                    src.note_landed(topic, landed)
            if received:
                _count_received(probe, self.received, received)
            if processed:
                self._count_processed(probe, processed)

    def _count_processed(self, probe: Probe, n: int) -> None:
        pop = self.processed.popleft
        from_header = probe.from_header
        names = self._agent_names
        run: tuple[Any, str | None, str] | None = None  # (source, topic, agent) of the entries in seqs
        seqs: list[int] = []
        latencies: list[int] = []
        for _ in range(n):
            topic, stream, raw, agent, at_ns = pop(), pop(), pop(), pop(), pop()
            if topic is None:
                topic = channel_name(stream.app, stream.channel)
            known = names.get(id(agent))
            if known is not None and known[0] is agent:
                name = known[1]
            else:
                name = self._agent_name(agent, stream, topic)
            found = from_header(raw, last=True)
            if found is None:
                inbound = probe.inbound_for(topic)
                inbound.processed[name] = inbound.processed.get(name, 0) + 1
                continue
            src, seq, yielded_at = found
            if run is None or run[0] is not src or run[1] != topic or run[2] != name:
                if seqs:
                    run[0].note_processed(run[1], run[2], seqs, latencies)  # type: ignore[index]
                run, seqs, latencies = (src, topic, name), [], []
            seqs.append(seq)
            latencies.append(at_ns // 1000 - yielded_at)
        if seqs:
            run[0].note_processed(run[1], run[2], seqs, latencies)  # type: ignore[index]

    def _agent_name(self, agent: Any, stream: Any, topic: str) -> str:
        """The row name of an agent the count has not named yet (kept by ``id``, with the agent, for
        the look-up in :meth:`_count_processed`), or of a reply topic's reader."""
        if agent is None:
            # Faust's ReplyConsumer reads the app's reply topic (agent.ask/map/join): no agent,
            # but not unknown either.
            return REPLIES if topic == str(getattr(stream.app.conf, "reply_to", "")) else "?"
        known = self._agent_names[id(agent)] = (agent, agent.name.rsplit(".", 1)[-1])
        return known[1]


def _sends(queue: deque[Any], n: int) -> Iterator[tuple[Any, str, list[int]]]:
    """The next ``n`` ``source, id, topic`` entries as runs of ids with one source and topic,
    without the ids from before a source's reset."""
    pop = queue.popleft
    src: Any = None
    topic = ""
    seqs: list[int] = []
    for _ in range(n):
        source, seq, to = pop(), pop(), pop()
        if source is not src or to != topic:
            if seqs:
                yield src, topic, seqs
            src, topic, seqs = source, to, []
        if seq > source.floor:  # else yielded before a reset
            seqs.append(seq)
    if seqs:
        yield src, topic, seqs


def _acks(queue: deque[Any], n: int) -> Iterator[tuple[Any, str, list[int], Landed]]:
    """The next ``n`` ``source, id, topic, partition, offset`` entries as runs of one source and
    topic: their ids, and per partition the ids and the offsets they landed at, without the ids
    from before a source's reset."""
    pop = queue.popleft
    src: Any = None
    topic = ""
    seqs: list[int] = []
    partitions: list[int] = []
    offsets: list[int] = []
    for _ in range(n):
        source, seq, to, partition, offset = pop(), pop(), pop(), pop(), pop()
        if source is not src or to != topic:
            if seqs:
                yield src, topic, seqs, by_partition(seqs, partitions, offsets)
            src, topic, seqs, partitions, offsets = source, to, [], [], []
        if seq > source.floor:  # else yielded before a reset
            seqs.append(seq)
            partitions.append(partition)
            offsets.append(offset)
    if seqs:
        yield src, topic, seqs, by_partition(seqs, partitions, offsets)


def _count_received(probe: Probe, queue: deque[Any], n: int) -> None:
    """Count received entries in runs of one source, topic and app run; each run also moves the
    app's positions (the first and last offset it received per partition). Only genmon's own values
    move them: what they prove is about genmon's values, and a later one of ours on the partition
    (or the group's commit) passes a skipped value just as well as anyone's record would."""
    pop = queue.popleft
    consumed = probe.consumed
    from_header = probe.from_header
    run: tuple[Any, str, Any] | None = None  # (source, topic, app run) of the entries in seqs
    seqs: list[int] = []
    partitions: list[int] = []
    offsets: list[int] = []
    for _ in range(n):
        topic, partition, offset, raw, owner = pop(), pop(), pop(), pop(), pop()
        if topic not in consumed:
            consumed[topic] = None
        found = from_header(raw, owner)
        if found is None:
            probe.inbound_for(topic).received += 1
            continue
        src = found[0]
        if run is None or run[0] is not src or run[1] != topic or run[2] != owner:
            if seqs:
                _received_run(probe, run, seqs, partitions, offsets)
            run, seqs, partitions, offsets = (src, topic, owner), [], [], []
        seqs.append(found[1])
        partitions.append(partition)
        offsets.append(offset)
    if seqs:
        _received_run(probe, run, seqs, partitions, offsets)


def _received_run(probe: Probe, run: Any, seqs: list[int], partitions: list[int], offsets: list[int]) -> None:
    src, topic, owner = run
    src.note_received(topic, seqs, partitions)
    if offsets[-1] >= 0:  # a channel's messages have no offset (-1): nothing orders them
        if not src.foreign:
            src.note_read_here(topic, seqs, partitions, offsets)
        # each partition's first and last offset in the run, in C (a later key overwrites)
        lasts = dict(zip(partitions, offsets, strict=True))
        firsts = dict(zip(reversed(partitions), reversed(offsets), strict=True))
        probe.positions.note(owner, topic, firsts, lasts)
