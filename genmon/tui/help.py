"""The help screen: keys, what each stage means, and what each demo pipeline reproduces."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

KEYS = """\
| key | does |
|---|---|
| `space` | switch the highlighted pipeline's generator off or on |
| `enter` / `d` | details of the highlighted pipeline: ids missing per stage, latency, diagnosis |
| `a` / `n` | all generators on / all off |
| `r` | reset every count to zero |
| `l` | show or hide Faust's log lines |
| `?` | this help |
| `q` / `ctrl+c` | quit (stops Faust and the embedded broker) |
"""

STAGES = """\
| stage | the value… |
|---|---|
| yielded | was produced by the tracked generator |
| sent | was handed to `Topic.send` |
| acked | was acknowledged by the broker |
| received | was taken off the topic by an agent's stream |
| processed | was finished by the agent |

A shortfall between two stages is **in flight** while the later stage keeps moving, and **lost**
once it has not moved for the settle timeout ({settle:g} s). The first stage where values are lost
is highlighted in red.
"""


class HelpScreen(ModalScreen[None]):
    """Opened with ``?``; any of escape, ``q`` or ``?`` closes it."""

    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss", "close", show=True),
    ]

    def __init__(self, pipelines: dict[str, str], settle: float, log_path: str | None) -> None:
        super().__init__()
        self._pipelines = pipelines
        self._settle = settle
        self._log_path = log_path

    def compose(self) -> ComposeResult:
        rows = "\n".join(f"| `{name}` | {text} |" for name, text in self._pipelines.items())
        pipelines = (
            "Running now: ●. Choose others with `genmon --scenarios NAME,NAME` (or `all`).\n\n"
            f"| pipeline | reproduces |\n|---|---|\n{rows}\n"
            if rows
            else ""
        )
        text = "\n\n".join(
            part
            for part in (
                "# genmon: where did my values go?",
                "## Keys",
                KEYS,
                "## Stages",
                STAGES.format(settle=self._settle),
                "## Pipelines" if pipelines else "",
                pipelines,
                f"Faust's log file: `{self._log_path}`" if self._log_path else "",
            )
            if part
        )
        with VerticalScroll(id="help-body"):
            yield Markdown(text)

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
