"""In flight versus lost: the rule that keeps a slow pipeline from being reported as lossy.

A shortfall between two adjacent stages is *in flight* while the later stage is still moving or
was caught up recently; only when the later stage has neither moved nor been caught up for the
settle timeout does the shortfall count as *lost* there. So a generator nobody sends from shows
"lost at sent" a few seconds after it starts, while a slow consumer with a growing backlog shows
"in flight" for as long as it keeps consuming.

Everything here is pure: :class:`Clocks` is an immutable record of when each stage last moved,
advanced by whoever samples the pipelines (one sampler per host or watcher, never each reader), so
a verdict depends on the counts and the time it is asked at, not on who asked how often.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pyroaring import FrozenBitMap

from genmon.model.ids import FrozenIds, Ids, both, frozen, minus, union_all
from genmon.model.snapshot import Counts, Verdict
from genmon.model.vocabulary import STAGES, Cause, Proof, Stage, VerdictState


@dataclass(frozen=True)
class StageClock:
    """When each stage of one pipeline last moved and last caught up with the stage before it."""

    counts: tuple[int, ...]
    moved: tuple[float, ...]
    caught_up: tuple[float, ...]
    changed: float

    @classmethod
    def start(cls, counts: tuple[int, ...], now: float) -> StageClock:
        n = len(counts)
        return cls(counts, (now,) * n, (now,) * n, now)

    def advance(self, counts: tuple[int, ...], now: float) -> StageClock:
        caught = tuple(
            now if i and counts[i - 1] <= value else self.caught_up[i] for i, value in enumerate(counts)
        )
        if counts == self.counts:
            return StageClock(counts, self.moved, caught, self.changed)
        moved = tuple(
            now if value != before else t
            for value, before, t in zip(counts, self.counts, self.moved, strict=True)
        )
        return StageClock(counts, moved, caught, now)


def shortfalls_text(shortfalls: Sequence[tuple[Stage, int]]) -> str:
    """``1,312 at sent, 2,751 at processed``: values missing at several stages, each counted."""
    return ", ".join(f"{count:,} at {stage}" for stage, count in shortfalls)


@dataclass(frozen=True)
class Clocks:
    """Per pipeline, its :class:`StageClock`. Immutable: ``observe`` returns the next Clocks."""

    settle_seconds: float = 5.0
    rows: Mapping[str, StageClock] = field(default_factory=dict)
    passing: Mapping[str, tuple[tuple[float, FrozenIds], ...]] = field(default_factory=dict)
    """Per pipeline, the values a reading group's position passed without receiving them, by when
    they were first seen passed (see :mod:`genmon.model.positions`): held for the settle timeout
    before they count as lost, so that a report on its way from the worker that read one can
    still arrive."""

    def observe(
        self, counts: Mapping[str, Counts], now: float, passed: Mapping[str, Ids] | None = None
    ) -> Clocks:
        """The clocks after seeing ``counts`` (pipeline name -> counts) and the values positions
        passed (``passed``: pipeline name -> ids) at ``now``; rows not in ``counts`` are dropped (a
        reset, or a row that went away, starts afresh)."""
        rows = {}
        for name, count in counts.items():
            values = count.as_tuple()
            clock = self.rows.get(name)
            rows[name] = StageClock.start(values, now) if clock is None else clock.advance(values, now)
        passing = {}
        for name, ids in (passed or {}).items():
            if name not in counts or not ids:
                continue
            still: Ids = ids
            held = []
            for since, earlier in self.passing.get(name, ()):
                kept = both(earlier, still)
                if kept:
                    held.append((since, frozen(kept)))
                    still = minus(still, kept)
            if still:
                held.append((now, frozen(still)))
            passing[name] = tuple(held)
        return Clocks(self.settle_seconds, rows, passing)

    def proven(self, name: str, now: float) -> FrozenIds:
        """The values of ``name`` passed without being received for the settle timeout."""
        held = [ids for since, ids in self.passing.get(name, ()) if now - since >= self.settle_seconds]
        return frozen(union_all(held)) if held else FrozenBitMap()

    def forget(self, names: set[str]) -> Clocks:
        return Clocks(
            self.settle_seconds,
            {n: c for n, c in self.rows.items() if n not in names},
            {n: p for n, p in self.passing.items() if n not in names},
        )

    def _quiet(self, clock: StageClock, i: int, now: float) -> bool:
        """Stage ``i`` has neither moved nor caught up with the one before for the settle timeout."""
        return now - max(clock.moved[i], clock.caught_up[i]) >= self.settle_seconds

    def verdict(
        self,
        name: str,
        counts: Counts,
        on: bool,
        now: float,
        seen: Mapping[Stage, tuple[int, Cause]] | None = None,
    ) -> Verdict:
        """Judge one pipeline: a shortfall is lost once the later stage has been still (neither
        moved nor caught up) for ``settle_seconds``, in flight before that.

        ``seen``: stage -> (count, cause) of values genmon *saw* being lost on the way to that stage
        (a send never awaited, a delivery error, a decode failure, a crash). Those are lost at once,
        with no settling, and name the verdict's cause before any silent shortfall.
        """
        values = counts.as_tuple()
        clock = self.rows.get(name)
        for stage in STAGES[1:]:
            count, cause = (seen or {}).get(stage, (0, None))
            if count and cause is not None:
                # values missing there beyond the seen ones are in flight while the stage moves (an
                # agent Faust restarts after a crash reads on after a pause), not lost
                quiet: list[tuple[Stage, int]] = []
                rest = 0
                for j in range(1, len(values)):
                    # values missing beyond the seen ones, at every stage — before this one too (a
                    # worker stopped between a yield and its send): in flight while their stage
                    # moves, missing for good once it stopped (said apart: nobody saw them die)
                    extra = values[j - 1] - values[j] - (seen or {}).get(STAGES[j], (0, None))[0]
                    if extra <= 0:
                        continue
                    if clock is not None and self._quiet(clock, j, now):
                        quiet.append((STAGES[j], extra))
                    else:
                        rest += extra
                also = (
                    Verdict(
                        VerdictState.LOST,
                        f"lost at {quiet[0][0]}: {quiet[0][1]:,}"
                        if len(quiet) == 1
                        else f"lost: {shortfalls_text(quiet)}",
                        quiet[0][0],
                        sum(n for _, n in quiet),
                        proof=Proof.QUIET,
                        shortfalls=tuple(quiet),
                    )
                    if quiet
                    else None
                )
                text = f"lost at {stage}: {count:,} ({cause.words})"
                return Verdict(
                    VerdictState.LOST,
                    text,
                    stage,
                    lost=count,
                    in_flight=rest,
                    cause=cause,
                    proof=cause.proof,
                    also=also,
                )
        for i in range(1, len(values)):
            short = values[i - 1] - values[i]
            if short <= 0:
                continue
            if clock is not None and self._quiet(clock, i, now):
                stage = STAGES[i]
                return Verdict(
                    VerdictState.LOST, f"lost at {stage}: {short:,}", stage, lost=short, proof=Proof.QUIET
                )
        in_flight = max(values[0] - values[-1], 0)
        if not values[0]:  # nothing yielded: there is nothing to call ok
            return Verdict(VerdictState.IDLE, "paused · no values yet" if not on else "no values yet")
        if not on:
            text = "paused" + (f" · {in_flight} in flight" if in_flight else "")
            return Verdict(VerdictState.PAUSED, text, in_flight=in_flight)
        if in_flight:
            return Verdict(VerdictState.IN_FLIGHT, f"ok · {in_flight:,} in flight", in_flight=in_flight)
        return Verdict(VerdictState.OK, "ok")
