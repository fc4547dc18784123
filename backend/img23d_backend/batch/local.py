"""Embedded workers: one process per GPU on this machine (one on a CPU or an Apple GPU), no Ray.

Each worker is a child process (spawned, so CUDA starts clean in it) that holds one engine and
runs the pictures the driver sends over a pipe, writing run folders straight into the batch's
folder. A worker that dies mid-picture is noticed through its process sentinel; the driver
retries its picture and this pool starts a new worker in its place (a bounded number of
times); a worker whose picture ran past the batch's time limit is killed and replaced the same
way (``interrupt``). A worker takes pictures once it says it is ready; one that never does is
ended by the driver's start timeout (``give_up``). A worker ignores Ctrl-C and a hang-up (the driver cancels
its picture over the pipe, so its manifest closes as cancelled) and ends by itself when the
driver's end of the pipe closes.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
import time
from dataclasses import replace
from multiprocessing.connection import Connection, wait
from typing import Any

from ..env.interrupts import ignore_in_worker
from ..env.collector import collect_less_often, skip_final_collection
from .pool import DeathWatch, WorkerLost
from .items import WorkerSettings, WorkItem, WorkResult

_CANCEL, _STOP = "cancel", "stop"


def worker_main(conn: Connection, settings: WorkerSettings, device: str) -> None:
    """A worker process's whole life: make the engine, then run pictures until told to stop."""
    ignore_in_worker()  # the driver decides what Ctrl-C and a hang-up do
    collect_less_often()  # as the command line does (env/collector.py)
    # Started daemonic (so the driver's exit ends it), and multiprocessing forbids a daemonic process
    # children: the paint step's UV unwrap worker and the finish's remesh worker are this worker's, and
    # each ends with it (env.children.end_with_parent). Painting failed in every local batch without this.
    multiprocessing.current_process().daemon = False
    # The engine's modules (torch and the model libraries) are imported here, in the worker, not at the top: the
    # driver imports this module for the pool and holds no model library (items.py).
    from .work import Worker

    try:
        worker = Worker(replace(settings, models=replace(settings.models, device=device)))
    except Exception as exc:  # the engine could not start: say why, once, and end
        conn.send(("failed", f"{type(exc).__name__}: {getattr(exc, 'message', exc)}"))
        return
    conn.send(("ready", worker.name))
    items: "queue.Queue[Any]" = queue.Queue()

    def read() -> None:  # the pipe, beside the picture running on the main thread
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                message = _STOP  # the driver is gone: stop the picture and end
            if message in (_CANCEL, _STOP):
                worker.cancel()
            items.put(message)
            if message == _STOP:
                return

    threading.Thread(target=read, name="batch-pipe", daemon=True).start()
    while True:
        message = items.get()
        if message == _STOP:
            break
        if isinstance(message, WorkItem):
            result = worker.run(message)
            try:
                conn.send(("result", result))
            except OSError:
                break
    skip_final_collection()  # a worker holds torch: about a CPU-second less on its way out


class LocalPool:
    """``count`` worker processes on ``devices`` (one each, round robin)."""

    def __init__(self, settings: WorkerSettings, devices: list[str], restarts: int | None = None) -> None:
        self.settings = settings
        self.devices = devices
        self.restarts_left = len(devices) * 2 if restarts is None else restarts
        self._context = multiprocessing.get_context("spawn")
        self._procs: list[Any] = [None] * len(devices)
        self._conns: list[Connection | None] = [None] * len(devices)
        self._names = [f"local-{i}" for i in range(len(devices))]
        self._busy: dict[int, WorkItem] = {}
        self._ready: set[int] = set()
        self._since: dict[int, float] = {}   # worker -> when it was (re)started
        self._gone: str | None = None
        self._deaths = DeathWatch()
        for worker in range(len(devices)):
            self._start(worker)

    def _start(self, worker: int) -> None:
        ours, theirs = self._context.Pipe()
        proc = self._context.Process(target=worker_main, args=(theirs, self.settings, self.devices[worker]),
                                     name=f"img23d-batch-worker-{worker}", daemon=True)
        proc.start()
        theirs.close()
        self._procs[worker], self._conns[worker] = proc, ours
        self._ready.discard(worker)
        self._since[worker] = time.monotonic()

    def live(self) -> list[int]:
        return [w for w, proc in enumerate(self._procs) if proc is not None]

    def idle(self) -> list[int]:
        return [w for w in self.live() if w in self._ready and w not in self._busy]

    def starting(self) -> dict[int, float]:
        return {w: self._since[w] for w in self.live() if w not in self._ready}

    def gone_reason(self) -> str | None:
        return self._gone

    def name(self, worker: int) -> str:
        return f"local-{worker}"

    def submit(self, worker: int, item: WorkItem) -> None:
        conn = self._conns[worker]
        assert conn is not None and worker not in self._busy
        self._busy[worker] = item
        try:
            conn.send(item)
        except OSError:
            pass  # it died: its sentinel says so in wait()

    def wait(self, timeout: float) -> list[tuple[int, WorkResult | WorkerLost]]:
        handles: dict[Any, tuple[int, str]] = {}
        for worker in self.live():
            handles[self._conns[worker]] = (worker, "conn")
            handles[self._procs[worker].sentinel] = (worker, "proc")
        ended: list[tuple[int, WorkResult | WorkerLost]] = []
        for ready in wait(list(handles), timeout):
            worker, kind = handles[ready]
            if self._procs[worker] is None:
                continue  # already handled through its other handle
            if kind == "conn":
                try:
                    what, value = self._conns[worker].recv()
                except (EOFError, OSError):
                    what, value = "died", None
                if what == "ready":
                    self._names[worker] = f"local-{worker} ({value})"
                    self._ready.add(worker)
                elif what == "result":
                    self._busy.pop(worker, None)
                    self._deaths.made()
                    ended.append((worker, value))
                    continue
                elif what == "failed":
                    self._gone = f"the worker {self._names[worker]} could not start: {value}"
                    self._retire(worker)
                    continue
                else:
                    kind = "proc"
            if kind == "proc" and not self._procs[worker].is_alive():
                lost = self._lost(worker)
                if lost is not None:
                    ended.append((worker, lost))
        return ended

    def _lost(self, worker: int) -> WorkerLost | None:
        proc = self._procs[worker]
        proc.join(1)
        code = proc.exitcode
        item = self._busy.pop(worker, None)
        name = self._names[worker]
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit status {code}"
        self._restart_or_retire(worker, f"the worker {name} died ({how}) and was restarted too often",
                                counted=self._deaths.counts(item.index if item is not None else None))
        if item is None:
            return None
        return WorkerLost(worker=name, message=f"the worker {name} died ({how}) during this picture")

    def _restart_or_retire(self, worker: int, why: str, counted: bool = True) -> None:
        old = self._conns[worker]
        if not counted or self.restarts_left > 0:
            self.restarts_left -= int(counted)
            self._start(worker)
            if old is not None:
                old.close()
        else:
            self._gone = why
            self._retire(worker)

    def interrupt(self, worker: int) -> None:
        item = self._busy.pop(worker, None)
        self._kill(worker)
        self._restart_or_retire(worker, f"the worker {self._names[worker]} was stopped and restarted too often",
                                counted=self._deaths.counts(item.index if item is not None else None))

    def give_up(self, worker: int, reason: str) -> None:
        self._kill(worker)
        self._gone = reason
        self._retire(worker)

    def _kill(self, worker: int) -> None:
        proc = self._procs[worker]
        if proc is not None and proc.is_alive():
            proc.kill()
            proc.join(10)

    def _retire(self, worker: int) -> None:
        conn, proc = self._conns[worker], self._procs[worker]
        self._conns[worker] = self._procs[worker] = None
        if conn is not None:
            conn.close()
        if proc is not None:
            proc.join(5)

    def cancel(self) -> None:
        for worker in list(self._busy):
            conn = self._conns[worker]
            try:
                if conn is not None:
                    conn.send(_CANCEL)
            except OSError:
                pass

    def close(self) -> None:
        # A worker still starting (the replacement for one that died or ran past the limit on the last pictures)
        # has no picture, and reads the stop only once its engine has loaded every model: ended now, as the Ray
        # pool ends its starting actors. It made the batch's end wait for a whole start, for nothing.
        for worker in self.live():
            if worker not in self._ready:
                self._kill(worker)
        for worker in self.live():
            conn, proc = self._conns[worker], self._procs[worker]
            try:
                conn.send(_STOP)
            except OSError:
                pass
        for worker in self.live():
            proc = self._procs[worker]
            proc.join(30)
            if proc.is_alive():
                proc.kill()
                proc.join(5)
            self._conns[worker].close()
            self._conns[worker] = self._procs[worker] = None
