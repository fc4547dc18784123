"""A job's progress as the artist reads it (issue 87, items 5 and 6): the estimate a stage announces at step 0
stays readable in the status line until the next stage starts (its own start and heartbeats, which followed it
within the same tick, hid it), and a script in background mode gets printed lines: one for each stage and each
estimate, and the newest at most every so often between. Fed the protocol's own ``Progress`` messages in the
order the backend sends them (``jobs/base.py``'s ``stage``, ``jobs/kinds/prompt_picture.py``'s estimate)."""

from __future__ import annotations

import io
from types import SimpleNamespace

from img23d_client import waiting
from img23d_client.progress_line import ProgressLine, StatusPrinter, is_announcement
from img23d_protocol import ESTIMATE_STAGE, Progress

ESTIMATE = "making a 1024 x 1024 picture from the prompt: 2 min expected on cuda (NVIDIA H200)"
PICTURE = [Progress(job="j", stage="picture", step=0, total=1, message=ESTIMATE),
           Progress(job="j", stage="picture", step=0, total=1, message="picture..."),
           Progress(job="j", stage="picture", step=0, total=1, message="picture: still working, 60 s so far")]
GROUNDING = [Progress(job="j", stage="grounding", step=0, total=1, message="grounding..."),
             Progress(job="j", stage="grounding", step=3, total=10, message="reading the answer: 30 tokens")]


def test_the_estimate_stays_in_the_status_line_until_the_next_stage() -> None:
    line = ProgressLine()
    texts = []
    for progress in PICTURE:
        line.add(progress)
        texts.append(line.text)
    assert texts == [f"picture: {ESTIMATE}", f"picture: {ESTIMATE}",
                     f"picture: {ESTIMATE} (picture: still working, 60 s so far)"]
    line.add(GROUNDING[0])  # the next stage: the estimate is over
    assert line.text == "grounding: grounding..."
    line.add(GROUNDING[1])  # a stage that announced nothing shows its newest line alone
    assert line.text == "grounding: reading the answer: 30 tokens"


def test_what_is_an_announcement() -> None:
    assert is_announcement(0, ESTIMATE) and is_announcement(0, "drawing up to 40 parts, about 90 s")
    assert not is_announcement(0, "paint...") and not is_announcement(0, "paint: still working, 120 s so far")
    assert not is_announcement(2, ESTIMATE) and not is_announcement(0, "  ")


def test_a_long_newest_line_is_cut_and_the_estimate_kept_whole() -> None:
    line = ProgressLine()
    line.add(PICTURE[0])
    line.add(Progress(job="j", stage="picture", step=1, total=2, message="x" * 1000))
    assert line.text.startswith(f"picture: {ESTIMATE} (xxx") and len(line.text) <= 240


class _Job:
    """A wait whose progress is fed by hand, as ``JobRunner`` reads it."""

    def __init__(self, messages: list[Progress]) -> None:
        self.messages, self.line = list(messages), ProgressLine()

    finished = property(lambda self: not self.messages)
    fraction = 0.0
    status = property(lambda self: f"img23d generate: {self.line.text}")
    headline = property(lambda self: self.line.headline)

    def step(self) -> None:
        self.line.add(self.messages.pop(0))

    def cancel(self) -> None:
        self.messages.clear()


def test_background_mode_prints_each_stage_and_estimate_and_not_every_heartbeat() -> None:
    out = io.StringIO()
    job = _Job([*PICTURE, Progress(job="j", stage="picture", step=0, total=1,
                                    message="picture: still working, 120 s so far"), *GROUNDING])
    waiting.wait_to_end(job, poll=0, on_step=StatusPrinter(out, quiet_seconds=3600))
    assert out.getvalue().splitlines() == [f"img23d generate: picture: {ESTIMATE}",
                                           "img23d generate: grounding: grounding..."]


def test_within_a_stage_the_newest_line_is_printed_once_quiet_seconds_have_passed() -> None:
    out, now = io.StringIO(), [0.0]
    printer = StatusPrinter(out, quiet_seconds=30, clock=lambda: now[0])
    job = _Job(GROUNDING)
    for seconds in (0.0, 31.0):
        now[0] = seconds
        job.step()
        printer(job)
    assert out.getvalue().splitlines() == ["img23d generate: grounding: grounding...",
                                           "img23d generate: grounding: reading the answer: 30 tokens"]


def test_an_estimate_sent_as_its_own_line_stays_through_the_stage_it_comes_before() -> None:
    """The backend says an estimate as a progress of its own (``ESTIMATE_STAGE``, ``jobs/kinds/prompt_picture.py``'s and
    ``jobs/kinds/job_estimate.py``'s) just before the stage's first line: the stage's start replaced it at once, so the
    status line said "making a 1024 x 1024 picture from the prompt" with no time, and a background script whose tick
    took both printed none."""
    said = "2 min on cuda (NVIDIA H200): making a 1024 x 1024 picture from the prompt"
    sent = [Progress(job="j", stage=ESTIMATE_STAGE, step=0, total=0, message=said),
            Progress(job="j", stage="picture", step=0, total=1, message="making a 1024 x 1024 picture from the prompt"),
            Progress(job="j", stage="picture", step=0, total=1, message="picture..."),
            Progress(job="j", stage="picture", step=0, total=1, message="picture: still working, 60 s so far")]
    line = ProgressLine()
    texts = []
    for progress in sent:
        line.add(progress)
        texts.append(line.text)
    assert all(said in text for text in texts), texts
    assert texts[-1] == f"picture: {said} (picture: still working, 60 s so far)"
    line.add(GROUNDING[0])  # the stage after it: the estimate is over
    assert line.text == "grounding: grounding..."
    out = io.StringIO()   # both in one tick of a background script: the estimate is printed with its stage
    printer = StatusPrinter(out, quiet_seconds=3600)
    both = ProgressLine()
    for progress in sent[:2]:
        both.add(progress)
    printer(SimpleNamespace(status=f"img23d generate: {both.text}", headline=both.headline))
    assert said in out.getvalue()
