"""The real screen on a busy fake monitor, as a process of its own: ``python tests/busy_screen.py N``.

For tests that need a terminal (a pseudo-terminal that closes under a busy screen) and for the
screen bench; nothing here starts a broker or a Faust app."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from fakes import BusyMonitor

from genmon.tui import GenmonApp

if __name__ == "__main__":
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    screen = GenmonApp(BusyMonitor(rows))
    screen.run()
    sys.exit(screen.return_code or 0)
