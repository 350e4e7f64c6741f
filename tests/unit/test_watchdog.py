"""The worker's watchdog, without a worker process: the rule that a worker never outlives genmon."""

from __future__ import annotations

import os
import time


def test_a_worker_whose_genmon_is_gone_stops_and_a_hung_stop_ends_the_process() -> None:
    """The worker's watchdog: a parent pid that is not the worker's parent any more (genmon was
    killed, the worker reparented) asks the worker to stop; a stop that has not finished within the
    bound ends the process; a stop that finishes in time does not."""
    import threading

    from genmon.fleet.worker import Worker, watch_over

    exits: list[int] = []
    gone = Worker({})
    watchdog = threading.Thread(target=watch_over, args=(gone, os.getppid() + 1, 0.3, exits.append))
    watchdog.start()
    assert gone.stop.wait(5), "genmon gone: the worker is asked to stop"
    watchdog.join(5)
    assert exits == [2], "its stop never finished: the process is ended"

    exits.clear()
    ours = Worker({})
    watchdog = threading.Thread(target=watch_over, args=(ours, os.getppid(), 0.3, exits.append))
    watchdog.start()
    time.sleep(1.2)  # two polls of a parent that is still there
    assert not ours.stop.is_set()
    ours.signalled = True  # a SIGTERM (the handler takes no lock: the watchdog sets stop)
    assert ours.stop.wait(5)
    ours.done.set()  # the stop finished in time
    watchdog.join(5)
    assert exits == [] and not watchdog.is_alive()


def test_whatever_escapes_the_worker_ends_its_process_without_a_traceback() -> None:
    """An exception out of the worker's life must not leave the process to the interpreter's
    shutdown (Faust's non-daemon threads would keep it alive): one line, exit status 2."""
    import json
    import subprocess
    import sys

    from genmon.fleet.worker import EXIT_FAILED, PLAN_ENV

    done = subprocess.run(
        [sys.executable, "-m", "genmon.fleet.worker"],
        env={**os.environ, PLAN_ENV: json.dumps({"broker": "kafka://127.0.0.1:9"})},  # no log_path
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == EXIT_FAILED, done.stderr
    assert "Traceback" not in done.stderr
