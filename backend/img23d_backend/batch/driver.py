"""The batch driver: plan from the inputs and the last record, take the folder, run, record.

``plan`` reads the inputs and what the folder's last record says (read only); ``run_batch``
then starts the workers, takes ``<out>/batch.lock`` (a second batch on the folder is refused),
keeps an unreadable record aside, and hands the pictures out (``dispatch``), every wait bounded:
a worker that never starts is given up after ``start_timeout``, a picture that runs past
``picture_timeout`` is tried once more elsewhere, then failed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

from img23d_protocol import ErrorCode, JobOptions, ProtocolError, check_views, names_without_parts, plain_numbers

from ..catalog import Models
from ..env.job_control import CancelToken
from ..env.spawned_main import refuse_in_spawned_main
from ..runs.folders import disk_error
from .dispatch import drive
from .inputs import AUTO, BatchItem, auto_for_prompt, picture_hash, prompt_hash, read_inputs
from .local import LocalPool
from .lock import BatchLock
from .pool import Pool
from .preflight import check_before_start
from .ray_pool import RayPool, connect
from .record import BatchRecord, Entry, Same, options_key
from .limits import PICTURE_TIMEOUT, START_TIMEOUT
from .settings import BatchEvent, BatchSettings
from .items import WorkerSettings, recover

log = logging.getLogger(__name__)

__all__ = ["BatchEvent", "BatchReport", "BatchSettings", "batch", "make_pool", "plan", "run_batch"]


@dataclass
class BatchReport:
    out: Path
    record: Path
    status: str                               # finished or cancelled
    counts: dict[str, int]
    entries: list[Entry]
    seconds: float
    same: list[Same] = field(default_factory=list)   # pictures listed again (the same bytes and names): run once

    @property
    def ok(self) -> bool:
        return self.status == "finished" and not self.counts.get("failed")


@dataclass
class Plan:
    record: BatchRecord
    unreadable: str | None        # why the folder's batch.json could not be read (kept aside once locked)
    fingerprint: tuple            # the record files as they were read


def plan(settings: BatchSettings) -> Plan:
    """The batch's record: every picture, with what an earlier run already did carried over (nothing
    is written: an unreadable record is reported, and kept aside once the batch holds the folder)."""
    default = _default_names(settings.names)
    items = read_inputs(settings.inputs)
    check_before_start(items, settings.options, settings.models)   # what every line would fail on: said once
    entries: list[Entry] = []
    same: list[Same] = []
    hashes: dict[Path, str] = {}      # each picture read once, however often it is listed
    first: dict[tuple[str, str], Entry] = {}
    for item in items:
        names = default if item.names is None else item.names
        if item.prompt and names == AUTO and not item.problem:   # the command's --targets auto: it read "no image"
            item = replace(item, problem=auto_for_prompt(item.where, "--targets auto"))
        if item.problem:  # this line alone fails, in its one sentence; the others run
            entries.append(_refused(item, names, ErrorCode.BAD_REQUEST, item.problem, ""))
            continue
        keyed = {"options": asdict(settings.options), "names": names, "models": settings.models.describe()}
        assert item.prompt or item.image is not None
        try:
            if item.views:  # other views make other objects; a list without views keeps its earlier keys
                keyed["views"] = _checked_views(item, names, hashes)
            sha256 = prompt_hash(item.prompt) if item.prompt else _hashed(Path(item.image or ""), hashes)
        except ProtocolError as exc:  # a picture or a view that cannot be read: its line fails alone
            if exc.code is not ErrorCode.IMAGE_UNREADABLE:
                raise
            entries.append(_refused(item, names, exc.code, exc.message, str(item.image or "")))
            continue
        if item.prompt:  # the same text, options and models make the same picture, so the same objects
            keyed["prompt"] = True
            entry = Entry(image="", sha256=sha256, names=names, key=options_key(keyed), prompt=item.prompt,
                          where=item.where)
        else:
            entry = Entry(image=str(item.image), sha256=sha256, names=names, key=options_key(keyed), views=item.views)
        key = entry.key
        earlier = first.setdefault((entry.sha256, key), entry)
        if earlier is entry:
            entries.append(entry)
        elif entry.prompt:  # a prompt listed again with the same names: its line says which it repeats
            same.append(Same(image="", same_as=earlier.where, where=item.where))
        else:  # the same bytes with the same names and options make the same objects: once is enough
            same.append(Same(image=entry.image, same_as=earlier.image, where=item.where))
    out = settings.out
    if out.exists() and not out.is_dir():
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"--out {out} is a file, not a folder")
    described = {"options": asdict(settings.options), "models": settings.models.describe(),
                 "ray": settings.ray_address, "workers": settings.workers, "attempts": settings.attempts,
                 "start_timeout": settings.start_timeout, "picture_timeout": settings.picture_timeout}
    record = BatchRecord(out, entries, described)
    record.same = same
    previous = BatchRecord.previous(out)
    record.resume(previous.pictures, settings.retry_failed)
    return Plan(record, previous.unreadable, previous.fingerprint)


def _checked_views(item: BatchItem, names: list[str] | str, hashes: dict[Path, str]) -> dict[str, dict[str, str]]:
    """The item's views by the hash of each picture, once its names are known (one sentence when a view's
    name is not one of them)."""
    if not isinstance(names, list):
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{item.where}: views need the picture's names, not 'auto'")
    try:
        check_views(item.views, names)
    except ProtocolError as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{item.where}: {exc.message}") from exc
    return {name: {side: _hashed(Path(path), hashes, item.where) for side, path in sides.items()}
            for name, sides in item.views.items()}


def _hashed(path: Path, hashes: dict[Path, str], where: str = "") -> str:
    """``path``'s sha256, each picture read once a batch (``hashes``); one that cannot be read is
    ``image_unreadable``, named by its line (``where``) when it is a view: its line fails alone (it ended the
    batch before one picture was made)."""
    if path not in hashes:
        try:
            hashes[path] = picture_hash(path)
        except ProtocolError as exc:
            raise ProtocolError(ErrorCode.IMAGE_UNREADABLE, f"{where}: {exc.message}" if where else exc.message) \
                from exc
    return hashes[path]


def _refused(item: BatchItem, names: list[str] | str, code: ErrorCode, message: str, image: str) -> Entry:
    """The record of a line refused as the batch plans, without a key: it belongs to this run alone."""
    return Entry(image=image, sha256="", names=names, key="", status="failed", where=item.where,
                 error={"code": code.value, "message": message})


def _default_names(names: Sequence[str] | str | None) -> list[str] | str:
    if names is None:
        return []
    if isinstance(names, str):
        return AUTO if names.strip().casefold() == AUTO else names_without_parts(names, "--targets", "a batch")
    return names_without_parts(",".join(names), "--targets", "a batch")


def run_batch(settings: BatchSettings, cancel: CancelToken | None = None,
              on_event: Callable[[BatchEvent], None] | None = None, pool_factory: Callable[..., Pool] | None = None
              ) -> BatchReport:
    """Run the batch to its end (or to ``cancel``); ``batch.json`` says where it stands all along."""
    started = time.perf_counter()
    # NumPy's numbers as Python's, as a job's options are (the record's key is JSON): checked as the batch plans.
    settings = replace(settings, options=plain_numbers(settings.options))
    cancel = cancel or CancelToken()
    emit = on_event or (lambda event: None)
    for name, value in (("start_timeout", settings.start_timeout), ("picture_timeout", settings.picture_timeout)):
        if not value > 0:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{name} must be more than 0 seconds, not {value}")
    lock = BatchLock(settings.out)
    if settings.out.is_dir():
        lock.check()  # another batch on this folder: one sentence before any worker starts
    planned = plan(settings)
    todo = [i for i, e in enumerate(planned.record.entries) if e.status == "pending"]
    # Before anything is written: Ray missing or unreachable is a usage error, not a batch.
    pool = (pool_factory or make_pool)(settings, len(todo)) if todo and not cancel.cancelled else None
    record = planned.record
    status = "finished"
    owned = False  # whether the record on disk is this batch's to write (the folder held, the old one read)
    try:
        try:
            settings.out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a read-only or full disk: one sentence, exit 1
            raise disk_error(exc, f"cannot make the batch folder {settings.out}") from exc
        lock.acquire()
        if record.files.fingerprint() != planned.fingerprint:  # a batch ended between our read and our lock
            planned = plan(settings)
            record = planned.record
            todo = [i for i, e in enumerate(record.entries) if e.status == "pending"]
        note = ""
        if planned.unreadable is not None:
            kept = record.files.set_aside(planned.unreadable)
            note = (f"{record.path} could not be read ({planned.unreadable}): it is kept as {kept.name} "
                    "and this batch starts a new record")
        owned = True
        recover(settings.out)  # runs a killed batch left "running" say they were interrupted
        record.save()
        refused = [index for index, entry in enumerate(record.entries) if entry.status == "failed" and not entry.key]
        emit(BatchEvent("start", counts=record.counts(), workers=len(pool.live()) if pool else 0, message=note,
                        same=record.same, refused=len(refused)))
        for index in refused:  # a list's line refused as written, a picture that cannot be read: said here, once
            emit(BatchEvent("picture", record.entries[index], index, record.counts()))
        if pool is not None and todo:
            drive(record, pool, todo, settings, cancel, emit)
    except BaseException:
        status = "failed"
        raise
    finally:
        if pool is not None:
            pool.close()
        if cancel.cancelled:
            status = "cancelled"
        try:
            if owned:
                record.close(status)
        finally:
            lock.release()
    report = BatchReport(out=settings.out, record=record.path, status=status, counts=record.counts(),
                         entries=record.entries, seconds=round(time.perf_counter() - started, 3), same=record.same)
    emit(BatchEvent("summary", counts=report.counts))
    return report


def batch(inputs: Sequence[str | Path], *, out: str | Path, names: Sequence[str] | str | None = None,
          options: JobOptions | None = None, models: Models | None = None, workers: int | None = None,
          ray_address: str | None = None, retry_failed: bool = False, threads: int | None = None,
          attempts: int = 3, picture_timeout: float = PICTURE_TIMEOUT, start_timeout: float = START_TIMEOUT,
          cancel: CancelToken | None = None, on_event: Callable[[BatchEvent], None] | None = None) -> BatchReport:
    """Generate every picture of ``inputs`` (pictures, folders, JSONL/CSV lists) into ``out``, resumably:
    see ``batch.driver``. ``workers``: how many (default one per GPU; on Ray, the cluster's GPUs);
    ``threads``: CPU threads per worker; ``attempts``: tries per picture whose worker dies;
    ``picture_timeout``: seconds a picture may run before it is stopped (and tried once more
    elsewhere); ``start_timeout``: seconds a worker may take to start before it is given up;
    ``cancel``: a token whose ``cancel()`` stops the batch (as Ctrl-C does); ``on_event``: each
    ``BatchEvent`` (start, picture, retry, summary). Returns the ``BatchReport``."""
    refuse_in_spawned_main("img23d_backend.api.batch")
    settings = BatchSettings(inputs=[str(i) for i in inputs], out=Path(out).expanduser(),
                             names=names, options=options or JobOptions(), models=models or Models(),
                             workers=workers, ray_address=ray_address, retry_failed=retry_failed, threads=threads,
                             attempts=attempts, picture_timeout=picture_timeout, start_timeout=start_timeout)
    return run_batch(settings, cancel=cancel, on_event=on_event)


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
