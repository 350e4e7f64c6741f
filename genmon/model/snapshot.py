"""The Snapshot: one immutable reading of every pipeline, shared by the screen, ``--json`` and ``check``.

Built only by :func:`genmon.model.assemble.build`; every field uses the words of
:mod:`genmon.model.vocabulary`, so the JSON reads the same as the screen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from genmon.model.ids import MissingIds
from genmon.model.vocabulary import (
    STAGES,
    AppState,
    Cause,
    Proof,
    RowKind,
    Stage,
    VerdictState,
    WorkerState,
)

if TYPE_CHECKING:
    from genmon.model.diagnosis import Diagnosis


@dataclass(frozen=True)
class Counts:
    """Distinct values that reached each stage (duplicates are counted apart, never here)."""

    yielded: int = 0
    sent: int = 0
    acked: int = 0
    received: int = 0
    processed: int = 0

    def as_tuple(self) -> tuple[int, ...]:
        return (self.yielded, self.sent, self.acked, self.received, self.processed)

    def __getitem__(self, stage: str) -> int:
        return int(getattr(self, str(stage)))


@dataclass(frozen=True)
class Verdict:
    """What the counts mean (see :class:`VerdictState`); ``stage``: the first stage values missed."""

    state: VerdictState
    text: str
    stage: Stage | None = None
    lost: int = 0
    in_flight: int = 0
    cause: Cause | None = None
    """For losses genmon saw happen."""
    error: str | None = None
    """For a crashed app: its exception, on one line (``TypeError: …``); for an unverifiable
    shortfall: the worker that fell silent (``w3 (pod-7:1) fell silent 12s ago``)."""
    proof: Proof | None = None
    """How a loss was proven (None when nothing is lost)."""
    also: Verdict | None = None
    """Beside losses genmon saw: the values missing at stages gone quiet that it did not see die —
    lost (``quiet``), or unverifiable when a worker that may have held them is gone — judged apart,
    so a seen loss never hides them. Its text ends the verdict's."""
    shortfalls: tuple[tuple[Stage, int], ...] = field(default=(), compare=False, repr=False)
    """An ``also``'s values by the stage they are missing at (``stage`` is the first, ``lost`` all
    of them): its text counts each. Said in the text, not kept in JSON."""

    def __post_init__(self) -> None:
        # Accept the words as plain strings too (JSON, hand-built test snapshots): store members.
        object.__setattr__(self, "state", VerdictState(self.state))
        if self.stage is not None:
            object.__setattr__(self, "stage", Stage(self.stage))
        if self.cause is not None:
            object.__setattr__(self, "cause", Cause(self.cause))
        if self.proof is not None:
            object.__setattr__(self, "proof", Proof(self.proof))
        if isinstance(self.also, Mapping):  # read back from JSON
            object.__setattr__(self, "also", Verdict(**self.also))

    def by_stage(self) -> tuple[tuple[Stage, int], ...]:
        """The values it counts (lost, or else waiting: stuck, unverifiable) by the stage they are
        missing at: each of ``shortfalls``, or all of them at ``stage``."""
        if self.shortfalls:
            return self.shortfalls
        count = self.lost or self.in_flight
        return ((self.stage, count),) if self.stage is not None and count else ()

    @property
    def lost_at(self) -> Stage | None:
        """The stage whose cell is shown in red: where values were lost, or are stuck."""
        return self.stage if self.state in (VerdictState.LOST, VerdictState.STUCK) else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "stage": self.stage,
            "cause": self.cause,
            "proof": self.proof,
            "lost": self.lost,
            "in_flight": self.in_flight,
            "also": self.also.to_dict() if self.also is not None else None,
            "text": self.text,
        }


@dataclass(frozen=True)
class TopicOffsets:
    """Broker truth for one topic: records on it, and how far the reading group committed."""

    topic: str
    partitions: int
    on_topic: int
    group: str | None = None
    committed: int | None = None
    committed_by: Mapping[int, int] = field(default_factory=dict)
    """partition -> the group's committed offset (absent: nothing committed)"""
    starts: Mapping[int, int] = field(default_factory=dict)
    """partition -> its first offset still on the broker (past 0: retention deleted records)"""

    @property
    def lag(self) -> int | None:
        return None if self.committed is None else max(self.on_topic - self.committed, 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partitions": self.partitions,
            "on_topic": self.on_topic,
            "group": self.group,
            "committed": self.committed,
            "lag": self.lag,
        }


@dataclass(frozen=True)
class HopLoss:
    """Values lost at a hop other than the row's own first one (see :mod:`genmon.model.hops`)."""

    row: str
    """``downstream``: the hop's row where they died; ``upstream``: the row of their origin."""
    cause: Cause | None
    """None for a silent loss (the hop's values never reached a stage, nothing seen raising)."""
    ids: MissingIds
    """In the origin row's numbering (the ids its generator gave them)."""
    note: str = ""
    """What genmon saw happen there (``agent by_user raised RuntimeError('bad click 7')``), or the
    hop's verdict (``lost at received``)."""
    stage: Stage | None = None
    """The hop's stage they never reached (None: they died inside the hop, e.g. its agent raised)."""
    state: VerdictState = VerdictState.LOST
    """``stuck`` when they wait on the broker at that hop (nothing dropped them)."""
    proof: Proof = Proof.SEEN

    @property
    def why(self) -> str:
        return self.note or (self.cause.words if self.cause else f"{self.state} at {self.stage}")

    def to_dict(self, row_key: str) -> dict[str, Any]:
        return {
            row_key: self.row,
            "cause": self.cause,
            "stage": self.stage,
            "state": self.state,
            "ids": self.ids.to_dict(),
            "note": self.note,
        }


@dataclass(frozen=True)
class PipelineSnapshot:
    """One row: a tracked generator, the topics its values were sent to, the agents that took them."""

    name: str
    generator: str
    kind: RowKind
    on: bool
    counts: Counts
    verdict: Verdict
    app_id: str = ""
    topics: tuple[str, ...] = ()
    agents: tuple[str, ...] = ()
    processed_by: dict[str, int] = field(default_factory=dict)
    """agent -> values it finished; ``counts.processed`` needs every agent reading the topic"""
    duplicates: dict[Stage, int] = field(default_factory=dict)
    reorders: int = 0
    missing: dict[Stage, MissingIds] = field(default_factory=dict)
    """stage -> ids that reached the stage before but not this one"""
    damaged: dict[Cause, MissingIds] = field(default_factory=dict)
    """cause -> ids genmon saw lost that way"""
    latency_ms: dict[str, float] = field(default_factory=dict)
    stalls: int = 0
    longest_stall: float = 0.0
    loop_stalls: int = 0
    offsets: tuple[TopicOffsets, ...] = ()
    sinks: tuple[str, ...] = ()
    """Topics its values left the app by: no agent of any app reads them (an output topic for
    another service). Judged up to acked; received and processed do not apply."""
    misnamed: tuple[str, str] | None = None
    """(sent to, read instead) when an unread topic's name is nearly one an agent reads."""
    code: str = ""
    """``path:line`` of the row's generator function (what a CI annotation points at), or empty."""
    downstream: tuple[HopLoss, ...] = ()
    """This row's values that died at a later hop (the hop's row, the cause, the ids)."""
    upstream: tuple[HopLoss, ...] = ()
    """A hop's row: the origins of the values that died here (their rows, the cause, their ids)."""
    came_from: tuple[HopLoss, ...] = ()
    """A hop's row with a silent loss: the origins of the values it lost, per origin row (moved into
    ``upstream``, and into each origin row's ``downstream``, by :func:`genmon.model.hops.with_hops`)."""
    """Broker truth for the topics this pipeline's values were sent to (polled every 2 s)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", RowKind(self.kind))

    @property
    def send_failed(self) -> int:
        """Delivery errors, plus sends initiated that never got an outcome once settled."""
        ids = self.damaged.get(Cause.SEND_FAILED)
        errors = ids.count if ids else 0
        v = self.verdict
        if v.lost_at == Stage.ACKED and v.cause is None:
            return errors + v.lost
        return errors

    def applies(self, stage: Stage) -> bool:
        """Whether ``stage`` means anything for this row: received and processed do not for a row
        whose every topic is a sink (an output topic no agent reads)."""
        if stage in (Stage.RECEIVED, Stage.PROCESSED) and self.sinks:
            return not set(self.topics) <= set(self.sinks)
        return True

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "app": self.app_id,
            "generator": self.generator,
            "code": self.code or None,
            "kind": self.kind,
            "on": self.on,
            "topics": list(self.topics),
            "sinks": list(self.sinks),
            "agents": list(self.agents),
            "counts": {stage: self.counts[stage] if self.applies(stage) else None for stage in STAGES},
            "send_failed": self.send_failed,
            "processed_by": dict(self.processed_by),
            "duplicates": dict(self.duplicates),
            "reorders": self.reorders,
            "missing": {stage: ids.to_dict() for stage, ids in self.missing.items()},
            "damaged": {cause: ids.to_dict() for cause, ids in self.damaged.items()},
            "downstream": [loss.to_dict("hop") for loss in self.downstream],
            "upstream": [loss.to_dict("origin") for loss in self.upstream],
            "latency_ms": {key: round(value, 3) for key, value in self.latency_ms.items()},
            "stalls": {
                "count": self.stalls,
                "longest_seconds": round(self.longest_stall, 3),
                "loop_stalls": self.loop_stalls,
            },
            "broker_offsets": [o.to_dict() for o in self.offsets],
            "verdict": self.verdict.to_dict(),
        }


@dataclass(frozen=True)
class Outage:
    """A spell in which the broker did not answer: ``state`` is the worst seen ("down" — nothing
    listens — or "not answering"); ``start``/``end`` on the reader's monotonic clock (``end`` None:
    ongoing); ``since``/``until``: the same on the wall clock, as people read it (HH:MM:SS)."""

    state: str
    start: float
    end: float | None = None
    since: str = ""
    until: str | None = None

    @classmethod
    def begin(cls, state: str, now: float, wall: float) -> Outage:
        return cls(state, now, None, wall_clock(wall))

    def ended(self, now: float, wall: float) -> Outage:
        return replace(self, end=now, until=wall_clock(wall))

    def worse(self, state: str) -> Outage:
        return self if self.state == "down" else replace(self, state=state)

    def overlaps(self, start: float, end: float) -> bool:
        return self.start <= end and (self.end is None or self.end >= start)

    def window(self) -> str:
        """``17:40:03 to 17:40:13`` or ``since 17:40:03``."""
        return f"{self.since} to {self.until}" if self.until else f"since {self.since}"

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "since": self.since, "until": self.until}


def wall_clock(wall: float) -> str:
    import time

    return time.strftime("%H:%M:%S", time.localtime(wall))


@dataclass(frozen=True)
class BrokerInfo:
    """The broker as genmon last measured it: ``up`` means it answered a request (not merely that its
    process exists); ``state`` says how it failed otherwise; ``outages``: the spells it did not
    answer during this run; ``memory_bytes``: the embedded broker's resident memory."""

    url: str
    embedded: bool
    up: bool
    state: str = ""
    outages: tuple[Outage, ...] = ()
    memory_bytes: int | None = None
    memory_warning_bytes: int | None = None
    restarts: tuple[str, ...] = ()
    """When genmon restarted the embedded broker (HH:MM:SS): it came back empty."""

    @property
    def condition(self) -> str:
        return self.state or ("up" if self.up else "down")

    @property
    def memory_high(self) -> bool:
        return bool(
            self.memory_bytes and self.memory_warning_bytes and self.memory_bytes > self.memory_warning_bytes
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "embedded": self.embedded,
            "up": self.up,
            "state": self.condition,
            "outages": [o.to_dict() for o in self.outages],
            "memory_bytes": self.memory_bytes,
            "restarts": list(self.restarts),
        }


@dataclass(frozen=True)
class LoopStalls:
    """How late Faust's event loop ran a 50 ms heartbeat: every delay over 250 ms is a stall."""

    count: int = 0
    longest: float = 0.0
    longest_at: str | None = None
    ongoing: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "longest_seconds": round(self.longest, 3),
            "longest_at": self.longest_at,
            "ongoing_seconds": round(self.ongoing, 3),
        }


@dataclass(frozen=True)
class AppStatus:
    """One Faust app under the host: the demo's catalogue runs one app per bug."""

    app_id: str
    state: AppState
    error: str | None = None
    pipelines: tuple[str, ...] = ()
    consumed: tuple[str, ...] = ()
    """Topics this app's agents read."""
    stalls: LoopStalls = field(default_factory=LoopStalls)
    unassigned: tuple[str, ...] = ()
    """Topics this app's agents read that its consumer has no partition of (while it runs)."""
    not_imported: tuple[str, ...] = ()
    """``module: error`` per module its autodiscovery could not import."""
    mismatched: tuple[str, ...] = ()
    """``topic: on the broker it has 1 partition, the app declares 4`` per topic its agents read."""
    readers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """topic -> this app's agents that read it (the map draws an edge only to those)."""
    unreporting: int = 0
    """Members the broker lists in the app's consumer group beyond the workers that report to genmon:
    another instance of the app, or a worker whose reports cannot reach genmon (denied by an ACL,
    genmon not attached)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "app": self.app_id,
            "state": self.state,
            "error": self.error,
            "unreporting": self.unreporting,
            "not_imported": list(self.not_imported),
            "mismatched": list(self.mismatched),
            "pipelines": list(self.pipelines),
            "consumes": list(self.consumed),
            "unassigned": list(self.unassigned),
            "loop_stalls": self.stalls.to_dict(),
        }


@dataclass(frozen=True)
class WorkerStatus:
    """One worker process as the watcher last heard of it."""

    number: int
    """``w1`` … in the order the watcher first heard of them; the prefix of fleet-merged ids."""
    name: str
    """``host:pid``"""
    app_ids: tuple[str, ...]
    alive: bool
    final: bool
    """It said goodbye (a clean stop), as opposed to falling silent."""
    uptime: float
    age: float
    """Seconds since its last report arrived."""
    shares: Mapping[Stage, int] = field(default_factory=dict)
    """Distinct values it reported at each stage (its share of the fleet's work)."""
    stalls: LoopStalls = field(default_factory=LoopStalls)

    @property
    def label(self) -> str:
        return f"w{self.number}"

    @property
    def state(self) -> WorkerState:
        if self.alive:
            return WorkerState.ALIVE
        return WorkerState.STOPPED if self.final else WorkerState.GONE

    def to_dict(self) -> dict[str, Any]:
        return {
            "worker": self.label,
            "name": self.name,
            "apps": list(self.app_ids),
            "state": str(self.state),
            "alive": self.alive,
            "final": self.final,
            "uptime": round(self.uptime, 1),
            "report_age": round(self.age, 2),
            "shares": {str(stage): n for stage, n in self.shares.items()},
            "loop_stalls": self.stalls.to_dict(),
        }


@dataclass(frozen=True)
class Snapshot:
    """Everything the screen or the JSON output shows at one moment."""

    app_id: str
    broker: BrokerInfo
    app_state: AppState
    pipelines: tuple[PipelineSnapshot, ...] = ()
    error: str | None = None
    log_path: str | None = None
    settle_seconds: float = 5.0
    uptime: float = 0.0
    stalls: LoopStalls = field(default_factory=LoopStalls)
    apps: tuple[AppStatus, ...] = ()
    workers: tuple[WorkerStatus, ...] = ()
    """The worker processes the snapshot was merged from."""
    unverified_reports: Mapping[str, int] = field(default_factory=dict)
    """With a secret: reports not merged because they do not verify, by the key id they claim
    (``unsigned``: no signature at all)."""
    rejected_reports: int = 0
    """Records on the reports topic the watcher refused (not a report it can read): they changed nothing."""
    switches_refused: str | None = None
    """Why the broker refused the watcher's last switch (no WRITE on genmon's control topic), or None."""
    draining: tuple[str, ...] = ()
    """At the end of a ``check``/``--headless`` run: rows still draining when its wait for them
    ran out (their shortfall is neither delivered nor lost yet)."""

    @property
    def fleet(self) -> bool:
        """Several workers, or one that is gone: worth a panel of their own."""
        return len(self.workers) > 1 or any(not w.alive for w in self.workers)

    @property
    def consumed_topics(self) -> set[str]:
        """Every topic some agent of some app reads."""
        return {topic for app in self.apps for topic in app.consumed}

    @property
    def unassigned_topics(self) -> set[str]:
        """Topics some agent reads but no running app's consumer has a partition of."""
        return {topic for app in self.apps for topic in app.unassigned} - {
            topic for app in self.apps for topic in app.consumed if topic not in app.unassigned
        }

    def topics_read_by(self, app_id: str) -> tuple[str, ...]:
        """The topics the agents of one app read."""
        return next((app.consumed for app in self.apps if app.app_id == app_id), ())

    def diagnose(self, pipe: PipelineSnapshot) -> Diagnosis:
        """Why ``pipe`` looks the way it does, with what the other apps read in view."""
        from genmon.model.diagnosis import diagnose

        return diagnose(pipe, self.consumed_topics, self.topics_read_by(pipe.app_id), self.unassigned_topics)

    def pipeline(self, name: str) -> PipelineSnapshot:
        for pipe in self.pipelines:
            if pipe.name == name:
                return pipe
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        from genmon.version import __version__

        return {
            "genmon": __version__,
            "app": self.app_id,
            "app_state": self.app_state,
            "error": self.error,
            "broker": self.broker.to_dict(),
            "settle_seconds": self.settle_seconds,
            "uptime_seconds": round(self.uptime, 3),
            "log": self.log_path,
            "loop_stalls": self.stalls.to_dict(),
            "apps": [app.to_dict() for app in self.apps],
            "workers": [worker.to_dict() for worker in self.workers],
            "pipelines": [
                {**pipe.to_dict(), "diagnosis": self.diagnose(pipe).to_dict()} for pipe in self.pipelines
            ],
            "still_draining": list(self.draining),
            "rejected_reports": self.rejected_reports,
            "unverified_reports": dict(self.unverified_reports),
            "switches_refused": self.switches_refused,
        }
