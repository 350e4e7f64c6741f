"""Which rows the screen shows, in which order: sorting, filtering, grouping and the state counts.

With hundreds of rows the user's question is "which ones lose values", so the default order puts
problems first. All of it is a pure function of the snapshot and the user's choices (plus, for the
rate sort, the rates the screen measured), so it is tested without a screen and the screen only
draws what it returns.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from genmon.model.snapshot import PipelineSnapshot
from genmon.model.text import plural
from genmon.model.vocabulary import RowState, VerdictState, Word


class SortBy(Word):
    """The row orders ``s`` cycles through."""

    PROBLEMS = "problems"
    """lost, crashed, stalled, unverifiable, in flight, paused, ok, idle topics; then by name"""
    NAME = "name"
    LOSS = "loss"
    """most values lost (or in flight) first"""
    RATE = "rate"
    """highest values/s yielded first (the screen measures it)"""


class Only(Word):
    """The filters ``f`` cycles through."""

    ALL = "all"
    PROBLEMS = "problems"
    """lost, crashed, stalled or unverifiable"""
    PAUSED = "paused"


SORTS = tuple(SortBy)
FILTERS = tuple(Only)


def following(choices: tuple[Word, ...], current: Word) -> Word:
    """The choice after ``current`` (cycling)."""
    return choices[(choices.index(current) + 1) % len(choices)]


def row_state(pipe: PipelineSnapshot) -> RowState:
    """The state a row is counted under in the header: its verdict's, or ``stalled`` when its
    generator or its app's loop stalled and nothing worse is true."""
    state = pipe.verdict.state
    if state in (VerdictState.LOST, VerdictState.CRASHED, VerdictState.STUCK):
        return RowState(state.value)
    if pipe.stalls or pipe.loop_stalls:
        return RowState.STALLED
    return RowState(state.value)


def problem(pipe: PipelineSnapshot) -> bool:
    return row_state(pipe).problem


@dataclass(frozen=True)
class View:
    """The user's choices: order, filter, the text typed after ``/``, collapsed app groups."""

    sort: SortBy = SortBy.PROBLEMS
    only: Only = Only.ALL
    text: str = ""
    collapsed: frozenset[str] = field(default_factory=frozenset)

    def describe(self) -> str:
        """``sorted by problems · problems only · matching "orders"`` (empty parts left out)."""
        parts = [f"sorted by {self.sort}"]
        if self.only != Only.ALL:
            parts.append(f"{self.only} only")
        if self.text:
            parts.append(f'matching "{self.text}"')
        return " · ".join(parts)


def _matches(pipe: PipelineSnapshot, text: str) -> bool:
    needle = text.lower()
    haystack = (pipe.name, pipe.generator, *pipe.topics, *pipe.agents)
    return any(needle in item.lower() for item in haystack)


def _kept(pipe: PipelineSnapshot, view: View) -> bool:
    if view.text and not _matches(pipe, view.text):
        return False
    if view.only == Only.PROBLEMS:
        return problem(pipe)
    if view.only == Only.PAUSED:
        return not pipe.on
    return True


def _key(view: View, rates: Mapping[str, float]) -> Callable[[PipelineSnapshot], tuple[Any, ...]]:
    if view.sort == SortBy.NAME:
        return lambda p: (p.name,)
    if view.sort == SortBy.LOSS:
        return lambda p: (-p.verdict.lost, -p.verdict.in_flight, row_state(p).rank, p.name)
    if view.sort == SortBy.RATE:
        return lambda p: (-rates.get(p.name, 0.0), p.name)
    return lambda p: (row_state(p).rank, -p.verdict.lost, p.name)


@dataclass(frozen=True)
class Group:
    """One app's rows (a group header is shown only when several apps run)."""

    app_id: str
    rows: tuple[PipelineSnapshot, ...]
    total: int
    """Rows of the app before filtering (the header says "3 of 120")."""
    counts: str
    collapsed: bool = False


def arrange(
    pipes: Iterable[PipelineSnapshot], view: View, rates: Mapping[str, float] | None = None
) -> tuple[Group, ...]:
    """The groups to draw, in order (one group per app; a single group when one app runs), each with
    its kept rows in the view's order. Groups are ordered by their first row's place."""
    pipes = list(pipes)
    key = _key(view, rates or {})
    by_app: dict[str, list[PipelineSnapshot]] = {}
    for pipe in pipes:
        by_app.setdefault(pipe.app_id, []).append(pipe)
    groups = []
    for app_id, members in by_app.items():
        kept = sorted((p for p in members if _kept(p, view)), key=key)
        groups.append(
            Group(app_id, tuple(kept), len(members), state_counts(members), app_id in view.collapsed)
        )
    if len(groups) > 1:  # groups the filter emptied go last (never compared with a row's key)
        groups.sort(key=lambda g: (0, key(g.rows[0]), g.app_id) if g.rows else (1, (), g.app_id))
    return tuple(groups)


def grouped(groups: tuple[Group, ...]) -> bool:
    """Header rows only when they help: several apps, some with several rows, and fewer groups
    than half the rows (the demo's catalogue runs one app per bug: no headers there)."""
    rows = sum(g.total for g in groups)
    return len(groups) > 1 and any(g.total > 1 for g in groups) and len(groups) * 2 <= rows


def ordered(
    groups: tuple[Group, ...], view: View, rates: Mapping[str, float] | None = None
) -> list[PipelineSnapshot]:
    """Every kept row in the view's order, across apps (when no header rows are shown)."""
    return sorted((p for g in groups for p in g.rows), key=_key(view, rates or {}))


def state_counts(pipes: Iterable[PipelineSnapshot]) -> str:
    """``3 lost · 1 crashed · 196 ok``: rows per state, worst first."""
    counts = Counter(row_state(p) for p in pipes)
    return " · ".join(f"{counts[state]} {state.words}" for state in sorted(counts, key=lambda s: s.rank))


def rows_line(pipes: list[PipelineSnapshot] | tuple[PipelineSnapshot, ...]) -> str:
    """``200 pipelines: 3 lost · 1 crashed · 196 ok`` — the header's part about the rows."""
    if not pipes:
        return plural(0, "pipeline")
    return f"{plural(len(pipes), 'pipeline')}: {state_counts(pipes)}"
