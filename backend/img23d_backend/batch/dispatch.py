"""Handing pictures to free workers until none is left, with every wait bounded.

At most one picture per worker is in flight, so a batch of thousands holds a few pictures'
bytes (and never thousands of queued tasks). Three things end a picture's wait elsewhere:

- its worker died (killed, out of memory, its node gone): the picture is retried, on another
  worker where there is one, up to ``attempts`` tries in all;
- it ran past ``picture_timeout``: its worker is stopped (and restarted where it may be) and
  the picture tried once more on another worker, then failed in one sentence;
- no worker is left (each never started within ``start_timeout``, its constructor failed, or
  it died too often): what is left fails with "no worker left ...".

A picture that fails on its own (a corrupt file, no name found) is not retried; so is one the
driver cannot send (on Ray it reads each picture as its turn comes, with the readers' size limit:
one gone or unreadable by then fails alone, in the sentence a worker reading it would give). ``cancel``
(Ctrl-C) stops handing out pictures and cancels the running ones (their manifests close as
cancelled); after ``CANCEL_GRACE`` the driver stops waiting for them.
"""

from __future__ import annotations

import os
import stat
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from img23d_protocol import ProtocolError

from ..env.job_control import CancelToken
from ..readers.images import read_picture_file
from ..runs.imports import import_run
from .limits import CANCEL_GRACE, MAX_TIMEOUTS
from .pool import Pool, WorkerLost
from .record import BatchRecord, Entry
from .settings import BatchEvent, BatchSettings
from .items import RUN_LIMITS, WorkItem, WorkResult, recover

POLL = 0.5            # seconds between looks at the clock while nothing ends
MAX_NOTES, NOTE_CHARS = 20, 300  # what a worker's notes on one picture may hold


@dataclass
class _State:
    queue: deque[int]
    running: dict[int, tuple[int, float]] = field(default_factory=dict)  # worker -> (entry, when handed out)
    tried: dict[int, set[int]] = field(default_factory=dict)            # entry -> workers it died or hung on
    cancelled_at: float | None = None


def drive(record: BatchRecord, pool: Pool, todo: list[int], settings: BatchSettings, cancel: CancelToken,
          emit: Callable[[BatchEvent], None], clock: Callable[[], float] = time.monotonic) -> None:
    """Run the ``todo`` entries of ``record`` on ``pool`` until each has ended (or the batch is cancelled)."""
    state = _State(deque(todo))
    while state.queue or state.running:
        record.tick()
        if cancel.cancelled and state.cancelled_at is None:
            state.cancelled_at = clock()
            state.queue.clear()
            pool.cancel()
        if state.cancelled_at is not None and clock() - state.cancelled_at > CANCEL_GRACE:
            break  # record.close marks what is still running as cancelled
        _give_up_unstarted(record, pool, settings, emit, clock())
        _stop_overdue(record, pool, state, settings, emit, clock())
        live = pool.live()
        if not live:
            _fail_rest(record, state, pool.gone_reason(), emit)
            break
        for worker in pool.idle():
            _hand_out(record, pool, worker, live, state, settings, emit, clock())
        for worker, outcome in pool.wait(POLL):
            index, _ = state.running.pop(worker, (None, 0.0))
            if index is None:
                continue  # a picture already given up (overdue): its worker was stopped
            if isinstance(outcome, WorkerLost):
                _lost(record, index, worker, outcome.worker, outcome.message, state, settings, emit)
            else:
                apply_result(record.entries[index], outcome, settings)
                record.changed(index)  # first: the event's counts include this picture
                emit(BatchEvent("picture", record.entries[index], index, record.counts()))


def _hand_out(record: BatchRecord, pool: Pool, worker: int, live: list[int], state: _State, settings: BatchSettings,
              emit: Callable[[BatchEvent], None], now: float) -> None:
    """Give an idle ``worker`` its next picture; one that cannot be sent (gone, unreadable or too big by
    its turn) fails alone, in the sentence a worker reading it would give, and the next is tried."""
    while (index := _next_for(state, worker, live)) is not None:
        entry = record.entries[index]
        try:
            item = _work_item(index, entry, settings)
        except ProtocolError as exc:
            entry.status, entry.error = "failed", {"code": exc.code.value, "message": exc.message}
            record.changed(index)
            emit(BatchEvent("picture", entry, index, record.counts()))
            continue
        entry.status, entry.attempts = "running", entry.attempts + 1
        entry.workers.append(pool.name(worker))
        state.running[worker] = (index, now)
        pool.submit(worker, item)
        record.changed(index)
        return
    # None left for it: everything left died or hung on this one, and another worker takes it


def _give_up_unstarted(record: BatchRecord, pool: Pool, settings: BatchSettings, emit: Callable[[BatchEvent], None],
                       now: float) -> None:
    for worker, since in pool.starting().items():
        if now - since > settings.start_timeout:
            reason = (f"the worker {pool.name(worker)} did not start within {settings.start_timeout:g} s "
                      "(--worker-start-timeout): the cluster may have no room for it, or its node is gone")
            pool.give_up(worker, reason)
            emit(BatchEvent("worker", counts=record.counts(), message=reason))


def _stop_overdue(record: BatchRecord, pool: Pool, state: _State, settings: BatchSettings,
                  emit: Callable[[BatchEvent], None], now: float) -> None:
    for worker, (index, since) in list(state.running.items()):
        if now - since <= settings.picture_timeout:
            continue
        del state.running[worker]
        name = pool.name(worker)
        pool.interrupt(worker)  # it may hang in C code where no cancel reaches: its process ends
        message = f"it ran past the per-picture limit of {settings.picture_timeout:g} s on {name} (--picture-timeout)"
        _lost(record, index, worker, name, message, state, settings, emit, timeout=True)


def _lost(record: BatchRecord, index: int, worker: int, name: str, message: str, state: _State,
          settings: BatchSettings, emit: Callable[[BatchEvent], None], timeout: bool = False) -> None:
    entry = record.entries[index]
    if not settings.ray_address:  # its run folder is here: say it was interrupted
        recover(settings.out)
    entry.retried.append({"worker": name, "message": message})
    entry.error = {"code": "timeout" if timeout else "worker_lost", "message": message}
    entry.timeouts += int(timeout)
    if entry.attempts < settings.attempts and state.cancelled_at is None and entry.timeouts < MAX_TIMEOUTS:
        entry.status = "pending"
        state.tried.setdefault(index, set()).add(worker)
        state.queue.appendleft(index)
        record.changed(index)
        emit(BatchEvent("retry", entry, index, record.counts(), message))
    else:
        entry.status = "failed" if state.cancelled_at is None else "cancelled"
        if timeout and entry.status == "failed":
            entry.error["message"] = (f"it ran past the per-picture limit of {settings.picture_timeout:g} s "
                                      f"{entry.timeouts} time(s), on {', '.join(w.split()[0] for w in entry.workers)}, "
                                      "and was given up (--picture-timeout)")
        record.changed(index)
        emit(BatchEvent("picture", entry, index, record.counts()))


def _next_for(state: _State, worker: int, live: list[int]) -> int | None:
    """The next picture for ``worker``: not one that died or hung on it while another worker can take it."""
    for position, index in enumerate(state.queue):
        tried = state.tried.get(index, set())
        if worker not in tried or all(w in tried for w in live):
            del state.queue[position]
            return index
    return None


def _work_item(index: int, entry: Entry, settings: BatchSettings) -> WorkItem:
    """The picture's job. A Ray worker has not our files: the picture goes with it, read once, and the
    record keys it by the hash of the bytes sent (it may have changed since the batch hashed it)."""
    data, views, readers = None, None, 0o777
    if settings.ray_address and not entry.prompt:  # a prompt's picture is made where it runs
        picture = read_picture_file(entry.image)
        data, entry.sha256, readers = picture.data, picture.sha256, picture.permissions
        views = {}
        for name, sides in entry.views.items():
            for side, path in sides.items():
                view = read_picture_file(path)
                views.setdefault(name, {})[side] = view.data
                readers &= view.permissions
    return WorkItem(index=index, image=entry.image, names=entry.names, options=settings.options, image_bytes=data,
                    views=entry.views, view_bytes=views, readers=readers, prompt=entry.prompt)


def apply_result(entry: Entry, result: WorkResult, settings: BatchSettings) -> None:
    entry.seconds, entry.meshes, entry.missing = result.seconds, result.meshes, list(result.missing)
    entry.notes = [str(note)[:NOTE_CHARS] for note in result.notes[:MAX_NOTES]]  # from a worker: bounded
    entry.status, entry.error = result.status, result.error
    if result.sha256 and not entry.prompt:  # the bytes the job read: a picture changed since the batch hashed it
        # is known by them (a prompt's entry stays known by its text, its made picture's bytes in its run)
        entry.sha256 = result.sha256
    if entry.workers and result.worker:
        entry.workers[-1] = f"{entry.workers[-1]} ({result.worker})"  # the slot, and where it ran (host:pid)
    if result.files is not None and result.run_name:
        try:
            root = import_run(settings.out, result.run_name, result.files, RUN_LIMITS, _readers(entry))
        except ProtocolError as exc:
            entry.status, entry.error = "failed", {"code": exc.code.value, "message": exc.message}
            return
        entry.run_dir = root.name
    elif result.run_dir:   # both resolved: a link in --out made "../disk/runs/x", and a rerun redid everything
        entry.run_dir = os.path.relpath(Path(result.run_dir).resolve(), Path(settings.out).resolve())
    if entry.status == "done":
        entry.made = datetime.now(timezone.utc).isoformat(timespec="seconds")


def _readers(entry: Entry) -> int:
    """The permission bits the entry's picture and views share, read here (never taken from a worker)."""
    readers = 0o777
    listed = [entry.image] if entry.image else []  # a prompt's picture has no file here: no readers to narrow
    for path in [*listed, *(p for sides in entry.views.values() for p in sides.values())]:
        try:
            readers &= stat.S_IMODE(os.stat(path).st_mode)
        except OSError:
            readers &= 0o700  # gone since it was sent: keep what it made to its owner
    return readers


def _fail_rest(record: BatchRecord, state: _State, why: str | None, emit: Callable[[BatchEvent], None]) -> None:
    """No worker left: a picture running fails; one never handed out is ``cancelled``, so that the same command
    runs it next time (failed, it was kept as failed and skipped, and only --retry-failed, which also reruns
    the pictures that did fail, brought it back)."""
    message = f"no worker left to run it{': ' + why if why else ''}"
    running = {index for index, _ in state.running.values()}
    for index in [*state.queue, *running]:
        entry = record.entries[index]
        entry.status = "failed" if index in running else "cancelled"
        entry.error = {"code": "worker_lost", "message": message if index in running else
                       f"not run: {message}; the same command runs it again"}
        record.changed(index)
        emit(BatchEvent("picture", entry, index, record.counts()))
    state.queue.clear()
    state.running.clear()
