"""The failpoints that slow a step: ``busy:S`` computes for S seconds, ``wait:S`` sleeps them."""

from __future__ import annotations

import time

import pytest

from img23d_backend.env import failpoints


@pytest.mark.parametrize("action, busy", [("busy:0.4", True), ("wait:0.4", False)])
def test_a_slowed_step_takes_its_seconds_and_only_busy_spends_cpu(monkeypatch: pytest.MonkeyPatch, action: str,
                                                                  busy: bool) -> None:
    monkeypatch.setenv(failpoints.ENV, f"grounding:{action}")
    wall, cpu = time.monotonic(), time.thread_time()
    failpoints.hit("grounding")
    wall, cpu = time.monotonic() - wall, time.thread_time() - cpu
    assert wall >= 0.4
    # A busy step's CPU is most of its time even on a loaded machine; a waiting one's is next to none.
    assert (cpu > 0.1) if busy else (cpu < 0.05), (action, wall, cpu)
