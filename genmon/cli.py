"""The ``genmon`` command.

Every mistake a user can make on the command line ends in one line on stderr and exit status 2
(DESIGN rule 6); every way out (q, Ctrl+C, SIGTERM, an exception) stops Faust and the embedded
broker and removes the scratch directories (rule 5).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click

from genmon.broker import BrokerAddress, BrokerError, EmbeddedBroker, check_reachable, parse_broker_url
from genmon.host import Host, HostError, LogRing, default_log_path, route_logging
from genmon.version import __version__

MIN_COLUMNS, MIN_LINES = 80, 20
SETTLE_QUIET_SECONDS, SETTLE_LIMIT_SECONDS = 2.0, 30.0


class PositiveNumber(click.ParamType):
    """A number above zero, with an error message a user understands."""

    name = "SECONDS|N"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not number > 0 or number != number or number == float("inf"):
            self.fail(f"{value!r} must be a number greater than 0", param, ctx)
        return number


positive = PositiveNumber()


class UsageProblem(click.UsageError):
    """A bad option value discovered after parsing (still exit 2, still one line)."""


@dataclass
class Broker:
    address: BrokerAddress
    embedded: EmbeddedBroker | None


@contextlib.contextmanager
def open_broker(url: str | None, log_path: Path) -> Iterator[Broker]:
    """The external broker at ``url`` (checked reachable), or a fresh embedded one, always stopped."""
    if url is not None:
        address = parse_broker_url(url)
        check_reachable(address)
        yield Broker(address, None)
        return
    embedded = EmbeddedBroker(log_path=log_path.with_suffix(".broker.log"))
    try:
        embedded.start()
        assert embedded.address is not None
        yield Broker(embedded.address, embedded)
    finally:
        embedded.stop()


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


@click.command(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "-b",
    "--broker",
    metavar="URL",
    help="Run on this Kafka broker (kafka://HOST:PORT) instead of the embedded one.",
)
@click.option(
    "--rate", type=positive, default=10.0, show_default=True, help="Values per second per generator."
)
@click.option(
    "--settle",
    type=positive,
    default=5.0,
    metavar="SECONDS",
    show_default=True,
    help="Seconds a pipeline must be quiet before a shortfall counts as lost, not in flight.",
)
@click.option("--headless", is_flag=True, help="No screen: run, pause, settle, print the result.")
@click.option(
    "--duration",
    type=positive,
    default=None,
    metavar="SECONDS",
    help="With --headless: seconds the generators run before they are paused.  [default: 10]",
)
@click.option("--json", "json_output", is_flag=True, help="With --headless: print the snapshot as JSON.")
@click.option(
    "--scenarios",
    metavar="NAMES",
    default=None,
    help="Demo pipelines to run: 'all', or a comma list (see ? in the screen).  "
    "[default: unwired,sync-pump,async-pump]",
)
@click.option("--app-id", default="genmon-demo", show_default=True, help="Faust app id of the demo.")
@click.version_option(__version__, "-V", "--version", prog_name="genmon")
def cli(
    broker: str | None,
    rate: float,
    settle: float,
    headless: bool,
    duration: float | None,
    json_output: bool,
    scenarios: str | None,
    app_id: str,
) -> None:
    """genmon: where did my values go?

    Runs a demo Faust app (three pipelines reproducing "the agent never receives the generator's
    values") on an embedded Kafka-compatible broker, and shows per pipeline how many values were
    yielded, sent, acked, received and processed.
    """
    from genmon.demo import UnknownScenario, select

    try:
        chosen = select(scenarios)
    except UnknownScenario as exc:
        raise UsageProblem(str(exc)) from None
    if json_output and not headless:
        raise UsageProblem("--json goes with --headless")
    if duration is not None and not headless:
        raise UsageProblem("--duration goes with --headless")
    if broker is not None:
        check_reachable(parse_broker_url(broker))
    if not headless:
        _check_terminal()
    run_demo(
        broker_url=broker,
        rate=rate,
        settle=settle,
        headless=headless,
        duration=duration if duration is not None else 10.0,
        json_output=json_output,
        app_id=app_id,
        scenarios=chosen,
    )


def _check_terminal() -> None:
    # Textual draws on stderr and reads stdin: both must be the terminal.
    if not (sys.stderr.isatty() and sys.stdin.isatty()):
        raise UsageProblem("the screen needs a terminal; use --headless (with --json) in scripts")
    size = shutil.get_terminal_size((0, 0))
    if size.columns < MIN_COLUMNS or size.lines < MIN_LINES:
        raise UsageProblem(
            f"terminal too small ({size.columns}x{size.lines}); genmon needs at least "
            f"{MIN_COLUMNS}x{MIN_LINES}"
        )


def run_demo(
    *,
    broker_url: str | None,
    rate: float,
    settle: float,
    headless: bool,
    duration: float,
    json_output: bool,
    app_id: str,
    scenarios: list[str],
) -> None:
    from genmon.demo import descriptions, plan, select

    log_path = default_log_path()
    ring = route_logging(log_path)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _exit_on_signal)
    with (
        tempfile.TemporaryDirectory(prefix="genmon-faust-") as datadir,
        open_broker(broker_url, log_path) as broker,
    ):
        plans = plan(
            scenarios,
            app_id=app_id,
            broker=broker.address.url,
            rate=rate,
            datadir=datadir,
            fast_join=broker.embedded is not None,
        )
        host = Host(
            factories=[(p.factory, p.delay) for p in plans],
            broker=broker.address,
            embedded=broker.embedded is not None,
            broker_alive=broker.embedded.is_up if broker.embedded else None,
            settle_seconds=settle,
            log_path=str(log_path),
        )
        try:
            host.start()
            if headless:
                _run_headless(host, duration, json_output)
            else:
                catalogue = {
                    name: ("● " if name in scenarios else "") + text
                    for name, text in descriptions(select("all")).items()
                }
                _run_screen(host, catalogue, ring)
        finally:
            host.stop()


def _run_headless(host: Host, duration: float, json_output: bool) -> None:
    from genmon.report import print_report

    time.sleep(duration)
    host.set_all(False)
    host.wait_settled(SETTLE_QUIET_SECONDS, SETTLE_LIMIT_SECONDS)
    print_report(host.snapshot(final=True), json_output)


def _run_screen(host: Host, descriptions: dict[str, str], ring: LogRing) -> None:
    from genmon.tui import GenmonApp

    GenmonApp(host, descriptions=descriptions, log_ring=ring).run()


def main(argv: list[str] | None = None) -> None:
    """Entry point: turn every expected failure into one line on stderr and exit status 2."""
    try:
        code = cli.main(args=argv, prog_name="genmon", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        _fail(exc.format_message())
    except (BrokerError, HostError) as exc:
        _fail(str(exc))
    except (KeyboardInterrupt, click.exceptions.Abort):
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str) -> None:
    line = " ".join(message.split())
    print(f"genmon: error: {line}", file=sys.stderr)
    sys.exit(2)
