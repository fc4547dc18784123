"""A pool of workers in this process for the batch driver's own logic (no Ray, no processes): each
picture ends at once with a small run folder, unless the test says a worker never starts, cannot
start, or hangs on a picture; and the helpers that run a batch on one (``run_fake_batch``)."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from img23d_backend.batch.driver import BatchReport, BatchSettings, run_batch
from img23d_backend.batch.pool import WorkerLost
from img23d_backend.batch.settings import BatchEvent
from img23d_backend.batch.items import WorkItem, WorkResult

MADE = "2026-01-01T00:00:00+00:00"   # when every fake run finished, as its manifest says


@dataclass
class FakePool:
    out: Path
    workers: int = 2
    never_start: set[int] = field(default_factory=set)    # placed nowhere: never ready
    cannot_start: set[int] = field(default_factory=set)   # their constructor failed: gone at once
    hangs: Callable[[int, WorkItem], bool] = lambda worker, item: False
    dies: Callable[[int, WorkItem], bool] = lambda worker, item: False
    make_runs: bool = True
    takes: float = 0.0                                     # seconds each picture runs
    ran: list[tuple[int, int]] = field(default_factory=list)          # (worker, picture) handed out
    interrupted: list[tuple[int, int]] = field(default_factory=list)  # (worker, picture) stopped
    given_up: list[int] = field(default_factory=list)
    closed: bool = False

    def __post_init__(self) -> None:
        self.alive = set(range(self.workers)) - self.cannot_start
        self.ready = self.alive - self.never_start
        self.since = {w: time.monotonic() for w in range(self.workers)}
        self.busy: dict[int, WorkItem] = {}
        self.handed: dict[int, float] = {}
        self.gone = (f"the worker fake-{min(self.cannot_start)} could not start: RuntimeError: no engine"
                     if self.cannot_start else None)

    def live(self) -> list[int]:
        return sorted(self.alive)

    def idle(self) -> list[int]:
        return [w for w in self.live() if w in self.ready and w not in self.busy]

    def starting(self) -> dict[int, float]:
        return {w: self.since[w] for w in self.live() if w not in self.ready}

    def name(self, worker: int) -> str:
        return f"fake-{worker}"

    def submit(self, worker: int, item: WorkItem) -> None:
        assert worker in self.ready and worker not in self.busy, f"fake-{worker} was handed a picture it cannot take"
        self.busy[worker] = item
        self.handed[worker] = time.monotonic()
        self.ran.append((worker, item.index))

    def wait(self, timeout: float) -> list[tuple[int, WorkResult | WorkerLost]]:
        ended: list[tuple[int, WorkResult | WorkerLost]] = []
        for worker, item in list(self.busy.items()):
            if self.hangs(worker, item) or time.monotonic() - self.handed[worker] < self.takes:
                continue
            del self.busy[worker]
            if self.dies(worker, item):
                ended.append((worker, WorkerLost(f"fake-{worker}", f"the worker fake-{worker} died")))
            else:
                ended.append((worker, self._result(worker, item)))
        if not ended:
            time.sleep(min(timeout, 0.02))
        return ended

    def _result(self, worker: int, item: WorkItem) -> WorkResult:
        result = WorkResult(index=item.index, status="done", seconds=0.01, meshes=1, worker=f"here:{worker}")
        if self.make_runs:
            run = self.out / f"run-{Path(item.image).stem}-{uuid.uuid4().hex[:8]}"
            run.mkdir(parents=True)
            # What any run's manifest holds at the least (img23d_protocol.Manifest reads it).
            manifest = {"kind": "generate", "status": "finished", "finished": MADE, "records": []}
            (run / "manifest.json").write_text(json.dumps(manifest))
            result.run_name, result.run_dir = run.name, str(run)
        return result

    def interrupt(self, worker: int) -> None:
        item = self.busy.pop(worker)
        self.interrupted.append((worker, item.index))
        self.since[worker] = time.monotonic()

    def give_up(self, worker: int, reason: str) -> None:
        self.alive.discard(worker)
        self.given_up.append(worker)
        self.gone = reason

    def gone_reason(self) -> str | None:
        return self.gone

    def cancel(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def fake_pictures(folder: Path, count: int, prefix: str = "p") -> Path:
    """``count`` files that read as different pictures to the batch (the fake workers never open them)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"{prefix}-{i:05d}.png").write_bytes(f"picture {prefix} {i}".encode())
    return folder


def run_fake_batch(out: Path, *inputs: Path, pool: FakePool | None = None, **settings: object
                   ) -> tuple[BatchReport, FakePool, list[BatchEvent]]:
    """A batch of ``inputs`` into ``out`` on ``pool`` (a fresh ``FakePool``): its report, pool and events."""
    events: list[BatchEvent] = []
    pool = pool or FakePool(out)
    report = run_batch(BatchSettings(inputs=[str(i) for i in inputs], out=out, **settings),  # type: ignore[arg-type]
                       on_event=events.append, pool_factory=lambda settings, count: pool)
    return report, pool, events


def record_by_name(out: Path) -> dict[str, dict]:
    """``out``'s batch.json, its pictures by file name."""
    return {Path(p["image"]).name: p for p in json.loads((out / "batch.json").read_text())["pictures"]}
