"""Why a pipeline looks the way it does, and what to change: plain words from counts and ids.

Kept next to the Snapshot because the screen, the headless report and the README all explain a
verdict the same way. Each explanation quotes its evidence (counts, ids) so it can be checked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from genmon.model.ids import MissingIds
from genmon.model.snapshot import Counts, PipelineSnapshot
from genmon.model.text import ended, plural, short_name
from genmon.model.vocabulary import REPLIES_WAIT, Cause, RowKind, Stage, VerdictState

PUMP_FIX = """\
@app.task
async def pump():
    async for value in {gen}():
        await topic.send(value=value)"""
SYNC_PUMP_FIX = """\
@app.task
async def pump():
    for value in {gen}():             # a plain generator: plain for (async for raises TypeError)
        await topic.send(value=value)"""


def pump_fix(kind: RowKind, gen: str) -> str:
    """A fix that runs for this kind of generator: ``async for`` over a plain generator is itself a
    bug (``TypeError: 'generator' object is not an async iterable``)."""
    return (SYNC_PUMP_FIX if kind == RowKind.SYNC else PUMP_FIX).format(gen=gen)


CATCH_FIX = (
    "async for value in stream:\n    try:\n        handle(value)\n    except Exception:\n"
    "        log.exception('skipping %r', value)"
)


@dataclass(frozen=True)
class Diagnosis:
    why: str
    fix: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"why": self.why, "fix": self.fix}


def _outside(pipe: PipelineSnapshot) -> Diagnosis:
    """A topic fed by code genmon does not follow: counted by offsets, stuck when it cannot arrive."""
    c, v = pipe.counts, pipe.verdict
    agents = ", ".join(pipe.agents) or "an agent"
    topic = pipe.topics[0]
    follow = f"To follow values by id, feed it: genmon check -A … --feed {topic}=values.jsonl."
    if v.state == VerdictState.STUCK and v.cause == Cause.UNASSIGNED:
        return Diagnosis(
            f"{agents} reads {topic}, but the app's consumer was assigned no partition of it: the topic "
            f"did not exist when the group subscribed (Faust logs 'Ignoring missing topic'), and another "
            f"producer created it with its first records. {v.in_flight:,} records wait there until the "
            "consumer's next metadata refresh (5 minutes by default), or a restart.",
            "# create the app's topics before it starts (an admin, or genmon's --create-topics);\n"
            "# or have Faust create them: app.topic(..., partitions=N) and await topic.maybe_declare()",
        )
    if v.state == VerdictState.STUCK:
        return Diagnosis(
            f"{agents} reads {topic} and stopped: {v.error or v.text}. {v.in_flight:,} records from other "
            "producers wait on the broker.",
            "# fix what made the agent stop, then restart the app: the records are still there",
        )
    if c.received or v.in_flight:
        waiting = f"; {v.in_flight:,} more wait on the broker" if v.in_flight else ""
        return Diagnosis(
            f"{agents} reads {topic}; it received {c.received:,} values from code genmon does not follow "
            f"(another service, or a producer outside this app){waiting}. They have no ids: genmon counts "
            f"them with Kafka's offsets. {follow}"
        )
    return Diagnosis(
        f"{agents} reads {topic}; nothing sends to it. Wrap a generator that feeds it with @genmon.track, "
        f"or feed it: --feed {topic}=values.jsonl."
    )


def _ids(ids: MissingIds | None) -> str:
    return f"ids {ids.text()}" if ids else ""


def diagnose(
    pipe: PipelineSnapshot,
    consumed: Iterable[str] = (),
    nearby: Iterable[str] = (),
    unassigned: Iterable[str] = (),
) -> Diagnosis:
    """Explain ``pipe``.

    ``consumed``: the topics some agent of any app reads (to spot a wrong topic); ``nearby``: the
    topics the agents of the pipeline's own app read (to name what was probably meant);
    ``unassigned``: topics agents read that no running consumer has a partition of.
    """
    c, v = pipe.counts, pipe.verdict
    if pipe.kind == RowKind.TOPIC:
        return _outside(pipe)
    gen = short_name(pipe.generator)
    topic = pipe.topics[0] if pipe.topics else "the topic"
    damaged = pipe.damaged
    if v.state == VerdictState.CRASHED:
        error = v.error or "?"
        if "PartitionsMismatch" in error:
            return Diagnosis(
                f"a configuration error stopped the Faust app of this pipeline: {error}. A table's "
                "changelog topic must have as many partitions as the topic the table is filled from; "
                "the topics on the broker were created with other counts than the app declares. "
                "Nothing in the agent's code is at fault.",
                "app = faust.App(..., topic_partitions=N)  # N = the source topic's partition count\n"
                "# or delete the app's topics (and its -changelog topics) and let Faust create them",
            )
        return Diagnosis(
            f"the Faust app of this pipeline stopped: {error}. "
            "Nothing of it runs; the other pipelines are not affected.",
            _crash_fix(error),
        )
    if v.state == VerdictState.UNVERIFIABLE and v.error and "other consumer" in v.error:
        stage = v.stage or Stage.RECEIVED
        return Diagnosis(
            f"{v.in_flight} values have not reached {stage} here, and the broker says {v.error}: "
            f"another instance of the app (same app id, so the same consumer group) reads them. "
            f"{_ids(pipe.missing.get(stage))} may well have been handled there; genmon cannot follow it.",
            "# one genmon per app id on a shared broker, or give each run its own id:\n"
            "# genmon --app-id mine-2 (demo), or faust.App('mine-2', ...)",
        )
    if v.state == VerdictState.UNVERIFIABLE:
        where = v.stage or "a later stage"
        return Diagnosis(
            f"{v.in_flight} values have not reached {where}, and worker {v.error or '?'} without a "
            "final report: it may have handled them after its last report, or died holding them. "
            f"{_ids(pipe.missing.get(v.stage) if v.stage else None)} cannot be verified either way. Once the "
            "group has rebalanced, values its partitions still held are read again by the other workers.",
            "# why the worker died: its log, its pod's events (OOMKilled? evicted?)\n"
            "# values read again by the other workers arrive as duplicates, not losses",
        )
    if pipe.downstream and v.state in (VerdictState.LOST, VerdictState.STUCK) and v.stage is None:
        parts = "; ".join(f"at {d.row}, ids {d.ids.text()}: {d.why}" for d in pipe.downstream)
        first = pipe.downstream[0]
        fix = {
            Cause.CRASHED: CATCH_FIX,
            Cause.DECODE_FAILED: "# send the hop's topic values of its value_type",
            Cause.SEND_RAISED: "# the hop sends what its topic's serializer cannot take:\n"
            "# send a faust.Record, or JSON's types",
            Cause.UNAWAITED: "await topic.send(value=...)  # in the hop: a send never awaited never leaves",
        }.get(first.cause or Cause.BROKER, "# see the hop's row for its fix")
        return Diagnosis(
            f"every stage of this row was reached, but values made from these died at a later hop ({parts}). "
            + (
                "The hop dropped its send before giving it an id, so its own row does not count them"
                if first.cause == Cause.UNAWAITED
                else "The hop's own row counts them in its own numbering"
            )
            + "; these are the ids this generator gave them.",
            fix,
        )
    if v.cause == Cause.UNASSIGNED:
        return Diagnosis(
            f"acked {c.acked}, received {c.received}: {v.error or 'the topic is assigned to no consumer'}. "
            "It did not exist when the agents subscribed; Faust notices a new topic only at its next "
            "metadata refresh (consumer_metadata_max_age_ms, 5 minutes by default), so "
            f"{_ids(pipe.missing.get(Stage.RECEIVED)) or 'the values'} wait on the broker until then — "
            "stuck, not lost.",
            "# create the topics before the app starts (kafka-topics --create …), or let genmon:\n"
            "genmon -A your.app --create-topics   # genmon worker --create-topics in a fleet",
        )
    if v.cause == Cause.AGENT_DEAD and ended(v.error):
        return Diagnosis(
            f"acked {c.acked}, received {c.received}: {v.error}. The agent's function ended — a break or "
            "return inside its async for — and Faust neither restarts it nor logs it: "
            f"{_ids(pipe.missing.get(Stage.RECEIVED)) or 'the values'} wait on the broker — stuck, not "
            "lost. They are read from the group's committed offset once the worker restarts.",
            "async for value in stream:\n    if done_with(value):\n        continue   # not break: an "
            "agent that returns never reads again\n    handle(value)",
        )
    if v.cause == Cause.AGENT_DEAD:
        return Diagnosis(
            f"acked {c.acked}, received {c.received}: {v.error or 'the agent crashed and stopped reading'}. "
            "Faust's supervisor restarted the agent after it raised, but the restarted agent has taken "
            f"nothing from the topic: {_ids(pipe.missing.get(Stage.RECEIVED)) or 'the values'} wait on the "
            "broker — stuck, not lost. They are read from the group's committed offset once the "
            "worker restarts.",
            "async for value in stream:\n    try:\n        handle(value)\n    except Exception:\n"
            "        log.exception('skipping %r', value)   # then restart the worker",
        )
    if v.cause == Cause.UNAWAITED:
        return Diagnosis(
            f"yielded {c.yielded}, sent {c.sent}: {_ids(damaged.get(Cause.UNAWAITED))} went to a "
            "topic.send(...) that was never awaited, so it never ran (Python logged "
            "\"RuntimeWarning: coroutine 'Topic.send' was never awaited\").",
            "await topic.send(value=value)  # every send must be awaited",
        )
    if v.cause == Cause.DECODE_FAILED:
        return Diagnosis(
            f"{_ids(damaged.get(Cause.DECODE_FAILED))} reached {topic} but could not be deserialized as "
            "the agent's value_type. Faust commits their offsets (they are gone) and throws "
            "ValueDecodeError into the agent, which restarts; values behind them wait.",
            "await topic.send(value=Number(n=n))  # a value of the topic's value_type, not raw bytes",
        )
    if v.cause == Cause.CRASHED:
        return Diagnosis(
            f"{v.error or 'the agent raised'} holding {_ids(damaged.get(Cause.CRASHED))} (the current "
            "value, or a whole take() batch); Faust logs the crash, commits their offsets (they are "
            "not retried) and restarts the agent after a pause. See the log (l).",
            CATCH_FIX,
        )
    if v.cause == Cause.BROKER:
        stage = v.stage or Stage.ACKED
        return Diagnosis(
            f"{v.error or 'the broker did not answer'}: {_ids(pipe.missing.get(stage))} were on their way "
            f"to {stage} when the broker stopped answering requests, and never got there. Nothing in the "
            "app is at fault. A broker that loses its records (the embedded one keeps them in memory "
            "only) cannot give them back; Faust's producer retries what it still holds.",
            "# the broker's own log says why it went away; for a broker that keeps records across\n"
            "# restarts, run a real Kafka: genmon --broker kafka://HOST:9092 (or genmon kafka)",
        )
    if v.cause == Cause.LATE_JOIN:
        return Diagnosis(
            f"{_ids(damaged.get(Cause.LATE_JOIN))} landed on the topic before the consumer group first "
            "read that partition, and it started at the end "
            f"({pipe.verdict.error or 'consumer_auto_offset_reset'}): Kafka's order proves they were "
            "passed, not late. Every value written before a group's first read is skipped this way.",
            "app = faust.App(..., consumer_auto_offset_reset='earliest')  # a new group reads from the start",
        )
    if v.cause == Cause.EXPIRED:
        return Diagnosis(
            f"{_ids(damaged.get(Cause.EXPIRED))} were deleted by the topic's retention before the group "
            f"read them ({pipe.verdict.error or 'the partition starts past them'}): the consumer fell "
            "further behind than the topic keeps.",
            "# keep records longer than the consumer can fall behind, or catch up faster:\n"
            "app.topic('...', retention=timedelta(days=7))  # or the topic's retention.ms on the broker",
        )
    if v.cause == Cause.SKIPPED:
        return Diagnosis(
            f"{_ids(damaged.get(Cause.SKIPPED))} were acknowledged by the broker, and the consumer group "
            f"read past them without receiving them ({pipe.verdict.error or 'its position passed them'}). "
            "Kafka delivers a partition in order, so they were skipped: after a rebalance that resumed "
            "past an offset nobody processed, or by a consumer that seeks.",
            "# no seek past unprocessed records; commit only what was processed (Faust's default).\n"
            "# the log panel (l) shows the rebalances around the skipped offset",
        )
    if v.cause == Cause.SEND_RAISED:
        return Diagnosis(
            f"yielded {c.yielded}, sent {c.sent}: topic.send(...) raised for "
            f"{_ids(damaged.get(Cause.SEND_RAISED))} before the producer took them "
            f"({v.error or 'see the log'}); the code that sends caught it, so nothing crashed and "
            "nothing was sent. Usually the topic's codec cannot serialize the value.",
            "# send what the topic's serializer takes: a faust.Record, or JSON's types\n"
            "await topic.send(value=Order(id=n, items=list(items)))  # not a set, a datetime, an object",
        )
    if v.cause == Cause.SEND_FAILED:
        error = v.error or "the producer's error is in the log (l)"
        fix = "# the log panel (l) has the producer's error: does the topic exist, is it writable?"
        if "TooLarge" in error:
            fix = (
                "# a record over the producer's limit (max_request_size, 1 MiB) or the broker's\n"
                "# (message.max.bytes): raise both together, or send smaller records\n"
                "app = faust.App(..., producer_max_request_size=4 * 1024 * 1024)"
            )
        return Diagnosis(
            f"sent {c.sent}, acked {c.acked}: the producer took "
            f"{_ids(damaged.get(Cause.SEND_FAILED))} and the delivery failed ({error}).",
            fix,
        )
    if v.lost_at == Stage.SENT:
        if c.sent == 0:
            return Diagnosis(
                f"yielded {c.yielded}, sent 0: nothing sends this generator's values to a topic. "
                "Iterating a generator does not publish anything; an agent only receives what "
                "some code sends to its topic.",
                pump_fix(pipe.kind, gen),
            )
        return Diagnosis(
            f"yielded {c.yielded}, sent {c.sent}: {_ids(pipe.missing.get(Stage.SENT))} were made but "
            "never sent. A code path skips the send.",
            "await topic.send(value=value)  # on every path",
        )
    if v.lost_at == Stage.ACKED:
        return Diagnosis(
            f"sent {c.sent}, acked {c.acked}: the broker never confirmed "
            f"{_ids(pipe.missing.get(Stage.ACKED))}. "
            "The broker went away, or the process stopped before the producer flushed.",
            "await app.producer.flush()  # before the process exits",
        )
    if v.lost_at == Stage.RECEIVED:
        waiting = [t for t in pipe.topics if t in set(unassigned)]
        if waiting:
            return Diagnosis(
                f"acked {c.acked}, received {c.received}: {', '.join(waiting)} is read by an agent, but the "
                "app's consumer has no partition of it. It did not exist when the agents subscribed; Faust "
                "notices a new topic only at its next metadata refresh (consumer_metadata_max_age_ms, "
                "5 minutes by default), so the values wait on the broker until then.",
                "# create the topics before the app starts (kafka-topics --create …), or let genmon:\n"
                "genmon -A your.app --create-topics",
            )
        if pipe.misnamed is not None:
            sent_to, read = pipe.misnamed
            return Diagnosis(
                f"{_unread(c, pipe)} on {sent_to}, which no agent reads, while "
                f"an agent reads {read} — a name one typo away. Probably a wrong topic name.",
                f"app.topic({read!r}, value_type=...)  # send where the agent reads (or read {sent_to!r})",
            )
        unread = [t for t in pipe.topics if t not in set(consumed)]
        if unread:
            reading = ", ".join(sorted(set(nearby))) or "no topic"
            return Diagnosis(
                f"{_unread(c, pipe)} on {', '.join(unread)}, which no agent "
                f"reads (this app's agents read: {reading}). A wrong topic name.",
                f"@app.agent(app.topic({unread[0]!r}, value_type=...))",
            )
        return Diagnosis(
            f"acked {c.acked}, received {c.received}: {_ids(pipe.missing.get(Stage.RECEIVED))} are on "
            f"{topic} but were never read. If they were produced before the consumer group first "
            "joined, consumer_auto_offset_reset='latest' skipped them.",
            "app = faust.App(..., consumer_auto_offset_reset='earliest')",
        )
    if v.lost_at == Stage.PROCESSED:
        return Diagnosis(
            f"received {c.received}, processed {c.processed}: the agent took "
            f"{_ids(pipe.missing.get(Stage.PROCESSED))} but did not finish them: it is stuck or raised.",
            "# the log panel (l) has the agent's exception",
        )
    if pipe.sinks and v.state != VerdictState.LOST:
        return Diagnosis(
            f"{plural(c.acked, 'value')} left the app by {', '.join(pipe.sinks)}, which no agent of the "
            "apps genmon sees reads: an output topic (another service reads it). genmon follows them "
            "until the broker acked them; received and processed do not apply. `genmon check --sink TOPIC` "
            "declares it; `--fail-on unread` fails on undeclared ones.",
        )
    if v.state == VerdictState.IN_FLIGHT and REPLIES_WAIT in v.text:
        return Diagnosis(
            f"{v.in_flight} replies are on {topic}, which Faust's reply consumer reads only after it "
            "subscribed to it: at the app's first ask, then up to 45 s later (Faust waits that long "
            "before it resubscribes). Until then the caller's ask waits.",
            "app = faust.App(..., reply_create_topic=True)  # the reply consumer reads it from the start",
        )
    if pipe.stalls:  # after replies: a busy machine stalls loops too
        return Diagnosis(
            f"the generator held Faust's event loop for up to {pipe.longest_stall:.2f}s "
            f"({pipe.stalls} times): every agent and send of the app waited with it.",
            "await asyncio.sleep(...) / await loop.run_in_executor(None, blocking_call)",
        )
    if pipe.loop_stalls:
        return Diagnosis(
            f"the app's event loop stalled {plural(pipe.loop_stalls, 'time')}, not in this generator: "
            "another coroutine (an agent, a timer, a call that blocks) or a busy machine held it, and "
            "this row's values waited with it (the header says how long, and when).",
            "PYTHONASYNCIODEBUG=1 faust -A proj.app worker  # logs each callback holding the loop 0.1 s+",
        )
    if v.state == VerdictState.PAUSED:
        return Diagnosis(f"the generator is switched off after {c.yielded} values; space resumes it.")
    if v.state == VerdictState.IN_FLIGHT:
        return Diagnosis(
            f"{plural(v.in_flight, 'value')} {'is' if v.in_flight == 1 else 'are'} between yielded and "
            "processed and still moving; a shortfall "
            "only counts as lost once the pipeline is quiet for the settle timeout."
        )
    if pipe.kind == RowKind.SENDER:
        return Diagnosis(
            f"{pipe.generator} sends to {' and '.join(pipe.topics) or topic} but is not a tracked generator: "
            "each send is followed as a "
            f"value ({c.sent} so far, {c.processed} processed). It cannot be switched off from genmon."
        )
    if c.yielded == 0:
        return Diagnosis("waiting for the generator's first value.")
    return Diagnosis(f"every one of the {c.yielded} values yielded was sent, acked, received and processed.")


def _crash_fix(text: str) -> str:
    if "positional argument" in text:
        return "@app.agent(topic)\nasync def process(stream):\n    async for value in stream: ..."
    if "__aiter__" in text:
        return (
            "for value in generator():      # a plain generator: plain for\n    await topic.send(value=value)"
        )
    if "address already in use" in text:
        return (
            "# each worker on a machine needs a web port of its own (Faust's default is 6066):\n"
            "faust -A your.app worker --web-port 6067   # or --without-web, or web_enabled=False"
        )
    return ""


def _unread(c: Counts, pipe: PipelineSnapshot) -> str:
    """``acked 20, received 0 of them: they are`` — or, when the row's values also went to a topic an
    agent reads, ``acked 19, received 17; the other 2 are`` (only those missing are on the unread topic)."""
    if not c.received:
        return f"acked {c.acked:,}, received 0 of them: they are"
    missing = pipe.missing.get(Stage.RECEIVED)
    other = missing.count if missing else c.acked - c.received
    return f"acked {c.acked:,}, received {c.received:,}; the other {other:,} are"
