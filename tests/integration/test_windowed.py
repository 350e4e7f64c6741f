"""``stream.take(n, within=W)`` with W longer than the settle timeout (tests/apps/windowed.py): a
batch of a slow trickle is done only when its window closes, so its values are in flight until then
— never a false loss, on the screen's live verdict as in the end."""

from __future__ import annotations

import time

from test_user_apps import user_app

from genmon.broker import BrokerProcess
from genmon.model import VerdictState


def test_values_in_a_take_window_are_in_flight_never_lost(broker: BrokerProcess) -> None:
    with user_app(broker, "tests.apps.windowed") as host:
        assert host.settle_seconds < 8.0  # the window is longer than the settle timeout
        states = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pipe = host.snapshot().pipeline("trickle")
            states.append(
                (pipe.counts.received, pipe.counts.processed, pipe.verdict.state, pipe.verdict.text)
            )
            if pipe.counts.processed == 6:
                break
            time.sleep(0.25)
        assert states[-1][1] == 6, states[-5:]
        assert all(state != VerdictState.LOST for _, _, state, _ in states), [
            s for s in states if s[2] == "lost"
        ]
        waited = [text for received, processed, _, text in states if received == 6 and processed == 0]
        assert any("a take() batch holds values up to 8 s" in text for text in waited), waited[-3:]
