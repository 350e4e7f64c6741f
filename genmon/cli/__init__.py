"""The ``genmon`` command: one module per command over shared options (``options.py``), checks
(``base.py``) and endings (``outcome.py``).

:func:`main` is the entry point: every expected failure is one line on stderr and exit status 2;
at exit the run's log folder is removed, or kept (its path printed) when asked or when the run went
wrong.
"""

from __future__ import annotations

import sys

import click

from genmon.broker import BrokerError
from genmon.cli.base import WHOLE_PROCESS
from genmon.cli.check import check
from genmon.cli.outcome import Exit
from genmon.cli.replay import replay
from genmon.cli.run import cli
from genmon.cli.tools import kafka, worker
from genmon.cli.watch import serve, watch
from genmon.host.errors import HostError
from genmon.host.loader import AppLoadError
from genmon.listen import ListenError

for command in (check, watch, serve, worker, kafka, replay):
    cli.add_command(command)

__all__ = ["cli", "main"]


def main(argv: list[str] | None = None) -> None:
    """Run ``genmon`` with ``argv`` (the process's arguments by default) and exit with its status."""
    from genmon.watch.logs import RunLogs, finish_logs

    try:
        status = _status_of(argv)
    except BaseException:  # a defect of genmon's own: its traceback, and the logs to go with it
        RunLogs.trouble = True
        kept = finish_logs(1)
        if kept is not None:
            print(f"genmon: log kept: {kept}", file=sys.stderr)
        raise
    kept = finish_logs(status)
    if kept is not None:
        print(f"genmon: log kept: {kept}", file=sys.stderr)
    sys.exit(status)


def _status_of(argv: list[str] | None) -> int:
    try:
        code = cli.main(
            args=argv, prog_name="genmon", standalone_mode=False, obj=WHOLE_PROCESS if argv is None else None
        )
    except SystemExit as exc:
        code = exc.code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        return _fail(exc.format_message())
    except (BrokerError, HostError, AppLoadError, ListenError) as exc:
        return _fail(str(exc))
    except (KeyboardInterrupt, click.exceptions.Abort):
        return 130
    if code is None:
        return Exit.OK
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)  # sys.exit("message"): said, and a failure
    return Exit.PROBLEM


def _fail(message: str) -> int:
    line = " ".join(message.split())
    print(f"genmon: error: {line}", file=sys.stderr)
    return Exit.BAD_INPUT
