"""One run of genmon, from the command line's options to a started host, and back down again.

Everything that is started here is stopped here, on every way out (an ExitStack unwinds it):
the Faust apps, the embedded broker, the scratch directory that holds Faust's data.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from genmon.broker import FAST_JOIN, BrokerAddress, EmbeddedBroker, check_reachable, parse_broker_url
from genmon.host import Host, LogRing, default_log_path, route_logging, wait_settled
from genmon.model import Snapshot

SETTLE_QUIET_SECONDS, SETTLE_LIMIT_SECONDS = 2.0, 30.0


@dataclass
class Options:
    """What the command line asked for (already validated by click)."""

    broker_url: str | None = None
    embedded: bool = False
    app_spec: str | None = None
    rate: float = 10.0
    settle: float = 5.0
    scenarios: list[str] = field(default_factory=list)
    app_id: str = "genmon-demo"
    loglevel: int = logging.INFO
    create_topics: bool = False


@dataclass
class Running:
    host: Host
    ring: LogRing
    descriptions: dict[str, str]


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def running(opts: Options) -> Iterator[Running]:
    """Start what ``opts`` asks for; yield once every app runs (or failed alone); stop it all."""
    log_path = default_log_path()
    ring = route_logging(log_path, opts.loglevel)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _exit_on_signal)
    with contextlib.ExitStack() as stack:
        datadir = stack.enter_context(tempfile.TemporaryDirectory(prefix="genmon-faust-"))
        if opts.app_spec is not None:
            host, descriptions = _user_app(opts, stack, datadir, log_path)
        else:
            host, descriptions = _demo(opts, stack, datadir, log_path)
        stack.callback(host.stop)
        host.start()
        yield Running(host, ring, descriptions)


def _embedded(stack: contextlib.ExitStack, log_path: Any) -> EmbeddedBroker:
    broker = EmbeddedBroker(log_path=log_path.with_suffix(".broker.log"))
    stack.callback(broker.stop)
    broker.start()
    return broker


def _external(url: str) -> BrokerAddress:
    address = parse_broker_url(url)
    check_reachable(address)
    return address


def _demo(
    opts: Options, stack: contextlib.ExitStack, datadir: str, log_path: Any
) -> tuple[Host, dict[str, str]]:
    from genmon.demo import descriptions, plan, select

    embedded = None if opts.broker_url else _embedded(stack, log_path)
    address = embedded.address if embedded else _external(opts.broker_url or "")
    assert address is not None
    plans = plan(
        opts.scenarios,
        app_id=opts.app_id,
        broker=address.url,
        rate=opts.rate,
        datadir=datadir,
        broker_settings=FAST_JOIN if embedded is not None else {},
    )
    host = Host(
        factories=[(p.factory, p.delay) for p in plans],
        broker=address,
        embedded=embedded is not None,
        broker_alive=embedded.is_up if embedded else None,
        settle_seconds=opts.settle,
        log_path=str(log_path),
        create_topics=True,  # genmon's own demo: its topics exist before its agents subscribe, on any broker
    )
    catalogue = {
        name: ("● " if name in opts.scenarios else "") + text
        for name, text in descriptions(select("all")).items()
    }
    return host, catalogue


def _user_app(
    opts: Options, stack: contextlib.ExitStack, datadir: str, log_path: Any
) -> tuple[Host, dict[str, str]]:
    from genmon.host.loader import load_app, prepare_app
    from genmon.probe import Probe

    probe = Probe()
    probe.install()  # before the import: @genmon.track and the agents bind to it as they are defined
    stack.callback(probe.uninstall)
    app = load_app(opts.app_spec or "")
    if opts.embedded:
        embedded = _embedded(stack, log_path)
        address = embedded.address
        assert address is not None
        prepare_app(app, broker=address.url, broker_settings=FAST_JOIN, datadir=datadir)
    else:
        url = opts.broker_url or str(app.conf.broker[0])
        address = _external(url)
        embedded = None
        prepare_app(
            app, broker=address.url if opts.broker_url else None, broker_settings=None, datadir=datadir
        )
    host = Host(
        lambda: app,
        broker=address,
        embedded=embedded is not None,
        broker_alive=embedded.is_up if embedded else None,
        settle_seconds=opts.settle,
        log_path=str(log_path),
        probe=probe,
        listening_rows=True,
        create_topics=embedded is not None or opts.create_topics,
    )
    return host, {}


def settle_and_read(host: Host, duration: float) -> Snapshot:
    """Let the generators run ``duration`` seconds, switch them off, wait for quiet, read."""
    time.sleep(duration)
    host.set_all(False)
    wait_settled(host, SETTLE_QUIET_SECONDS, SETTLE_LIMIT_SECONDS)
    host.offsets.refresh()  # broker truth as of now, not of the last 2 s poll
    return host.snapshot(final=True)
