"""The worker process genmon starts itself: ``genmon`` (the demo), ``genmon -A`` and ``genmon check``
run their Faust apps here, never in the screen's process.

The plan comes as JSON in ``GENMON_WORKER_PLAN`` (written by :mod:`genmon.fleet.processes`). The worker
runs the apps with :class:`genmon.host.Host` (each app on its own loop and thread), publishes the
host's reports with a :class:`~genmon.fleet.publisher.Publisher` and applies the control topic's
switches. SIGTERM, SIGINT and SIGHUP stop it: the apps stop (bounded), the final report goes out,
the process exits. A worker whose genmon is gone (``kill -9``: the kernel's ``PR_SET_PDEATHSIG`` is
the first line, a watch of the parent's pid the second) stops the same way, and one whose stop
hangs anyway exits after ``EXIT_BOUND_SECONDS``: nothing of genmon outlives it. A module that does
not import is reported in the status file genmon reads while it waits (``status_path``); apps
that all crash at start in a final report; the exit status is 2.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from genmon.fleet.publisher import Publisher
from genmon.model import one_line
from genmon.model.control_record import ControlRecord
from genmon.model.wire import WorkerReport

PLAN_ENV = "GENMON_WORKER_PLAN"
APP_STOP_SECONDS = 5.0
"""How long the worker lets its apps stop before it sends its final report anyway."""
EXIT_FAILED = 2
EXIT_BOUND_SECONDS = 30.0
"""From a stop asked for to ``os._exit``, whatever hangs (the apps' stop, the final report, a
start still waiting for a broker that died with genmon)."""
POLL_SECONDS = 0.05
"""How often the watchdog looks for a signal and for genmon's pid."""

log = logging.getLogger("genmon.worker")


class Worker:
    """Holds what the signal handler and the publisher's callbacks need."""

    def __init__(self, plan: dict[str, Any]) -> None:
        self.plan = plan
        self.host: Any = None
        self.stop = threading.Event()
        self.signalled = False
        """Set by the signal handler, which must not take a lock: ``Event.set`` there deadlocked a
        worker whose main thread was inside ``stop.wait()`` (the watchdog sets ``stop``)."""
        self.done = threading.Event()
        """Set once the worker has finished stopping (the watchdog then has nothing to do)."""

    def report(self, final: bool, latency: bool = True) -> WorkerReport:
        return self.host.report(final, latency)

    def control(self, record: ControlRecord) -> None:
        self.host.apply_control(record)


def watch_over(
    worker: Worker,
    parent: int | None,
    bound: float = EXIT_BOUND_SECONDS,
    exit: Any = os._exit,
) -> None:
    """The worker's watchdog (its own daemon thread): stops the worker when a signal asked for it
    (the handler only sets ``signalled``) or once genmon's process (``parent``) is no longer its
    parent — genmon was killed and the worker reparented — and ends the process ``bound`` seconds
    after any stop was asked for, if it has not ended by then: a worker must never outlive genmon,
    retrying a dead broker. A signal handler takes no lock (``Event.set`` would deadlock when a second
    signal arrives while the first handler holds the event's lock), hence the flag."""
    while not worker.stop.wait(POLL_SECONDS):
        if worker.signalled:
            worker.stop.set()
        elif parent is not None and os.getppid() != parent:
            log.warning("genmon worker: genmon (pid %d) is gone; stopping", parent)
            worker.stop.set()
    if not worker.done.wait(bound):
        log.warning("genmon worker: still stopping after %.0fs; exiting", bound)
        exit(EXIT_FAILED)


def given_security(plan: dict[str, Any]) -> Any:
    """``-X``/``--kafka-config`` as genmon wrote them for its workers, or None."""
    from genmon.broker.security import from_properties, read_properties

    path = plan.get("kafka_config")
    return from_properties(read_properties(path), "-X") if path else None


def _build_host(plan: dict[str, Any], datadir: str) -> Any:
    from genmon.broker import BrokerAddress, parse_broker_url
    from genmon.broker.security import PLAINTEXT
    from genmon.host.credentials import app_security, faust_settings, has_credentials
    from genmon.host.host import Host

    url = plan.get("broker")
    given = given_security(plan)
    if plan.get("app_spec"):
        from genmon.host.loader import load_app, prepare_app
        from genmon.probe import Probe

        probe = Probe()
        probe.install()  # before the import: @genmon.track and the agents bind to it as they are defined
        app, not_imported = load_app(plan["app_spec"], plan.get("cwd"))
        url = url or ";".join(str(u) for u in app.conf.broker)  # every bootstrap server it names
        settings = dict(plan.get("broker_settings") or {})
        if given is not None and not has_credentials(app):  # an app that names none gets -X's
            settings.update(faust_settings(given))
        prepare_app(
            app, broker=url if plan.get("broker") else None, broker_settings=settings or None, datadir=datadir
        )
        security = given or app_security(app)
    else:
        security = given or PLAINTEXT
    address: BrokerAddress = parse_broker_url(url or "").secured(security)
    common = dict(
        broker=address,
        embedded=plan.get("embedded", False),
        settle_seconds=plan.get("settle", 5.0),
        create_topics=plan.get("create_topics", False),
        watching=False,
    )
    if plan.get("app_spec"):
        from genmon.host import feeding

        feeds = [feeding.load(f) for f in plan.get("feeds") or ()] if plan.get("number", 1) == 1 else []
        host = Host(lambda: app, probe=probe, listening_rows=True, feeds=feeds, **common)
        host.runs[0].not_imported = not_imported
        return host
    from genmon.demo import plan as demo_plan

    plans = demo_plan(
        plan["scenarios"],
        app_id=plan["app_id"],
        broker=address.url,
        rate=plan["rate"],
        datadir=datadir,
        broker_settings={**(plan.get("broker_settings") or {}), **faust_settings(security)},
    )
    return Host(factories=[(p.factory, p.delay) for p in plans], **common)


def _handed_over(plan: dict[str, Any], host: Any) -> dict[str, Any]:
    """How the screen's process connects where this worker does: nothing to say for plaintext or
    for ``-X`` (genmon has them); the app's own credentials as a private properties file beside the
    status file (the CA of the app's TLS context written out); or why they cannot be handed over."""
    from genmon.broker.security import portable, write_properties

    security = host.broker.security
    if security is None or security.plain or plan.get("kafka_config") or not plan.get("status_path"):
        return {}
    if security.token_provider is not None:
        return {
            "kafka_unportable": "the app authenticates with OAUTHBEARER, whose token provider is code: give "
            "genmon's watcher a SASL user of its own with -X (or --kafka-config FILE)"
        }
    folder = os.path.dirname(plan["status_path"])
    path = write_properties(portable(security, folder), f"{plan['status_path']}.kafka")
    return {"kafka_config": path}


def _status(plan: dict[str, Any], **fields: Any) -> None:
    """Tell genmon how the start went (the broker the app uses, or why it cannot run)."""
    path = plan.get("status_path")
    if path:
        tmp = f"{path}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(fields, f)
        os.replace(tmp, path)


def final_path(status_path: str) -> str:
    return f"{status_path}.final"


def _final_to_file(plan: dict[str, Any], host: Any) -> None:
    """The final report, also as a file next to the status file: when the broker is gone, the
    report topic is too, and this is how genmon still learns the exact final counts (which values
    were sent but never acknowledged). Written before the publisher's bounded stop."""
    from genmon.model.wire import encode

    path = plan.get("status_path")
    if not path:
        return
    try:
        data = encode(host.report(final=True))
        tmp = f"{final_path(path)}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, final_path(path))
    except Exception as exc:  # the report topic may still carry it
        log.warning("genmon worker: final report not written: %s", one_line(exc))


def run(plan: dict[str, Any]) -> int:
    """The worker's life; returns the exit status."""
    from genmon.watch.logs import route_logging

    route_logging(Path(plan["log_path"]), plan.get("loglevel", logging.INFO))
    worker = Worker(plan)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: setattr(worker, "signalled", True))  # no lock: see Worker
    parent = plan.get("parent")
    threading.Thread(target=watch_over, args=(worker, parent), name="genmon-watchdog", daemon=True).start()
    try:
        return _run(worker, plan)
    finally:
        worker.done.set()


def _run(worker: Worker, plan: dict[str, Any]) -> int:
    import tempfile

    from genmon.broker import BrokerError
    from genmon.host.errors import HostError
    from genmon.host.loader import AppLoadError

    with tempfile.TemporaryDirectory(prefix="genmon-faust-") as datadir:
        try:
            host = _build_host(plan, datadir)
        except (AppLoadError, HostError, BrokerError) as exc:
            _status(plan, error=str(exc))
            return EXIT_FAILED
        except Exception as exc:  # the user's code raised something genmon did not foresee
            _status(plan, error=one_line(exc))
            return EXIT_FAILED
        _status(
            plan,
            broker=host.broker_url,
            not_imported=list(host.runs[0].not_imported),
            **_handed_over(plan, host),
        )
        worker.host = host
        host.control_since = int(plan.get("control_since", 0))
        publisher = Publisher(host.broker, worker.report, worker.control)
        publisher.start(wait=False)  # connects while the apps are built; they wait for it to start
        host.report_interval = publisher.heartbeat
        host.gate = publisher.wait_ready
        try:
            host.start()
        except HostError:  # every app crashed at start: the final report says how, per app
            publisher.stop()
            return EXIT_FAILED
        worker.stop.wait()
        log.info("genmon worker: stopping")
        hung = host.stop(APP_STOP_SECONDS)
        if hung:  # Faust's stop did not finish: abandoned (os._exit below), and genmon is told
            log.warning(
                "genmon worker: %s did not stop within %.0fs; abandoned", ", ".join(hung), APP_STOP_SECONDS
            )
            _status(plan, broker=host.broker_url, hung=hung)
        _final_to_file(plan, host)
        publisher.stop()
        return 0


def main() -> None:
    try:
        plan = json.loads(os.environ[PLAN_ENV])
    except (KeyError, ValueError):
        print("genmon worker: started without a plan (genmon starts this process itself)", file=sys.stderr)
        raise SystemExit(EXIT_FAILED) from None
    try:
        code = run(plan)
    except BaseException as exc:  # whatever escaped: the process still ends here, never in the
        # interpreter's shutdown, which waits for Faust's and mode's non-daemon threads forever
        # (seen: a worker signalled while it stopped sat in threading._shutdown for half an hour)
        log.warning("genmon worker: stopped on %s", one_line(exc))
        code = EXIT_FAILED
    sys.stdout.flush()
    os._exit(code)  # Faust's or mode's threads must not keep a stopped worker alive


if __name__ == "__main__":
    main()
