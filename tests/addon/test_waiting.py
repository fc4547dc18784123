"""One way to wait on the backend (issue 35, item 3): ``client.waiting`` ticks a wait (Esc cancels
first), steps it to its end for scripts (cancelled, and one sentence, past a timeout), and is the
only place in the add-on that waits: every operator that waits does it through ``operators/_wait``'s
modal timer, and nothing else sleeps on Blender's main thread."""

from __future__ import annotations

import re

import pytest

from testdata import REPO

from img23d_client import waiting
from img23d_client import host_import


class CountingWait:
    """A wait that finishes after ``steps`` steps, or soon after ``cancel``."""

    def __init__(self, steps: int) -> None:
        self.left, self.steps, self.cancelled = steps, 0, False
        self.status, self.fraction = "counting", 0.0

    @property
    def finished(self) -> bool:
        return self.left <= 0

    def step(self) -> None:
        self.steps += 1
        self.left -= 1

    def cancel(self) -> None:
        self.cancelled, self.left = True, min(self.left, 1)  # like a job: its cancelled answer comes next


def test_tick_steps_once_and_says_when_it_finished() -> None:
    wait = CountingWait(2)
    assert waiting.tick(wait) is False and wait.steps == 1
    assert waiting.tick(wait) is True and wait.steps == 2
    assert waiting.tick(wait) is True and wait.steps == 2  # a finished wait is not stepped again


def test_esc_cancels_before_the_step() -> None:
    wait = CountingWait(100)
    assert waiting.tick(wait, cancel=True) is True
    assert wait.cancelled and wait.steps == 1


def test_wait_to_end_steps_until_finished() -> None:
    wait = CountingWait(3)
    waiting.wait_to_end(wait, poll=0.001)
    assert wait.finished and wait.steps == 3 and not wait.cancelled


def test_a_wait_past_its_timeout_is_cancelled_with_one_sentence() -> None:
    wait = CountingWait(10**9)
    with pytest.raises(TimeoutError, match=r"counting did not end within 0.05 s; it was cancelled"):
        waiting.wait_to_end(wait, poll=0.01, timeout=0.05)
    assert wait.cancelled


def test_esc_on_a_host_import_ends_it_cancelled() -> None:
    class SilentSession:
        remote_host = "gpu-box"

        def request(self, message) -> str:
            return "list-1"

        def pump(self) -> list:
            return []

        def take_reply(self, request_id: str):
            return None

    task = host_import.HostImport(SilentSession())
    assert waiting.tick(task) is False
    assert waiting.tick(task, cancel=True) is True
    assert task.phase is host_import.Phase.CANCELLED and task.error == "Import Run from Host was cancelled"


# What may start a timer, go modal or sleep in the add-on: the one wait, and Install Backend,
# which waits on its own worker thread (pip), not on the backend.
MAY_WAIT = {"event_timer_add": {"operators/_wait.py", "operators/install.py"},
            "modal_handler_add": {"operators/_wait.py", "operators/install.py"},
            "time.sleep": {"client/waiting.py",
                           "client/session.py",        # wait_ready: scripts and background mode only
                           "installer/install.py"}}    # on the install's worker thread


def test_only_the_one_wait_waits() -> None:
    addon = REPO / "blender_img23d"
    found: dict[str, set[str]] = {name: set() for name in MAY_WAIT}
    for path in addon.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for name in MAY_WAIT:
            if re.search(re.escape(name) + r"\(", text):
                found[name].add(path.relative_to(addon).as_posix())
    assert {name: files - MAY_WAIT[name] for name, files in found.items()} == {name: set() for name in MAY_WAIT}
