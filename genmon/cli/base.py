"""What every ``genmon`` command shares: its click settings and the checks made before anything
starts (a broker given twice, an address taken, a terminal too small), each a one-line error."""

from __future__ import annotations

import logging
import shutil
import sys
from typing import Any

import click

from genmon.broker import check_reachable, parse_broker_url
from genmon.broker.security import PLAINTEXT, Security, from_options
from genmon.cli.options import UsageProblem
from genmon.listen import check_port

CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

WHOLE_PROCESS = "whole process"
"""The click context's ``obj`` when ``genmon`` runs as a process of its own (its arguments are the
process's): only then may a command run the process again (:func:`on_system_allocator`)."""


def whole_process() -> bool:
    return click.get_current_context().obj == WHOLE_PROCESS


def given(ctx: click.Context, name: str) -> bool:
    """Whether the user typed option ``name`` (not its default)."""
    return ctx.get_parameter_source(name) not in (None, click.core.ParameterSource.DEFAULT)


def security(pairs: tuple[str, ...], config: str | None, embedded: bool = False) -> Security | None:
    """``-X`` and ``--kafka-config`` as genmon's security settings (None: none given), checked now."""
    if not pairs and config is None:
        return None
    if embedded:
        raise UsageProblem("-X and --kafka-config are for a broker of yours; the embedded broker takes none")
    return from_options(pairs, config)


def broker_choice(
    broker: str | None, embedded: bool, given: Security | None = None, app: bool = False
) -> str | None:
    """The broker asked for (a properties file's ``bootstrap.servers`` where no URL is), reachable
    and accepting genmon's clients — or a one-line error, before anything starts. ``app``: with -A
    and no ``-X`` the app's own credentials count, known once a worker loaded it."""
    if broker is not None and embedded:
        raise UsageProblem("--broker and --embedded exclude each other")
    broker = broker or (given.bootstrap if given is not None else None)
    if broker is not None and app and given is None:
        check_reachable(parse_broker_url(broker))
    elif broker is not None:  # a malformed or unreachable broker fails here, before anything starts
        connects(broker, given)
    return broker


def connects(broker: str, given: Security | None) -> None:
    from genmon.broker.handshake import check_connects

    address = parse_broker_url(broker)
    check_reachable(address)
    check_connects(address.secured(given or PLAINTEXT))


def fleet_broker(command: str, broker: str | None, given: Security | None = None) -> str:
    """The broker a fleet reports to, reachable and accepting genmon's clients, or a one-line error."""
    broker = broker if broker and broker != "app" else (given.bootstrap if given is not None else None)
    if not broker:
        raise UsageProblem(f"genmon {command} needs --broker URL (or GENMON_BROKER set to a URL)")
    connects(broker, given)
    return broker


def listen(prometheus: tuple[str, int] | None) -> None:
    """A --prometheus address that cannot be listened on fails before anything starts."""
    if prometheus is not None:
        check_port(*prometheus, "--prometheus")


def level(name: str) -> int:
    """A --loglevel name as logging's number."""
    return int(getattr(logging, name.upper()))


def check_terminal(allow_served: bool = False) -> None:
    """Textual draws on stderr and reads stdin: both must be the terminal — except for the watcher's
    screen that ``genmon serve`` starts for a browser tab (pipes to the server, sized by the tab)."""
    from genmon.tui.served import served

    if allow_served and served():
        return
    if not (sys.stderr.isatty() and sys.stdin.isatty()):
        raise UsageProblem("the screen needs a terminal; use --headless (with --json) in scripts")
    from genmon.tui.too_small import MIN_COLUMNS, MIN_LINES, too_small  # the screen's own limit

    size = shutil.get_terminal_size((0, 0))
    if too_small(size.columns, size.lines):
        raise UsageProblem(
            f"terminal too small ({size.columns}x{size.lines}); "
            f"genmon needs at least {MIN_COLUMNS}x{MIN_LINES}"
        )
