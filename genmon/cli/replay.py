"""``genmon replay FILE``: a recorded run (``--record``), offline — no broker, no Faust. The run's
snapshots are rebuilt from its recorded inputs (:mod:`genmon.watch.replay`)."""

from __future__ import annotations

import sys

import click

from genmon.cli.base import CONTEXT_SETTINGS
from genmon.cli.options import (
    UsageProblem,
    fail_on_option,
    json_option,
    junit_option,
    summary_option,
    writable,
)
from genmon.model import parse_fail_on, problems


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("recording", metavar="FILE")
@json_option
@click.option(
    "--at",
    "at_seconds",
    type=float,
    default=None,
    metavar="SECONDS",
    help="The snapshot this many seconds into the run [default: its end].",
)
@fail_on_option("With --junit/--summary: the problems that count")
@junit_option
@summary_option
def replay(
    recording: str,
    json_output: bool,
    at_seconds: float | None,
    fail_on: str,
    junit_path: str | None,
    summary_path: str | None,
) -> None:
    """Replay a run recorded with --record, offline: the screen, with time under your keys (p play,
    . and , step, j the next problem); in a pipe the report check prints; --json the snapshot as
    JSON (at the end, what the run's own --json printed)."""
    from genmon.model.recording import RecordingError
    from genmon.watch.replay import Replay

    if at_seconds is not None and (at_seconds < 0 or at_seconds != at_seconds):
        raise UsageProblem(f"--at {at_seconds!r}: seconds into the run, 0 or more")
    try:
        kinds = parse_fail_on(fail_on)
    except ValueError as exc:
        raise UsageProblem(f"--fail-on: {exc}") from None
    for option, path in (("--junit", junit_path), ("--summary", summary_path)):
        writable(option, path)
    try:
        run = Replay(recording)
        if at_seconds is not None:
            run.seek_seconds(at_seconds)
    except RecordingError as exc:
        raise UsageProblem(f"{recording}: {exc}") from None
    if junit_path is not None or summary_path is not None:  # the CI formats, made after the run
        from genmon.cli.junit import write_junit
        from genmon.cli.summary import write_summary

        found = problems(run.snapshot(), kinds)
        if junit_path is not None:
            write_junit(junit_path, run.snapshot(), found)
        if summary_path is not None:
            write_summary(summary_path, run.snapshot(), found)
    if run.cut:
        click.echo(
            f"genmon replay: {recording} ends inside a frame (the run was cut): replaying up to it", err=True
        )
    if json_output:
        click.echo(run.to_json())
        return
    if not sys.stdout.isatty() or not sys.stdin.isatty():  # a pipe, a CI log: the report, as check prints it
        from genmon.cli.report import print_report

        print_report(run.snapshot(), False)
        click.echo(f"genmon replay: {run.at:.1f} s of {run.length:.1f} s")
        return
    from genmon.tui import GenmonApp

    screen = GenmonApp(run, log_ring=run)
    screen.run()
    sys.exit(screen.return_code or 0)


__all__ = ["replay"]
