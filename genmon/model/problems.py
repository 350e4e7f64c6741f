"""The CI gate's policy: which rows of a settled snapshot are problems, one line each.

Next to the diagnosis because both judge a pipeline from the same snapshot; ``genmon check``
exits 1 when this finds anything of a ``--fail-on`` kind.
"""

from __future__ import annotations

from collections.abc import Iterable

from genmon.model.feed import is_feed
from genmon.model.hops import FROM, origins_text
from genmon.model.snapshot import PipelineSnapshot, Snapshot
from genmon.model.vocabulary import Cause, Problem, VerdictState


def problems(snapshot: Snapshot, fail_on: Iterable[Problem], declared_sinks: Iterable[str] = ()) -> list[str]:
    """One line per problem of a kind in ``fail_on``; ``declared_sinks``: output topics the user
    expects no agent to read (never an ``unread`` problem)."""
    declared = set(declared_sinks)
    kinds = set(fail_on)
    found: list[str] = []
    if Problem.CRASH in kinds:
        # a module the app's agents live in did not import: they never ran, whatever the rows say
        found.extend(
            f"app {app.app_id}: autodiscovery could not import {line}"
            for app in snapshot.apps
            for line in app.not_imported
        )
    for pipe in snapshot.pipelines:
        v = pipe.verdict
        damaged = pipe.damaged
        word = "lines" if is_feed(pipe.name) else "ids"  # a feed's ids are its file's line numbers
        if Problem.CRASH in kinds and v.state == VerdictState.CRASHED:
            found.append(f"{pipe.name}: {v.text}")
        if Problem.CRASH in kinds and Cause.CRASHED in damaged:
            who = v.error if v.cause == Cause.CRASHED and v.error else "the agent raised"
            found.append(
                f"{pipe.name}: {who} on {word} {damaged[Cause.CRASHED].text()}" + _from(pipe, Cause.CRASHED)
            )
        if Problem.DECODE in kinds and Cause.DECODE_FAILED in damaged:
            found.append(
                f"{pipe.name}: {word} {damaged[Cause.DECODE_FAILED].text()} could not be decoded"
                + _from(pipe, Cause.DECODE_FAILED)
            )
        for loss in pipe.downstream:  # its values that died at a later hop, in its own ids
            stuck = loss.state == VerdictState.STUCK
            kind = (
                Problem.STUCK
                if stuck
                else _KIND.get(loss.cause, Problem.LOSS)
                if loss.cause
                else Problem.LOSS
            )
            if kind in kinds:
                there = (
                    f"{loss.ids.count} {'stuck' if stuck else 'lost'} downstream at {loss.row} ({loss.why})"
                )
                found.append(f"{pipe.name}: {there}, {word} {loss.ids.text()}")
        own, _, _ = v.text.partition(FROM)  # a hop's origins go after its own ids
        lost = v.state == VerdictState.LOST and v.cause not in (Cause.CRASHED, Cause.DECODE_FAILED)
        whole = False  # the row's own line, which carries the rest of its shortfall in its text
        if Problem.LOSS in kinds and lost and v.lost_at:
            ids = (damaged.get(v.cause) if v.cause else None) or pipe.missing.get(v.lost_at)
            found.append(
                f"{pipe.name}: {own}" + (f", {word} {ids.text()}" if ids else "") + _from(pipe, v.cause)
            )
            whole = True
        if Problem.STUCK in kinds and v.state == VerdictState.STUCK and v.lost_at:
            ids = pipe.missing.get(v.lost_at)
            found.append(
                f"{pipe.name}: {own}" + (f", {word} {ids.text()}" if ids else "") + _from(pipe, v.cause)
            )
            whole = True
        rest = v.also
        if rest is not None and not whole and _REST.get(rest.state) in kinds:
            # beside a crash or a decode failure (their own lines), values lost or stuck silently
            found.append(f"{pipe.name}: {rest.text}")
        if Problem.DUPLICATE in kinds and any(pipe.duplicates.values()):
            found.append(f"{pipe.name}: duplicates {dict((str(k), n) for k, n in pipe.duplicates.items())}")
        undeclared = [topic for topic in pipe.sinks if topic not in declared]
        if Problem.UNREAD in kinds and undeclared:
            found.append(
                f"{pipe.name}: values went to {', '.join(undeclared)}, which no agent reads "
                "(declare an output topic with --sink)"
            )
        if Problem.REORDER in kinds and pipe.reorders:
            found.append(f"{pipe.name}: {pipe.reorders} values arrived out of order")
    return found


_KIND = {Cause.CRASHED: Problem.CRASH, Cause.DECODE_FAILED: Problem.DECODE}
"""The ``--fail-on`` kind of a loss by its cause (any other cause: ``loss``)."""
_REST = {VerdictState.LOST: Problem.LOSS, VerdictState.STUCK: Problem.STUCK}
"""The ``--fail-on`` kind of the rest of a row's shortfall by its state (unverifiable: none)."""


def _from(pipe: PipelineSnapshot, cause: Cause | None) -> str:
    """`` — from clicks 7, 14`` for a hop's row: the original ids of what died there by ``cause``."""
    return origins_text(pipe.upstream, cause)


def parse_fail_on(text: str) -> tuple[Problem, ...]:
    """``loss,decode`` -> the kinds; ValueError naming the unknown ones and the choices."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    known = {p.value: p for p in Problem}
    unknown = sorted({name for name in names if name not in known})
    if unknown:
        raise ValueError(f"unknown {', '.join(unknown)}; choose from {', '.join(known)}")
    return tuple(dict.fromkeys(known[name] for name in names))
