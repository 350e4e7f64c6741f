"""How a run of genmon ends: its exit statuses and the lines it says on stderr about the end.

The statuses are defined here once; ``--help``, docs/REFERENCE.md's table (checked by a test) and
the code all read them from :class:`Exit` and :data:`STATUSES`.
"""

from __future__ import annotations

import enum
from dataclasses import replace
from typing import TYPE_CHECKING

import click

from genmon.model import AppState, Cause, Snapshot, plural

if TYPE_CHECKING:
    from genmon.session import Running


class Exit(enum.IntEnum):
    """genmon's exit statuses (a signal that ends a run: 128 + its number, as shells report it)."""

    OK = 0
    PROBLEM = 1
    BAD_INPUT = 2
    EMPTY = 3
    DRAINING = 4
    HUNG = 5
    BROKER_FAULT = 6


STATUSES: dict[Exit, str] = {
    Exit.OK: "no problem",
    Exit.PROBLEM: "a problem of a --fail-on kind was found",
    Exit.BAD_INPUT: "bad input: an option, a broker, a module; one line on stderr",
    Exit.EMPTY: "nothing was checked: no pipeline seen (--allow-empty passes instead), or no value and no "
    "live worker in a watched fleet",
    Exit.DRAINING: "no problem found, but rows were still draining when the wait for them ran out",
    Exit.HUNG: "no problem found, but the app's stop hung and its worker was abandoned or killed",
    Exit.BROKER_FAULT: "the broker failed during the run: losses are put on the broker",
}
"""What each status means, in the words of ``--help`` and the docs."""


def statuses_help(*which: Exit) -> str:
    """The exit statuses a command can end with, as the last paragraph of its ``--help`` (``\\b``:
    click keeps its lines as they are)."""
    lines = [f"  {int(status):<6} {STATUSES[status]}" for status in which]
    return "\n".join(["\b", "Exit status:", *lines, f"  {'128+N':<6} a signal N ended the run"])


ENDED_BY: dict[Exit, str] = {
    Exit.OK: "every command",
    Exit.PROBLEM: "`check`",
    Exit.BAD_INPUT: "every command",
    Exit.EMPTY: "`check`, `watch --headless`",
    Exit.DRAINING: "`check`, `genmon --headless`",
    Exit.HUNG: "`check`, `genmon` (screen and `--headless`)",
    Exit.BROKER_FAULT: "`check`, `genmon` (screen and `--headless`)",
}
"""Which commands can end with each status."""


def statuses_table() -> str:
    """The statuses as a Markdown table (the one in docs/REFERENCE.md, checked by a test)."""
    rows = [f"| {int(status)} | {STATUSES[status]} | {ENDED_BY[status]} |" for status in Exit]
    return "\n".join(
        [
            "| status | meaning | from |",
            "|---|---|---|",
            *rows,
            "| 128+N | a signal N ended the run (130 Ctrl+C, 143 SIGTERM, 129 SIGHUP) | every command |",
        ]
    )


def final_snapshot(run: Running, snapshot: Snapshot) -> Snapshot:
    """The result to print: as read before the apps stopped, or — when the broker was not answering
    at the end, so the workers' last reports could not travel — with their final reports, which they
    also write to files, taken in (exact counts of what was sent and never acknowledged)."""
    if run.finals and not run.watcher.broker_up():
        return replace(run.with_finals(), draining=())
    return snapshot


def broker_fault(run: Running, snapshot: Snapshot | None) -> int:
    """Say in one line (stderr) when the broker failed during the run; the exit status for it."""
    broker = snapshot.broker if snapshot is not None else run.watcher.snapshot().broker
    blamed = snapshot is not None and any(p.verdict.cause == Cause.BROKER for p in snapshot.pipelines)
    if not broker.outages:
        return Exit.OK
    spells = "; ".join(f"{o.state} {o.window()}" for o in broker.outages[-3:])
    if broker.up and not blamed:
        click.echo(f"genmon: the broker did not answer for a while ({spells}); nothing was lost", err=True)
        return Exit.OK
    lost = (
        sum(p.verdict.lost for p in snapshot.pipelines if p.verdict.cause == Cause.BROKER) if snapshot else 0
    )
    said = (
        f": {plural(lost, 'value')} lost with it"
        if lost
        else ": the result is what genmon knew before it failed"
    )
    click.echo(f"genmon: the broker failed during the run ({spells}){said}", err=True)
    return Exit.BROKER_FAULT


def trouble_on_screen(snapshot: Snapshot | None) -> None:
    """The screen was quit (status 0) while the app had crashed or the broker was down: the log is
    what the user reads next, so it is kept and its path printed."""
    from genmon.watch.logs import RunLogs

    if snapshot is not None and (snapshot.app_state == AppState.CRASHED or not snapshot.broker.up):
        RunLogs.trouble = True


def hung(run: Running) -> bool:
    """Say in one line (stderr) when an app's stop hung: its worker abandoned it after its bound, or
    genmon killed the worker after its own."""
    from genmon.fleet.processes import STOP_SECONDS
    from genmon.fleet.worker import APP_STOP_SECONDS

    killed = run.workers.killed if run.workers is not None else []
    if run.hung:
        outages = run.watcher.health.info(run.watcher.broker_url).outages
        why = (
            "Faust's stop waits for the broker to take the producer's last sends; the broker does not answer"
            if not run.watcher.broker_up()
            else f"Faust's stop hung after the broker's outage at {outages[-1].since}: it waits on the broker"
            if outages
            else "Faust's stop hung: an agent or task that never lets go"
        )
        click.echo(
            f"genmon: {', '.join(dict.fromkeys(run.hung))} did not stop within {APP_STOP_SECONDS:.0f}s "
            f"({why}); abandoned",
            err=True,
        )
    if killed:
        names = ", ".join(f"w{n}" for n in killed)
        click.echo(f"genmon: worker {names} did not exit within {STOP_SECONDS:.0f}s; killed", err=True)
    return bool(run.hung or killed)


def nothing_watched(snapshot: Snapshot) -> str | None:
    """Why a headless watch saw nothing to judge — no value in any row and no worker alive — with
    the apps' errors (a fleet whose workers all failed to start), or None when it saw something."""
    if any(pipe.counts.yielded or pipe.counts.received for pipe in snapshot.pipelines):
        return None
    if any(worker.alive for worker in snapshot.workers):
        return None
    errors = [f"{app.app_id}: {app.error}" for app in snapshot.apps if app.error]
    heard = "no worker alive" if snapshot.workers else "no worker reported"
    return f"no value seen and {heard}" + (f" ({'; '.join(errors)})" if errors else "")
