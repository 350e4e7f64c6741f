"""genmon's vocabulary: the only place a stage, cause, row kind, verdict state or app state is spelled.

Every other module (probe, host, screen, report, JSON) uses these members, so a typo is a NameError
at import, not a silent mismatch between two strings. Members are ``str`` subclasses: they compare
equal to their value, serialize to JSON as plain strings and print as their value, so the JSON and
the screen read exactly as before. See docs/ARCHITECTURE.md, "Vocabulary".
"""

from __future__ import annotations

from enum import Enum


class Word(str, Enum):
    """A member that is its own string value everywhere (``str()``, f-strings, JSON)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class Stage(Word):
    """Where a value has got to, in the order values travel."""

    YIELDED = "yielded"
    """the tracked generator produced it (genmon's wrapper)"""
    SENT = "sent"
    """``Topic.send`` started publishing it (``Sensor.on_send_initiated``)"""
    ACKED = "acked"
    """the broker acknowledged it (``Sensor.on_send_completed``)"""
    RECEIVED = "received"
    """an agent's stream took it off its queue (``Sensor.on_message_in``)"""
    PROCESSED = "processed"
    """every agent reading its topic finished it without raising (``Sensor.on_stream_event_out``)"""


STAGES: tuple[Stage, ...] = tuple(Stage)


class Cause(Word):
    """A loss genmon *saw* happen (not inferred from silence), named after what went wrong."""

    UNAWAITED = "unawaited"
    SEND_RAISED = "send_raised"
    """``Topic.send`` raised before the producer took the value (its codec could not serialize it)."""
    SEND_FAILED = "send_failed"
    DECODE_FAILED = "decode_failed"
    CRASHED = "crashed"
    BROKER = "broker"
    """Not an id the probe saw damaged: the values stopped while the broker did not answer
    requests (an outage genmon measured), so the loss is put on the broker, not the app."""
    SKIPPED = "skipped"
    """The consumer group's position passed the value's offset and it was never received (a
    rebalance, or a consumer that seeks): proven by Kafka's order, judged by the model."""
    LATE_JOIN = "late_join"
    """Skipped because the group's consumer started past it: no committed offset and
    ``consumer_auto_offset_reset='latest'`` when it first read the partition."""
    EXPIRED = "expired"
    """Deleted by retention before the group read it: the partition now starts past its offset."""
    UNASSIGNED = "unassigned"
    """Stuck, not lost: the values are on a topic an agent reads that the app's consumer has no
    partition of (it did not exist when the agents subscribed)."""
    AGENT_DEAD = "agent_dead"
    """Stuck, not lost: the agent that reads the topic crashed and its consumer has read nothing
    of the topic since; the values wait on the broker."""

    @property
    def judged(self) -> bool:
        """Judged by the model from outages, positions or assignments, not recorded by the probe
        per value."""
        return self in _JUDGED

    @property
    def stuck(self) -> bool:
        """The values are still on the broker: nothing took them, nothing dropped them."""
        return self in (Cause.UNASSIGNED, Cause.AGENT_DEAD)

    @property
    def proof(self) -> Proof:
        """How a loss of this cause is proven."""
        if self == Cause.BROKER:
            return Proof.OUTAGE
        if self in (Cause.SKIPPED, Cause.LATE_JOIN, Cause.EXPIRED):
            return Proof.POSITION
        if self.stuck:
            return Proof.QUIET  # nothing read the topic for the settle timeout, and why is known
        return Proof.SEEN

    @property
    def stage(self) -> Stage:
        """The stage the value never reached because of this cause."""
        return _CAUSE_STAGE[self]

    @property
    def words(self) -> str:
        """How the screen, the verdicts and the README say it."""
        return _CAUSE_WORDS[self]


_CAUSE_STAGE = {
    Cause.UNAWAITED: Stage.SENT,
    Cause.SEND_RAISED: Stage.SENT,
    Cause.SEND_FAILED: Stage.ACKED,
    Cause.DECODE_FAILED: Stage.RECEIVED,
    Cause.CRASHED: Stage.PROCESSED,
    Cause.BROKER: Stage.ACKED,
    Cause.SKIPPED: Stage.RECEIVED,
    Cause.LATE_JOIN: Stage.RECEIVED,
    Cause.EXPIRED: Stage.RECEIVED,
    Cause.UNASSIGNED: Stage.RECEIVED,
    Cause.AGENT_DEAD: Stage.RECEIVED,
}
_JUDGED = frozenset(
    (Cause.BROKER, Cause.SKIPPED, Cause.LATE_JOIN, Cause.EXPIRED, Cause.UNASSIGNED, Cause.AGENT_DEAD)
)
_CAUSE_WORDS = {
    Cause.UNAWAITED: "send not awaited",
    Cause.SEND_RAISED: "send raised",
    Cause.SEND_FAILED: "delivery failed",
    Cause.DECODE_FAILED: "decode failed",
    Cause.CRASHED: "agent raised",
    Cause.BROKER: "with the broker",
    Cause.SKIPPED: "skipped",
    Cause.LATE_JOIN: "skipped at the group's first read",
    Cause.EXPIRED: "deleted by retention",
    Cause.UNASSIGNED: "topic assigned to no consumer",
    Cause.AGENT_DEAD: "agent stopped reading",
}
CAUSES: tuple[Cause, ...] = tuple(c for c in Cause if not c.judged)
"""The causes the probe records per value (the others are judged from outages and positions)."""


class Proof(Word):
    """How a verdict of loss was proven."""

    SEEN = "seen"
    """A hook saw the value's loss happen (an exception, a decode error, an unawaited send)."""
    POSITION = "position"
    """Kafka delivers a partition in offset order: the reading group's position passed the
    value's offset and the value was never received."""
    QUIET = "quiet"
    """No order to reason from: the later stage has not moved for the settle timeout."""
    OUTAGE = "outage"
    """The values stopped while the broker did not answer."""


class RowKind(Word):
    """What a row's source is: a tracked generator (async or sync), other sending code, or a topic."""

    ASYNC = "async"
    """an async generator function (or async iterable) marked with ``@genmon.track``"""
    SYNC = "sync"
    """a plain generator function marked with ``@genmon.track``"""
    SENDER = "sender"
    """code genmon does not track that sends (a task, a timer, an agent forwarding): one value per send"""
    TOPIC = "topic"
    """a topic an agent reads that no followed source sends to"""

    @property
    def switchable(self) -> bool:
        """Only tracked generators can be switched off: genmon owns their loop, not a task's."""
        return self in (RowKind.ASYNC, RowKind.SYNC)


class VerdictState(Word):
    """What a row's counts mean."""

    OK = "ok"
    IN_FLIGHT = "in_flight"
    PAUSED = "paused"
    LOST = "lost"
    CRASHED = "crashed"
    IDLE = "idle"
    """a topic row: an agent reads it, genmon follows nothing that sends to it"""
    UNVERIFIABLE = "unverifiable"
    """a shortfall a worker that died without a final report may explain: not provably lost"""
    STUCK = "stuck"
    """values wait on the broker where nothing reads them — a topic assigned to no consumer, an agent
    that crashed and stopped reading: not lost (they are still there), but they will not arrive
    until that is fixed"""

    @property
    def style(self) -> str:
        """The Rich style of the verdict's text, on the screen and in the headless report."""
        return _VERDICT_STYLE[self]

    @property
    def problem(self) -> bool:
        return self in (VerdictState.LOST, VerdictState.CRASHED, VerdictState.STUCK)


_VERDICT_STYLE = {
    VerdictState.OK: "green",
    VerdictState.IN_FLIGHT: "yellow",
    VerdictState.PAUSED: "dim",
    VerdictState.LOST: "bold red",
    VerdictState.CRASHED: "bold red",
    VerdictState.IDLE: "dim",
    VerdictState.UNVERIFIABLE: "magenta",
    VerdictState.STUCK: "bold red",
}


class RowState(Word):
    """What a row is counted under in the header and sorted by: its verdict's state, or ``stalled``
    when its generator or its app's loop stalled and nothing worse is true. Members are in the
    order problems sort first."""

    CRASHED = "crashed"
    LOST = "lost"
    STUCK = "stuck"
    STALLED = "stalled"
    UNVERIFIABLE = "unverifiable"
    IN_FLIGHT = "in_flight"
    PAUSED = "paused"
    OK = "ok"
    IDLE = "idle"

    @property
    def rank(self) -> int:
        """Where rows of this state sort with problems first (0: the worst)."""
        return _ROW_STATES.index(self)

    @property
    def problem(self) -> bool:
        """A row ``f`` keeps with "problems only", and the header counts as one."""
        return self in (
            RowState.CRASHED,
            RowState.LOST,
            RowState.STUCK,
            RowState.STALLED,
            RowState.UNVERIFIABLE,
        )

    @property
    def words(self) -> str:
        """How the header says it (``in flight``)."""
        return self.value.replace("_", " ")


_ROW_STATES: tuple[RowState, ...] = tuple(RowState)


class AppState(Word):
    """The life of one Faust app under genmon."""

    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    CRASHED = "crashed"


class WorkerState(Word):
    """Where a fleet's worker run is, as the watcher last heard of it."""

    ALIVE = "alive"
    """It reports."""
    STOPPED = "stopped"
    """It said goodbye: a final report, a clean stop."""
    GONE = "gone"
    """It fell silent without a final report (killed, or cut off): what it held is unverifiable."""


REPLIES = "replies"
"""What reads an app's reply topic (``agent.ask``/``map``/``join``): Faust's reply consumer, not an
agent. Shown where an agent's name would be."""
REPLIES_WAIT = "replies wait for Faust's reply consumer"
"""The in-flight verdict of replies sent before Faust's reply consumer subscribed to the reply topic."""
CHANNEL = "channel:"
"""How an in-memory channel (``app.channel()``) is named where a topic's name would be: channels
have no names of their own, so ``channel:<the agents that read it>``."""


class Problem(Word):
    """The kinds of problem ``genmon check --fail-on`` can fail on."""

    LOSS = "loss"
    DECODE = "decode"
    CRASH = "crash"
    DUPLICATE = "duplicate"
    REORDER = "reorder"
    UNREAD = "unread"
    """Values went to a topic no agent reads that ``--sink`` did not declare (off by default)."""
    STUCK = "stuck"
    """Values wait on a topic nothing reads: assigned to no consumer, or its agent stopped reading."""


PROBLEMS: tuple[Problem, ...] = tuple(Problem)
DEFAULT_FAIL_ON: tuple[Problem, ...] = (Problem.LOSS, Problem.DECODE, Problem.CRASH, Problem.STUCK)
