"""The command line's progress on a terminal (issue 87 item 5): a job's estimate is a whole line of its own that
stays above the bar, which is redrawn in place below it (the bar overwrote the estimate within milliseconds and cut
it at 110 characters). The same events off a terminal: plain lines, the estimate whole among them."""

from __future__ import annotations

import io

from img23d_protocol import ESTIMATE_STAGE, Progress

from img23d_backend.commands.progress import ProgressPrinter

ESTIMATE = ("about 4 min on this CPU (AMD EPYC): the picture about 8 s, grounding about 2 s, matting about 1 s, "
            "depth about 1 s, shape about 12 s, clean-up about 1 s, paint about 2 min, materials about 1 min, "
            "export about 5 s")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _events(printer: ProgressPrinter) -> None:
    printer(Progress(job="j", stage="load", step=0, total=1, message="load..."))
    printer(Progress(job="j", stage=ESTIMATE_STAGE, step=0, total=0, message=ESTIMATE))
    printer(Progress(job="j", stage="shape", step=1, total=4, message="step 1 of 4"))
    printer(Progress(job="j", stage="shape", step=4, total=4, message="decoded"))
    printer.finish()


def _shown(written: str) -> list[str]:
    """The lines a terminal shows: each carriage return draws over the line from its start."""
    return [line.split("\r")[-1].rstrip() for line in written.split("\n")]


def test_on_a_terminal_the_estimate_stays_whole_above_the_bar() -> None:
    terminal = _Terminal()
    _events(ProgressPrinter(terminal))
    shown = _shown(terminal.getvalue())
    assert f"expected: {ESTIMATE}" in shown and len(ESTIMATE) > ProgressPrinter.BAR_CHARS
    below = shown[shown.index(f"expected: {ESTIMATE}") + 1:]
    assert below[0].startswith("[shape    ] ########################") and "4/4 decoded" in below[0]
    assert not any(line.startswith("[load") for line in shown), "the bar left behind above the estimate"


def test_off_a_terminal_the_estimate_is_a_plain_line() -> None:
    log = io.StringIO()
    _events(ProgressPrinter(log))
    assert f"expected: {ESTIMATE}" in log.getvalue().splitlines()
