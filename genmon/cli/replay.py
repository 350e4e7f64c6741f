"""``genmon replay FILE``: a recorded run (``--record``), offline — no broker, no Faust. The run's
snapshots are rebuilt from its recorded inputs (:mod:`genmon.watch.replay`)."""

from __future__ import annotations

import sys

import click

from genmon.cli.base import CONTEXT_SETTINGS
from genmon.cli.options import UsageProblem, json_option


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
def replay(recording: str, json_output: bool, at_seconds: float | None) -> None:
    """Replay a run recorded with --record, offline: the screen, with time under your keys (p play,
    . and , step, j the next problem); in a pipe the report check prints; --json the snapshot as
    JSON (at the end, what the run's own --json printed)."""
    from genmon.model.recording import RecordingError
    from genmon.watch.replay import Replay

    if at_seconds is not None and (at_seconds < 0 or at_seconds != at_seconds):
        raise UsageProblem(f"--at {at_seconds!r}: seconds into the run, 0 or more")
    try:
        run = Replay(recording)
        if at_seconds is not None:
            run.seek_seconds(at_seconds)
    except RecordingError as exc:
        raise UsageProblem(f"{recording}: {exc}") from None
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
