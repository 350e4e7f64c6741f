"""How a snapshot is put into words, once, for every place that shows it (screen, report, check).

No Textual and no Rich here: plain strings, so the screen, the headless report and the JSON agree.
"""

from __future__ import annotations

import re
from collections import Counter

from genmon.model.feed import is_feed
from genmon.model.snapshot import PipelineSnapshot, Snapshot
from genmon.model.vocabulary import CHANNEL, RowKind, Stage, WorkerState

HINTS = {
    "RocksDB bindings not installed": "; or keep the tables in memory: faust.App(..., store='memory://')",
}
"""Known errors whose message names only one way out: the other one, added to the line."""


def one_line(exc: BaseException) -> str:
    """``TypeError: message`` on one line: how genmon reports any exception to a user."""
    text = str(exc).strip().splitlines()
    detail = LOCALS.sub("", text[0]) if text else ""  # a function's own name, not Python's qualname
    line = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    return line + "".join(hint for known, hint in HINTS.items() if known in detail)


LOCALS = re.compile(r"\b(?:\w+\.)*<locals>\.")
"""``make_app.<locals>.`` in front of a function's name (a qualname): the user knows it by its name."""

WRAPPERS = ("MaxRestartsExceeded", "SystemExit")
"""Exceptions that only say *that* something failed (mode's supervisor giving up, a worker
exiting): the error that made them is in their ``__cause__``/``__context__``."""


ENDED = "returned"


def ended_note(agent: str) -> str:
    """``agent backfill returned``: what is recorded when an agent's function ends (a ``break`` or
    ``return`` out of its stream loop) — the one place that says it, and :func:`ended` reads it."""
    return f"agent {agent} {ENDED}"


def ended(note: str | None) -> bool:
    """Whether an agent's stop note is :func:`ended_note`'s (it returned, it did not raise)."""
    return bool(note) and str(note).split(" at ", 1)[0].endswith(f" {ENDED}")


def root_error(exc: BaseException) -> BaseException:
    """The error behind wrappers like mode's ``MaxRestartsExceeded`` (what a user can act on)."""
    seen = {id(exc)}
    while type(exc).__name__ in WRAPPERS:
        inner = exc.__cause__ or exc.__context__
        if inner is None or id(inner) in seen:
            break
        seen.add(id(inner))
        exc = inner
    return exc


def wraps_nothing(exc: BaseException) -> bool:
    """A wrapper with nothing behind it: ``SystemExit: 1`` says nothing about the cause."""
    return type(root_error(exc)).__name__ in WRAPPERS


def short_name(qualname: str) -> str:
    """``create_app.<locals>.numbers`` -> ``numbers``."""
    return qualname.rsplit(".", 1)[-1]


def plural(count: int, word: str) -> str:
    """``1 pipeline``, ``3 pipelines``."""
    return f"{count:,} {word}" if count == 1 else f"{count:,} {word}s"


NAME_ENDS = 12
"""A name longer than twice this (plus one) is shown as its first and last ``NAME_ENDS`` characters."""


def middle_cut(name: str, ends: int = NAME_ENDS) -> str:
    """``f-reply-2c3d…f82aac``: a long name with its middle left out (both ends tell names apart)."""
    return name if len(name) <= 2 * ends + 1 else f"{name[:ends]}…{name[-ends:]}"


def _same(name: str) -> str:
    return name


def flow(pipe: PipelineSnapshot, full: bool = False) -> str:
    """generator → topic → agent, drawn broken (─✗) where nothing connects. Long names lose their
    middle (``full``: never, for a file or a pipe)."""
    cut = _same if full else middle_cut
    if pipe.kind == RowKind.TOPIC:
        return f"? → {cut(pipe.topics[0])} → {', '.join(map(cut, pipe.agents)) or '…'}"
    named = pipe.kind == RowKind.SENDER or is_feed(pipe.name)  # a feed: its file, not a function
    gen = cut(pipe.name if named else short_name(pipe.generator))
    lost_at = pipe.verdict.lost_at
    if not pipe.topics:
        broken = lost_at is not None or (pipe.counts.yielded and pipe.counts.sent == 0 and not pipe.on)
        return f"{gen} ─✗" if broken else f"{gen} → …"
    topics = ", ".join(map(cut, pipe.topics))
    if pipe.sinks:
        return f"{gen} → {topics} ⇥"  # leaves the app: an output topic
    if not pipe.agents:
        broken = lost_at in (Stage.RECEIVED, Stage.PROCESSED)
        return f"{gen} → {topics} ─✗" if broken else f"{gen} → {topics} → …"
    return f"{gen} → {topics} → {', '.join(map(cut, pipe.agents))}"


NOT_APPLICABLE = "—"


def count_text(pipe: PipelineSnapshot, stage: Stage) -> str:
    """A stage's count as shown, or ``—`` where the stage does not apply: acked for values through
    in-memory channels only (no broker acks them), received and processed for values that leave
    the app by a sink (an output topic)."""
    if stage == Stage.ACKED and pipe.topics and all(t.startswith(CHANNEL) for t in pipe.topics):
        return NOT_APPLICABLE
    if pipe.sinks and stage in (Stage.RECEIVED, Stage.PROCESSED):
        return NOT_APPLICABLE
    return f"{pipe.counts[stage]:,}"


def switch_symbol(pipe: PipelineSnapshot) -> str:
    """● on, ○ off; · for rows that are not tracked generators (nothing to switch)."""
    if not pipe.kind.switchable:
        return "·"
    return "●" if pipe.on else "○"


def header_line(snap: Snapshot) -> str:
    """The one-line header of the screen and the report: broker, where it runs, up or down, app, rows."""
    broker = snap.broker
    up = "● up" if broker.up else f"✗ {broker.condition.upper()}"
    if broker.memory_bytes:
        up += f" {megabytes(broker.memory_bytes)}" + (" (!)" if broker.memory_high else "")
    where = "embedded" if broker.embedded else "external"
    fleet = ""
    if snap.fleet and not broker.up:
        fleet = " ─ workers unheard (their reports travel through the broker)"
    elif snap.fleet:
        tally = Counter(w.state for w in snap.workers)
        fleet = f" ─ workers {tally[WorkerState.ALIVE]} alive" + "".join(
            f", {tally[state]} {state}" for state in (WorkerState.STOPPED, WorkerState.GONE) if tally[state]
        )
    from genmon.model.view import rows_line  # view builds on this module's words

    for who, count in snap.unverified_reports.items():
        fleet += f" ─ ✗ unverified reports: {count} from {who}"
    if snap.rejected_reports:
        fleet += f" ─ {plural(snap.rejected_reports, 'rejected report')}"
    if snap.switches_refused:
        fleet += " ─ ✗ switches refused by the broker"
    for app in snap.apps:
        if app.unreporting:
            who = "1 consumer" if app.unreporting == 1 else f"{app.unreporting} consumers"
            verb = "sends" if app.unreporting == 1 else "send"
            fleet += f" ─ ✗ {who} in group {app.app_id} {verb} no reports"
    broken = [line.split(":", 1)[0] for app in snap.apps for line in app.not_imported]
    if broken:
        fleet += f" ─ ✗ not imported: {', '.join(broken)}"
    return f"{snap.broker.url} ({where}) {up} ─ {snap.app_id}{fleet} ─ {rows_line(snap.pipelines)}"


def megabytes(n: int) -> str:
    return f"{n / (1 << 30):.1f} GB" if n >= 1 << 30 else f"{n / (1 << 20):.0f} MB"
