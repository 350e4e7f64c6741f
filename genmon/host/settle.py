"""In flight versus lost: the rule that keeps a slow pipeline from being reported as lossy.

A shortfall between two adjacent stages is *in flight* while the later stage is still moving or
was caught up recently; only when the later stage has neither moved nor been caught up for the
settle timeout does the shortfall count as *lost* there. So a generator nobody sends from shows
"lost at sent" a few seconds after it starts, while a slow consumer with a growing backlog shows
"in flight" for as long as it keeps consuming.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from genmon.model import CAUSE_WORDS, STAGES, Counts, Verdict


@dataclass
class _Clock:
    counts: tuple[int, ...]
    moved: list[float]
    caught_up: list[float]
    changed: float


@dataclass
class SettleTracker:
    """Remembers, per pipeline and stage, when the stage last moved and last caught up."""

    settle_seconds: float = 5.0
    _clocks: dict[str, _Clock] = field(default_factory=dict)

    def observe(self, name: str, counts: Counts, now: float) -> None:
        values = counts.as_tuple()
        clock = self._clocks.get(name)
        if clock is None:
            n = len(values)
            self._clocks[name] = _Clock(values, [now] * n, [now] * n, now)
            return
        changed = False
        for i, value in enumerate(values):
            if value != clock.counts[i]:
                clock.moved[i] = now
                changed = True
            if i and values[i - 1] <= value:
                clock.caught_up[i] = now
        if changed:
            clock.changed = now
        clock.counts = values

    def quiet_for(self, name: str, now: float) -> float:
        """Seconds since any count of this pipeline changed."""
        clock = self._clocks.get(name)
        return 0.0 if clock is None else now - clock.changed

    def forget(self, names: list[str] | None = None) -> None:
        """Drop history (after a reset the counts start again from zero)."""
        if names is None:
            self._clocks.clear()
        for name in names or ():
            self._clocks.pop(name, None)

    def verdict(
        self,
        name: str,
        counts: Counts,
        on: bool,
        now: float,
        final: bool = False,
        definite: dict[str, tuple[int, str]] | None = None,
    ) -> Verdict:
        """Judge one pipeline. ``final`` means it has settled: every shortfall is a loss.

        ``definite``: stage -> (count, cause) of values genmon *saw* being lost on the way to that
        stage (a send never awaited, a delivery error, a decode failure, a crash). Those are lost
        at once, with no settling, and name the verdict's cause before any silent shortfall.
        """
        for stage in STAGES[1:]:
            count, cause = (definite or {}).get(stage, (0, ""))
            if count:
                text = f"lost at {stage}: {count} ({CAUSE_WORDS.get(cause, cause)})"
                return Verdict("lost", text, stage, lost=count, cause=cause)
        values = counts.as_tuple()
        clock = self._clocks.get(name)
        for i in range(1, len(values)):
            short = values[i - 1] - values[i]
            if short <= 0:
                continue
            if clock is None:
                stuck = final
            else:
                idle = now - max(clock.moved[i], clock.caught_up[i])
                stuck = final or idle >= self.settle_seconds
            if stuck:
                return Verdict("lost", f"lost at {STAGES[i]}: {short}", STAGES[i], lost=short)
        in_flight = max(values[0] - values[-1], 0)
        if not on:
            text = "paused" + (f" · {in_flight} in flight" if in_flight else "")
            return Verdict("paused", text, in_flight=in_flight)
        if in_flight:
            return Verdict("in_flight", f"ok · {in_flight} in flight", in_flight=in_flight)
        return Verdict("ok", "ok")
