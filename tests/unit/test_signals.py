"""A signal's handler runs within a slice of a long wait, whichever thread the kernel handed the
signal to (a main thread asleep in one long ``time.sleep`` is not woken when another thread took it)."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from genmon.session import SIGNAL_SLICE_SECONDS, sleep_in_slices


@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="POSIX threads' signal masks")
@pytest.mark.parametrize("wait", [sleep_in_slices, time.sleep])
def test_a_signal_another_thread_took_is_handled_within_a_slice(wait) -> None:  # type: ignore[no-untyped-def]
    handled: list[float] = []
    old = signal.signal(signal.SIGUSR1, lambda *_: handled.append(time.monotonic()))
    done = threading.Event()
    taker = threading.Thread(target=done.wait)  # started before the mask: the only thread that takes it
    taker.start()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    try:
        sent = time.monotonic() + 0.3
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGUSR1)).start()
        wait(1.5)
        late = handled[0] - sent
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGUSR1})
        signal.signal(signal.SIGUSR1, old)
        done.set()
        taker.join()
    if wait is time.sleep:
        assert late > 1.0  # the failure this guards against: handled when the whole sleep ended
    else:
        assert late < SIGNAL_SLICE_SECONDS + 0.2
