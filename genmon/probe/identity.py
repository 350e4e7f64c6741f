"""Who is reporting: a worker report stamped with this process's host, pid and run token.

One place for the fields every report-maker fills alike (genmon's worker host, the probe attached
to a ``faust worker``, a worker whose apps never ran).
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from genmon.model.wire import WorkerReport


def worker_report(token: str, started: float, number: int, **fields: Any) -> WorkerReport:
    """A report of this process (``host:pid:token``) taken now."""
    host = socket.gethostname()
    return WorkerReport(
        worker=f"{host}:{os.getpid()}:{token}",
        host=host,
        pid=os.getpid(),
        started=started,
        at=time.time(),
        number=number,
        **fields,
    )
