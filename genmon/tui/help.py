"""The help screen: keys, what each stage means, and what each demo pipeline reproduces."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Markdown

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
        Binding("escape,q,question_mark", "dismiss", "close", show=True, key_display="esc"),
    ]

    def __init__(
        self, keys: list[tuple[str, str]], pipelines: dict[str, str], settle: float, log_path: str | None
    ) -> None:
        """``keys``: (key, what it does) for every binding of the screen, in order."""
        super().__init__()
        self._keys = "| key | does |\n|---|---|\n" + "\n".join(f"| `{k}` | {text} |" for k, text in keys)
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
                self._keys,
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
        yield Footer()  # its own keys: the main screen's do nothing here

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
