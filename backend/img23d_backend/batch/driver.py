"""The batch driver: plan from the inputs and the last record, hand pictures to free workers, record.

At most one picture per worker is in flight, so a batch of thousands holds a few pictures'
bytes (and never thousands of queued tasks). A picture whose worker died is retried, on another
worker where there is one, up to ``attempts`` times in all; a picture that fails on its own
(a corrupt file, no name found) is not retried. Ctrl-C (``cancel``) stops handing out pictures,
cancels the running ones (their manifests close as cancelled) and closes ``batch.json``.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from img23d_protocol import ErrorCode, JobOptions, ProtocolError, names_from_text

from ..run_import import import_run
from ..session import Models
from ..stages._common import CancelToken
from .inputs import AUTO, picture_hash, read_inputs
from .local import LocalPool
from .pool import Pool, WorkerLost
from .ray_pool import RayPool, connect
from .record import BatchRecord, Entry, options_key
from .work import MAX_RUN_BYTES, MAX_RUN_FILES, WorkItem, WorkResult, WorkerSettings, recover

log = logging.getLogger(__name__)

CANCEL_GRACE = 60.0   # seconds the running pictures get to close their manifests after Ctrl-C


@dataclass
class BatchSettings:
    inputs: list[str]
    out: Path
    names: Sequence[str] | str | None = None   # every picture's names, unless its list line gives its own
    options: JobOptions = field(default_factory=JobOptions)
    models: Models = field(default_factory=Models)
    workers: int | None = None                 # None: one per GPU (one on a CPU or an Apple GPU)
    ray_address: str | None = None             # None: embedded (processes on this machine)
    retry_failed: bool = False
    threads: int | None = None                 # torch threads per worker
    attempts: int = 3                          # tries per picture when its worker dies


@dataclass
class BatchEvent:
    kind: str                 # start, picture, retry, summary
    entry: Entry | None = None
    index: int = -1
    counts: dict[str, int] = field(default_factory=dict)
    message: str = ""
    workers: int = 0


@dataclass
class BatchReport:
    out: Path
    record: Path
    status: str                               # finished or cancelled
    counts: dict[str, int]
    entries: list[Entry]
    seconds: float

    @property
    def ok(self) -> bool:
        return self.status == "finished" and not self.counts.get("failed")


def plan(settings: BatchSettings) -> BatchRecord:
    """The batch's record: every picture, with what an earlier run already did carried over."""
    default = _default_names(settings.names)
    items = read_inputs(settings.inputs)
    entries = []
    for item in items:
        names = default if item.names is None else item.names
        key = options_key({"options": asdict(settings.options), "names": names, "models": settings.models.describe()})
        entries.append(Entry(image=str(item.image), sha256=picture_hash(item.image), names=names, key=key))
    out = settings.out
    if out.exists() and not out.is_dir():
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"--out {out} is a file, not a folder")
    described = {"options": asdict(settings.options), "models": settings.models.describe(),
                 "ray": settings.ray_address, "workers": settings.workers}
    record = BatchRecord(out, entries, described)
    record.resume(BatchRecord.previous(out), settings.retry_failed)
    return record


def _default_names(names: Sequence[str] | str | None) -> list[str] | str:
    if names is None:
        return []
    if isinstance(names, str):
        return AUTO if names.strip().casefold() == AUTO else names_from_text(names, "--targets")
    return names_from_text(",".join(names), "--targets")


def run_batch(settings: BatchSettings, cancel: CancelToken | None = None,
              on_event: Callable[[BatchEvent], None] | None = None, pool_factory: Callable[..., Pool] | None = None
              ) -> BatchReport:
    """Run the batch to its end (or to ``cancel``); ``batch.json`` says where it stands all along."""
    started = time.perf_counter()
    cancel = cancel or CancelToken()
    emit = on_event or (lambda event: None)
    record = plan(settings)
    todo = [i for i, e in enumerate(record.entries) if e.status == "pending"]
    # Before anything is written: Ray missing or unreachable is a usage error, not a batch.
    pool = (pool_factory or make_pool)(settings, len(todo)) if todo and not cancel.cancelled else None
    status = "finished"
    try:
        settings.out.mkdir(parents=True, exist_ok=True)
        recover(settings.out)  # runs a killed batch left "running" say they were interrupted
        record.save()
        emit(BatchEvent("start", counts=record.counts(), workers=len(pool.live()) if pool else 0))
        if pool is not None:
            _drive(record, pool, todo, settings, cancel, emit)
    except BaseException:
        status = "failed"
        raise
    finally:
        if pool is not None:
            pool.close()
        if cancel.cancelled:
            status = "cancelled"
        record.close(status)
    report = BatchReport(out=settings.out, record=record.path, status=status, counts=record.counts(),
                         entries=record.entries, seconds=round(time.perf_counter() - started, 3))
    emit(BatchEvent("summary", counts=report.counts))
    return report


def make_pool(settings: BatchSettings, pictures: int) -> Pool:
    if settings.ray_address:
        ray = connect(settings.ray_address)
        count = settings.workers or max(1, int(ray.cluster_resources().get("GPU", 0))) or 1
        return RayPool(ray, WorkerSettings(settings.models, out=None, threads=settings.threads), min(count, pictures))
    devices = local_devices(settings.models.device, settings.workers)[:pictures]
    return LocalPool(WorkerSettings(settings.models, out=settings.out, threads=settings.threads), devices)


def local_devices(device: str, workers: int | None) -> list[str]:
    """One worker per GPU (``cuda:0``, ``cuda:1``...), else one on the CPU or Apple GPU; ``workers``
    overrides the count (several workers on one device share it)."""
    if device in ("auto", "cuda"):
        import torch

        if torch.cuda.is_available():
            gpus = [f"cuda:{i}" for i in range(torch.cuda.device_count())]
            return [gpus[i % len(gpus)] for i in range(workers or len(gpus))]
    return [device] * (workers or 1)


def _drive(record: BatchRecord, pool: Pool, todo: list[int], settings: BatchSettings, cancel: CancelToken,
           emit: Callable[[BatchEvent], None]) -> None:
    queue = deque(todo)
    running: dict[int, int] = {}          # worker -> entry index
    avoid: dict[int, int] = {}            # entry index -> the worker it died on
    cancelled_at: float | None = None
    while queue or running:
        if cancel.cancelled and cancelled_at is None:
            cancelled_at = time.monotonic()
            queue.clear()
            pool.cancel()
        if cancelled_at is not None and time.monotonic() - cancelled_at > CANCEL_GRACE:
            break  # record.close marks what is still running as cancelled
        live = pool.live()
        if not live:
            _fail_rest(record, queue, running, getattr(pool, "start_error", None))
            break
        for worker in pool.idle():
            index = _next_for(queue, avoid, worker, len(live))
            if index is None:
                continue  # everything left died on this one: another worker takes it
            entry = record.entries[index]
            entry.status, entry.attempts = "running", entry.attempts + 1
            entry.workers.append(pool.name(worker))
            running[worker] = index
            pool.submit(worker, _work_item(index, entry, settings))
            record.save()
        for worker, outcome in pool.wait(0.5):
            index = running.pop(worker, None)
            if index is None:
                continue
            entry = record.entries[index]
            if isinstance(outcome, WorkerLost):
                if not settings.ray_address:  # its run folder is here: say it was interrupted
                    recover(settings.out)
                entry.retried.append({"worker": outcome.worker, "message": outcome.message})
                entry.error = {"code": "worker_lost", "message": outcome.message}
                if entry.attempts < settings.attempts and cancelled_at is None:
                    entry.status = "pending"
                    avoid[index] = worker
                    queue.appendleft(index)
                    emit(BatchEvent("retry", entry, index, record.counts(), outcome.message))
                else:
                    entry.status = "failed" if cancelled_at is None else "cancelled"
                    emit(BatchEvent("picture", entry, index, record.counts()))
            else:
                _apply(record, entry, outcome, settings)
                emit(BatchEvent("picture", entry, index, record.counts()))
            record.save()


def _next_for(queue: deque, avoid: dict[int, int], worker: int, live: int) -> int | None:
    """The next picture for ``worker``: not one that died on it, while another worker can take it."""
    for position, index in enumerate(queue):
        if live < 2 or avoid.get(index) != worker:
            del queue[position]
            return index
    return None


def _work_item(index: int, entry: Entry, settings: BatchSettings) -> WorkItem:
    data = Path(entry.image).read_bytes() if settings.ray_address else None  # a Ray worker has not our files
    return WorkItem(index=index, image=entry.image, names=entry.names, options=settings.options, image_bytes=data)


def _apply(record: BatchRecord, entry: Entry, result: WorkResult, settings: BatchSettings) -> None:
    entry.seconds, entry.meshes, entry.missing = result.seconds, result.meshes, list(result.missing)
    entry.status, entry.error = result.status, result.error
    if entry.workers and result.worker:
        entry.workers[-1] = f"{entry.workers[-1]} ({result.worker})"  # the slot, and where it ran (host:pid)
    if result.files is not None and result.run_name:
        try:
            root = import_run(settings.out, result.run_name, result.files, max_files=MAX_RUN_FILES,
                              max_bytes=MAX_RUN_BYTES)
        except ProtocolError as exc:
            entry.status, entry.error = "failed", {"code": exc.code.value, "message": exc.message}
            return
        entry.run_dir = root.name
    elif result.run_dir:
        entry.run_dir = os.path.relpath(result.run_dir, settings.out)


def _fail_rest(record: BatchRecord, queue: deque, running: dict[int, int], why: str | None) -> None:
    message = f"no worker is left to run it{': ' + why if why else ''}"
    for index in [*queue, *running.values()]:
        entry = record.entries[index]
        entry.status, entry.error = "failed", {"code": "worker_lost", "message": message}
    queue.clear()
    running.clear()
