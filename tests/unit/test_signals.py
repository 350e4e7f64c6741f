"""A signal's handler runs within a slice of a long wait, whichever thread the kernel handed the
signal to (a main thread asleep in one long ``time.sleep`` is not woken when another thread took it)."""

from __future__ import annotations

import os
import signal
import sys
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


class _Finalized:
    """Sends ``signum`` to its own process while Python finalizes it, and runs bytecode after: the
    handler runs there, inside ``__del__``, where its exception is unraisable."""

    def __init__(self, signum: int) -> None:
        self.signum = signum

    def __del__(self) -> None:
        os.kill(os.getpid(), self.signum)
        sum(range(1000))


def test_a_signal_handled_inside_a_finalizer_still_ends_the_wait() -> None:
    """The handler's ``SystemExit`` is swallowed when it runs inside a finalizer (Python reports it
    as unraisable and goes on): the wait still ends at its next slice, with the signal's status."""
    from genmon import session

    old = signal.signal(signal.SIGUSR1, session._exit_on_signal)
    unraisable = sys.unraisablehook
    swallowed: list[BaseException | None] = []
    sys.unraisablehook = lambda u: swallowed.append(u.exc_value)
    try:
        _Finalized(signal.SIGUSR1)  # dropped at once: finalized here
        assert len(swallowed) == 1 and isinstance(swallowed[0], SystemExit), swallowed  # as in a run
        started = time.monotonic()
        with pytest.raises(SystemExit) as ended:
            sleep_in_slices(5.0)
        assert ended.value.code == 128 + signal.SIGUSR1
        assert time.monotonic() - started < SIGNAL_SLICE_SECONDS
    finally:
        sys.unraisablehook = unraisable
        signal.signal(signal.SIGUSR1, old)
        session.SIGNALLED.clear()
