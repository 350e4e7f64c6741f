"""The panel under the table: per-stage rates for the highlighted pipeline, and why/fix."""

from __future__ import annotations

from collections import deque
from typing import Any

from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Label, Sparkline, Static

from genmon.model import STAGES, PipelineSnapshot, Snapshot, Stage, VerdictState, flow

HISTORY_SECONDS = 60


class RateHistory:
    """Per pipeline and stage, the values per second of the last minute (from count deltas)."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[float, tuple[int, ...]]] = {}
        self.rates: dict[str, dict[str, deque[float]]] = {}
        self.samples: dict[str, int] = {}
        """pipeline -> how many samples it has had (the sparklines repaint only on a new one)"""

    def add(self, pipe: PipelineSnapshot, now: float) -> None:
        last = self._last.get(pipe.name)
        if last is not None and now - last[0] < 1.0:
            return  # a sample a second: most refreshes stop here, before any other work
        counts = pipe.counts.as_tuple()
        series = self.rates.get(pipe.name)
        if series is None:
            series = self.rates[pipe.name] = {
                stage: deque([0.0] * HISTORY_SECONDS, maxlen=HISTORY_SECONDS) for stage in STAGES
            }
        if last is None:
            self._last[pipe.name] = (now, counts)
            return
        elapsed = now - last[0]
        for stage, before, after in zip(STAGES, last[1], counts, strict=True):
            series[stage].append(max(after - before, 0) / elapsed)
        self._last[pipe.name] = (now, counts)
        self.samples[pipe.name] = self.samples.get(pipe.name, 0) + 1

    def current(self, stage: str = "yielded") -> dict[str, float]:
        """Pipeline -> its latest values/s at ``stage`` (the rate sort)."""
        return {name: series[stage][-1] for name, series in self.rates.items()}


def _judged_at(pipe: PipelineSnapshot, stage: Stage) -> list[tuple[str, int]]:
    """How the verdict judged the values missing at ``stage``: ``[("lost", 26), ("stuck", 91)]``
    when a seen loss and the rest of the shortfall beside it (``Verdict.also``) share the stage."""
    judged: dict[str, int] = {}
    for part in (pipe.verdict, pipe.verdict.also):
        if part is None or part.state not in (
            VerdictState.LOST,
            VerdictState.STUCK,
            VerdictState.UNVERIFIABLE,
        ):
            continue
        for at, count in part.by_stage():
            if at == stage:
                judged[str(part.state)] = judged.get(str(part.state), 0) + count
    return list(judged.items())


def missing_text(pipe: PipelineSnapshot) -> Text:
    """Which ids are missing where, e.g. ``not at received (3): 17-19``; judged ones in red, with
    how: ``missing at received (117: 26 lost, 91 stuck)`` when they were judged two ways."""
    text = Text()
    lost_stage = pipe.verdict.lost_at
    for stage in STAGES[1:]:
        ids = pipe.missing.get(stage)
        if ids is None:
            continue
        judged = _judged_at(pipe, stage) if stage == lost_stage else []
        if len(judged) > 1:
            how = ", ".join(f"{count:,} {word}" for word, count in judged)
            label = f"missing at {stage} ({ids.count:,}: {how})"
        elif judged:
            label = f"{judged[0][0]} at {stage} ({ids.count:,})"
        else:
            label = f"{'lost' if stage == lost_stage else 'not yet'} at {stage} ({ids.count:,})"
        style = "bold red" if stage == lost_stage else "yellow"
        text.append(f"\nids {label}: ", style=style)
        text.append(ids.text())
    if pipe.stalls:
        text.append(f"\nthe generator stalled the loop {pipe.stalls} times, longest ", style="bold red")
        text.append(f"{pipe.longest_stall:.2f}s: blocking code (time.sleep, sync I/O) in a generator")
    dups = {stage: n for stage, n in pipe.duplicates.items() if n}
    if dups:
        text.append("\nduplicates: ", style="bold magenta")
        text.append(", ".join(f"{stage} {n}" for stage, n in dups.items()))
    return text


class Rates(Vertical):
    """One sparkline per stage: values per second over the last minute."""

    def compose(self) -> ComposeResult:
        yield Label("rates, values/s (last 60 s)", classes="rates-title")
        for stage in STAGES:
            with Horizontal(classes="rate-row"):
                yield Label(stage, classes="rate-label")
                yield Sparkline([0.0], classes=f"rate-spark spark-{stage}")
                yield Label("0", classes=f"rate-value rate-{stage}")

    _drawn: tuple[str, int] | None = None

    def show(self, pipe: PipelineSnapshot, history: RateHistory) -> None:
        series = history.rates.get(pipe.name)
        if not series:
            return
        drawn = (pipe.name, history.samples.get(pipe.name, 0))
        if drawn == self._drawn:
            return  # nothing new since the last repaint (a sample comes once a second)
        self._drawn = drawn
        for stage in STAGES:
            data = list(series[stage])  # a new list: Sparkline repaints only on a new object
            self.query_one(f".spark-{stage}", Sparkline).data = data
            self.query_one(f".rate-{stage}", Label).update(f"{data[-1]:.1f}", layout=False)  # fixed width


class Explanation(VerticalScroll):
    """Why the pipeline looks the way it does, which ids are missing where, and the fix."""

    def compose(self) -> ComposeResult:
        yield Static(classes="why-text")
        yield Static(classes="missing-text")
        yield Static(classes="fix-text")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._shown: dict[str, object] = {}
        """part -> the words it shows now"""

    def _put(self, part: str, text: Text | str) -> None:
        """Update one part only when its words changed, and lay the screen out again only when
        they need another height: a layout repaints everything on screen, and the counts in these
        words move on most refreshes."""
        key = (text.plain, tuple(text.spans)) if isinstance(text, Text) else text
        if key == self._shown.get(part):
            return
        self._shown[part] = key
        widget = self.query_one(f".{part}", Static)
        widget.update(text, layout=False)
        size = widget.size
        if not size.width or widget.get_content_height(size, size, size.width) != size.height:
            widget.refresh(layout=True)

    def show(self, pipe: PipelineSnapshot, snapshot: Snapshot) -> None:
        diagnosis = snapshot.diagnose(pipe)
        self._put("why-text", Text.assemble(("why: ", "bold"), diagnosis.why))
        self._put("missing-text", missing_text(pipe))
        fix = self.query_one(".fix-text", Static)
        if diagnosis.fix:
            if self._shown.get("fix-text") != diagnosis.fix:  # syntax highlighting is not cheap
                self._shown["fix-text"] = diagnosis.fix
                fix.update(Syntax(diagnosis.fix, "python", theme="ansi_dark", background_color="default"))
            fix.display = True
        else:
            fix.display = False

    def show_text(self, text: str) -> None:
        """Plain words instead of a pipeline's explanation (a header row is highlighted)."""
        self._put("why-text", text)
        self._put("missing-text", "")
        self.query_one(".fix-text", Static).display = False


class DetailPanel(Horizontal):
    """Under the table: sparklines on the left, the explanation on the right."""

    def compose(self) -> ComposeResult:
        yield Rates(id="rates")
        yield Explanation(id="why")

    def show_group(self, app_id: str, rows: int, total: int, counts: str) -> None:
        """The highlighted row is an app's header row: what it holds, and what enter does."""
        self.border_title = (
            f"{app_id}: {rows} of {total} rows" if rows != total else f"{app_id}: {total} rows"
        )
        self.query_one(Rates).display = False  # an app has no one rate: its rows have theirs
        self.query_one(Explanation).show_text(
            f"app {app_id}: {counts}. Enter folds or unfolds its rows; the rows of every app are "
            "sorted and filtered alike (s, f, /)."
        )

    def show(self, pipe: PipelineSnapshot | None, history: RateHistory, snapshot: Snapshot) -> None:
        if pipe is None and not snapshot.pipelines:
            return  # no row yet: the table says so
        if pipe is None:  # rows, but none shown (a filter or a search that keeps no row)
            self.border_title = "no row shown"
            self.query_one(Rates).display = False
            self.query_one(Explanation).show_text(
                "No row matches: f shows all rows again, escape (or / and an empty search) clears the search."
            )
            return
        title = f"{pipe.name}: {flow(pipe)}"
        if title != self.border_title:  # setting it repaints the panel, even to the same words
            self.border_title = title
        rates = self.query_one(Rates)
        rates.display = True
        rates.show(pipe, history)
        self.query_one(Explanation).show(pipe, snapshot)
