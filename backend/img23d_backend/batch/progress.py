"""What a person (or a machine, with ``--json``) sees of a batch: a bar, a line per picture, a summary.

On a terminal the bar (pictures done, failed and left, and the throughput) stays on the last
line of stderr; each finished picture is a line on stdout, and so is the summary. With
``--json`` stdout carries one JSON object per event instead, and nothing else.
"""

from __future__ import annotations

import time
from typing import Any, TextIO

from img23d_protocol import dumps

from .driver import BatchEvent, BatchReport

WIDTH = 24


class BatchPrinter:
    def __init__(self, out: TextIO, err: TextIO, as_json: bool = False) -> None:
        self.out, self.err, self.as_json = out, err, as_json
        self.tty = err.isatty() and not as_json
        self.started = time.monotonic()
        self.total = 0
        self.finished_here = 0
        self._bar_open = False

    def __call__(self, event: BatchEvent) -> None:
        if event.kind == "start":
            self.total = sum(event.counts.values())
            self.started = time.monotonic()
        elif event.kind == "picture":
            self.finished_here += 1
        if self.as_json:
            self._json(event)
            return
        if event.kind == "start":
            if event.message:  # the record could not be read: said once, before anything runs
                self._line(f"warning: {event.message}")
            counts = event.counts
            carried = counts["skipped"] + counts["failed"]
            todo = self.total - carried
            refused = f", {event.refused} refused before running" if event.refused else ""
            self._line(f"batch: {self.total} picture(s); {counts['skipped']} already done, "
                       f"{counts['failed'] - event.refused} failed before (kept: --retry-failed runs them again)"
                       f"{refused}; {todo} to run"
                       + (f" on {event.workers} worker(s)" if todo else ""))
            for same in event.same:
                self._line(f"same    {same.message}")
        elif event.kind == "picture" and event.entry is not None:
            self._line(picture_line(event.entry, event.counts, self.total))
        elif event.kind == "worker":
            self._line(f"worker  given up: {event.message}")
        elif event.kind == "retry" and event.entry is not None:
            self._line(f"retry   {event.entry.label}: {event.message} "
                       f"(attempt {event.entry.attempts + 1})")
        if event.kind in ("picture", "retry", "start", "worker"):
            self._bar(event.counts)

    def summary(self, report: BatchReport) -> None:
        if self.as_json:
            return
        c = report.counts
        noted = sum(1 for entry in report.entries if entry.status == "done" and entry.notes and not entry.skipped)
        not_run = c['cancelled'] + c['pending']
        self._line(f"batch {report.status} in {report.seconds:.0f} s: {c['done']} done, {c['skipped']} skipped, "
                   f"{c['failed']} failed" + (f", {not_run} not run" if not_run else "")
                   + (f"; {len(report.same)} listed again, run once" if report.same else "")
                   + (f"; {noted} made otherwise than asked (their notes above)" if noted else "")
                   + f"; record: {report.record}")

    def _json(self, event: BatchEvent) -> None:
        data: dict[str, Any] = {"event": event.kind, "counts": event.counts}
        if event.entry is not None:
            data.update(index=event.index, image=event.entry.image, status=event.entry.status,
                        run_dir=event.entry.run_dir, seconds=event.entry.seconds, error=event.entry.error,
                        attempts=event.entry.attempts, meshes=event.entry.meshes, notes=event.entry.notes)
        if event.entry is not None and (event.entry.prompt or event.entry.where):  # a list's line: its text, its place
            data.update(prompt=event.entry.prompt, where=event.entry.where)
        if event.message:
            data["message"] = event.message
        if event.kind == "start":
            data["workers"] = event.workers
            data["same"] = [same.describe() for same in event.same]
        self.out.write(dumps(data) + "\n")
        self.out.flush()

    def _bar(self, counts: dict[str, int]) -> None:
        if not self.tty or not self.total:
            return
        finished = counts["done"] + counts["skipped"] + counts["failed"]
        filled = int(WIDTH * finished / self.total)
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = self.finished_here / elapsed
        left = self.total - finished
        self.err.write(f"\r[{'#' * filled}{'.' * (WIDTH - filled)}] {finished}/{self.total}  done {counts['done']}"
                       f"  skipped {counts['skipped']}  failed {counts['failed']}  left {left}  "
                       f"{rate * 60:.1f} pictures/min ")
        self.err.flush()
        self._bar_open = True

    def _line(self, text: str) -> None:
        if self._bar_open:
            self.err.write("\r" + " " * 100 + "\r")
            self.err.flush()
            self._bar_open = False
        self.out.write(text + "\n")
        self.out.flush()


def picture_line(entry: Any, counts: dict[str, int], total: int) -> str:
    finished = counts["done"] + counts["skipped"] + counts["failed"]
    where = f"[{finished:>{len(str(total))}}/{total}]"
    name = entry.label
    if entry.status == "done":
        missing = f", not found: {', '.join(entry.missing)}" if entry.missing else ""
        notes = "".join(f"\n{' ' * len(where)} note    {note}" for note in entry.notes)
        return (f"{where} done    {name}: {entry.meshes} mesh(es){missing} in {entry.seconds or 0:.1f} s -> "
                f"{entry.run_dir}{notes}")
    error = entry.error or {}
    message = str(error.get("message", ""))
    # A list's line refused as written (no picture, no prompt to call it by): its sentence names the line itself.
    said = f"{name}: {message}" if entry.image or entry.prompt else message
    return f"{where} {entry.status.upper():<7} {said} [{error.get('code', '')}]"
