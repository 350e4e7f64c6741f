"""Where is value N? One value's path, hop by hop, from the ids every row keeps.

A row's id sets say which stages one of its values reached, its landing logs where it landed, its
losses why it stopped. A value that travels on through hops gets a new id at each (the hop's row
numbers its own values); the hop's row keeps, for its values not yet done, the origin each was made
from (``SourceState.made_from``), and the origin's row keeps the hops where its values died
(``downstream``). So the path of a value that stopped anywhere is complete; a value that went
through every hop shows the hops still holding it, and those it passed are let go (a hop forgets
where a value came from once the value is processed: keeping that for every value would cost
memory without end).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from genmon.model.control import Refused, UnknownPipeline
from genmon.model.hops import one_value
from genmon.model.ids import Ids, id_text
from genmon.model.snapshot import PipelineSnapshot, Snapshot
from genmon.model.state import Made, Reading, SourceState, split_downstream
from genmon.model.vocabulary import RowKind, Stage, VerdictState

LET_GO = "a hop forgets where a value came from once the value is processed: hops it passed may not be listed"


@dataclass(frozen=True)
class Step:
    """One row's part of the path: the value's id there, the stages it reached, what became of it."""

    row: str
    id: int | None
    """None: the hop where the value died is known, its id there is not (its agent raised on it)."""
    reached: tuple[str, ...]
    """``sent to orders``, ``acked at p0 offset 41`` …, in stage order."""
    fate: str
    ok: bool
    at: str = ""
    """When the hop sent it (``23:01:02.130``, ``≈`` when read off a run), or empty."""

    def line(self) -> str:
        where = f"{self.row} #{id_text(self.id)}" if self.id is not None else self.row
        when = f" at {self.at}" if self.at else ""
        stages = " → ".join(self.reached)
        return f"{where}{when}: {stages}{' · ' if stages else ''}{self.fate}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "id": self.id,
            "at": self.at or None,
            "reached": list(self.reached),
            "fate": self.fate,
            "ok": self.ok,
        }


@dataclass(frozen=True)
class ValuePath:
    row: str
    id: int
    steps: tuple[Step, ...]
    note: str = ""

    def lines(self) -> list[str]:
        return [step.line() for step in self.steps] + ([f"({self.note})"] if self.note else [])

    def to_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "id": self.id,
            "steps": [s.to_dict() for s in self.steps],
            "note": self.note or None,
        }


def value_path(reading: Reading, snapshot: Snapshot, row: str, seq: int) -> ValuePath:
    """The path of value ``seq`` of row ``row``. Refused (in words for the screen) for a row that
    does not exist or an id it never gave."""
    sources = {src.name: src for src in reading.sources if not src.foreign}
    src = sources.get(row)
    if src is None:
        raise UnknownPipeline(f"no pipeline named {row!r}")
    expected = src.expected
    if (expected is not None and seq not in expected) or (
        expected is None and not src.floor < seq <= src.seq
    ):
        have = "no values yet" if src.yielded == 0 else f"ids {src.floor + 1} to {src.seq}"
        raise Refused(f"{row} has no value {seq} ({have})")
    for run in src.made_from:  # a hop's value: its path starts at the value it was made from
        origin = next((o for o in sources.values() if o.origin == run.origin), None)
        if origin is not None and origin is not src and run.first <= seq <= run.last:
            return value_path(reading, snapshot, origin.name, run.origins([seq])[0])
    pipes = {pipe.name: pipe for pipe in snapshot.pipelines}
    steps = [_step(src, seq, pipes.get(row))]
    hops: list[tuple[int, Step]] = []
    for hop in sources.values():
        for run in hop.made_from:
            if (
                run.origin == src.origin
                and run.origin_first <= seq <= run.origin_first + run.last - run.first
            ):
                hop_id = run.first + seq - run.origin_first
                step = _step(hop, hop_id, pipes.get(hop.name), at=_when(run, hop_id))
                hops.append((run.since_us, step))
    named = {step.row for _, step in hops}
    for key, ids in src.downstream.items():
        if seq in ids:
            hop_row, cause = split_downstream(key)
            if hop_row not in named:  # died inside the hop (an agent raised): its id there is not kept
                note = src.downstream_notes.get(key) or cause.words
                hops.append((2**63, Step(hop_row, None, (), f"died here: {note}", ok=False)))
    steps += [step for _, step in sorted(hops, key=lambda item: item[0])]
    others = any(other.kind == RowKind.SENDER for other in sources.values() if other is not src)
    return ValuePath(row, seq, tuple(steps), LET_GO if others else "")


def _when(run: Made, hop_id: int) -> str:
    """When the hop sent ``hop_id``: exact for a run of one, read off the run's span otherwise."""
    if run.last == run.first:
        return _clock(run.since_us)
    share = (hop_id - run.first) / (run.last - run.first)
    return "≈" + _clock(int(run.since_us + share * (run.until_us - run.since_us)))


def _clock(micros: int) -> str:
    seconds = micros / 1e6
    return time.strftime("%H:%M:%S", time.localtime(seconds)) + f".{int(micros % 1_000_000) // 1000:03d}"


def _step(src: SourceState, seq: int, pipe: PipelineSnapshot | None, at: str = "") -> Step:
    reached: list[str] = []
    topics = _topics_of(src, seq)
    if seq in src.sent:
        reached.append(f"sent to {', '.join(topics) or '?'}")
    else:
        return Step(src.name, seq, (), _stopped(src, seq, pipe, Stage.SENT), ok=False, at=at)
    if seq in src.acked:
        reached.append("acked" + _landed(src, seq))
    else:
        return Step(src.name, seq, tuple(reached), _stopped(src, seq, pipe, Stage.ACKED), ok=False, at=at)
    if pipe is not None and not pipe.applies(Stage.RECEIVED):
        return Step(src.name, seq, tuple(reached), f"left the app by {', '.join(pipe.sinks)}", ok=True, at=at)
    if seq in src.received:
        reached.append("received")
    else:
        return Step(src.name, seq, tuple(reached), _stopped(src, seq, pipe, Stage.RECEIVED), ok=False, at=at)
    done = sorted({agent for (_, agent), ids in src.processed.items() if seq in ids})
    waiting = sorted({agent for (_, agent), ids in src.processed.items() if seq not in ids} - set(done))
    if done and not waiting:
        return Step(src.name, seq, tuple(reached), f"processed by {', '.join(done)}", ok=True, at=at)
    fate = _stopped(src, seq, pipe, Stage.PROCESSED)
    if done:
        fate = f"processed by {', '.join(done)}; {', '.join(waiting)}: {fate}"
    return Step(src.name, seq, tuple(reached), fate, ok=False, at=at)


def _topics_of(src: SourceState, seq: int) -> list[str]:
    if src.sent_by:
        return [topic for topic, ids in src.sent_by.items() if seq in ids]
    return list(src.topics)


def _landed(src: SourceState, seq: int) -> str:
    """`` at p0 offset 41`` while a landing log still pairs the value with its offset (it is let go
    once this process received the value), else nothing."""
    for _topic, partition, log in src.landings():
        ids: Ids = log.ids
        if log.ordered and seq in ids:
            return f" at p{partition} offset {log.offset_of(ids.rank(seq) - 1)}"
    return ""


def _stopped(src: SourceState, seq: int, pipe: PipelineSnapshot | None, stage: Stage) -> str:
    """Why value ``seq`` has not reached ``stage``: the loss genmon saw, the row's verdict when the
    value is among those it judged, or on its way."""
    for cause, ids in src.damaged.items():
        if seq in ids and cause.stage == stage:
            return f"{'stuck' if cause.stuck else 'lost'}: {src.notes.get(cause) or cause.words}"
    verdict = pipe.verdict if pipe is not None else None
    if (
        verdict is not None
        and verdict.lost_at == stage
        and verdict.state in (VerdictState.LOST, VerdictState.STUCK)
    ):
        return one_value(verdict.text)
    if not src.on and stage == Stage.SENT:
        return "not sent: the generator is paused"
    return f"not {stage} yet"
