"""``<out>/batch.json``: every picture of a batch with its status, run folder, seconds and error.

A picture's ``status``:

  pending    not started (yet)          running    handed to a worker
  done       its run finished, in this batch or an earlier one (``made``: when; ``skipped``: this
             batch found it done and did not redo it)
  failed     its run (or every attempt) failed
  cancelled  stopped by Ctrl-C; runs again next time

The next run of the same folder reads the record: a picture whose hash and options key match a
done entry whose run folder is still there stays done (skipped); a failed one stays failed
unless ``--retry-failed``; everything else runs. A picture listed again with the same names (the
same file, or another with the same bytes) is not an entry: ``same`` says which it repeats. Pictures of the record that are not among the
run's inputs (another subset, other options) are kept as they were, marked ``outside``: a run
on some of the pictures forgets none of the others. ``record_files`` writes it (a snapshot and
a journal of changes), ``lock`` keeps a second batch off the folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from img23d_protocol import ProtocolError, dumps, read_manifest

from .lock import held_here, release_if_mine
from .record_files import RECORD_NAME, Loaded, RecordFiles

log = logging.getLogger(__name__)

FORMAT = 2
BUCKETS = ("done", "skipped", "failed", "cancelled", "running", "pending")   # what ``counts`` counts

__all__ = ["RECORD_NAME", "BatchRecord", "Entry", "Same", "close_record_file", "options_key"]


@dataclass
class Entry:
    image: str                       # the picture's absolute path
    sha256: str
    names: list[str] | str | None    # None: the whole picture; "auto": suggested
    key: str                         # the options key: same key, same bytes -> same objects
    status: str = "pending"
    run_dir: str | None = None       # relative to the batch's folder
    seconds: float | None = None     # the last attempt's, on its worker
    error: dict[str, str] | None = None
    attempts: int = 0                # how many times a worker started it (in this run)
    workers: list[str] = field(default_factory=list)  # which worker ran each attempt
    retried: list[dict[str, str]] = field(default_factory=list)  # why each earlier attempt was given up
    meshes: int = 0                  # meshes made
    missing: list[str] = field(default_factory=list)  # names that made no mesh
    notes: list[str] = field(default_factory=list)    # made otherwise than asked: texture skipped, quads fell back
    made: str | None = None          # when its run finished (UTC), for a done picture
    skipped: bool = False            # done by an earlier run: this run did not redo it
    outside: bool = False            # not among the last run's inputs: kept as an earlier run left it
    timeouts: int = 0                # attempts that ran past the per-picture time limit
    views: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> {side: picture}, as listed
    prompt: str = ""                 # the text its picture is made from ("" for a picture; image is "" then)
    where: str = ""                  # the list's line, for a prompt's line or one that failed as written

    @property
    def label(self) -> str:
        """What a line of progress calls it: the picture's file name, else the prompt (its start) and its line."""
        if self.image:
            return Path(self.image).name
        if self.prompt:
            text = " ".join(self.prompt.split())
            return f'"{text[:40]}{"..." if len(text) > 40 else ""}"' + (f" ({self.where})" if self.where else "")
        return self.where

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Entry":
        """One picture of a record; ``TypeError`` for a field of the wrong type (a record edited by hand: it
        went on to a traceback in ``resume``; refused, the record is set aside and the batch starts a new one)."""
        known = {f.name: f.type for f in fields(cls)}
        for name, value in data.items():
            if name in known and not _fits(str(known[name]), value):
                raise TypeError(f"a picture's {name} is {type(value).__name__}, not {known[name]}")
        entry = cls(**{k: v for k, v in data.items() if k in known})
        if entry.status == "skipped":  # format 1 said "skipped" for a picture done before
            entry.status, entry.skipped = "done", True
        return entry

    @property
    def bucket(self) -> str:
        return "skipped" if self.status == "done" and self.skipped else self.status


def _fits(annotation: str, value: Any) -> bool:
    """Whether ``value`` (from JSON) is of ``annotation``, an Entry field's (``list[str] | str | None``)."""
    for option in annotation.split(" | "):
        kind, _, inner = option.partition("[")
        if (option == "None" and value is None or kind == "str" and isinstance(value, str)
                or kind == "bool" and isinstance(value, bool) or kind == "dict" and isinstance(value, dict)
                or kind == "int" and isinstance(value, int) and not isinstance(value, bool)
                or kind == "float" and isinstance(value, (int, float)) and not isinstance(value, bool)):
            return True
        if kind == "list" and isinstance(value, list):
            return all(_fits(inner[:-1], item) for item in value)
    return False


@dataclass(frozen=True)
class Same:
    """A picture listed again (the same file, or another with the same bytes, with the same names and
    options): it is not run again, and the record says which picture it repeats."""

    image: str                       # as listed again (absolute)
    same_as: str                     # the picture listed first, which runs (absolute)
    where: str = ""                  # "list.csv line 3", when a list named it

    @property
    def message(self) -> str:
        first, again = Path(self.same_as), Path(self.image)
        if not self.image:  # a prompt's line: same_as is the line it repeats
            said = f"the same prompt and names as {self.same_as}"
        elif first == again:
            said = f"{again.name} is listed more than once"
        else:  # names, unless two folders hold the same name
            a, b = (again.name, first.name) if again.name != first.name else (again, first)
            said = f"{a} is the same picture as {b}"
        return f"{self.where + ': ' if self.where else ''}{said}: run once"

    def describe(self) -> dict[str, str]:
        return {**asdict(self), "message": self.message}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Same":
        return cls(image=str(data["image"]), same_as=str(data["same_as"]), where=str(data.get("where", "")))


def options_key(settings: dict[str, Any]) -> str:
    """A short hash of what decides a picture's objects (options, names, models)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


class BatchRecord:
    """The batch's entries; the driver changes an entry, then calls ``changed`` with its index."""

    def __init__(self, out: Path, entries: list[Entry], settings: dict[str, Any],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.out = out
        self.files = RecordFiles(out, clock)
        self.path = self.files.snapshot
        self.entries = entries
        self.others: list[Entry] = []       # the record's pictures outside this run's inputs
        self.same: list[Same] = []          # pictures listed again, not run again
        self.settings = settings
        self.status = "running"
        self.started = _now()
        self.finished: str | None = None
        self.run = uuid.uuid4().hex[:12]    # this run's journal lines carry it
        self._seq = 0
        self._saved_seq = -1
        self._recount()

    @staticmethod
    def previous(out: Path) -> Loaded[Entry]:
        """What the last run left (read only: an unreadable record is reported, not moved)."""
        return RecordFiles(out).load(Entry.from_dict)

    def resume(self, previous: list[Entry], retry_failed: bool) -> None:
        """Carry over what an earlier run made (done, skipped now) or failed (kept, unless
        ``retry_failed``); keep its pictures that are not among this run's."""
        done: dict[tuple[str, str], Entry] = {}
        failed: dict[tuple[str, str], Entry] = {}
        # A picture refused as the last run planned (a list's line as written, a picture it could not read) has no
        # key: it belongs to that run, and this one refuses it again if it must. Matched on the empty key, one
        # such picture took another's sentence, and the earlier one left the record.
        previous = [old for old in previous if old.key]
        for old in previous:
            if old.status == "done" and old.run_dir and (self.out / old.run_dir / "manifest.json").is_file():
                done.setdefault((old.sha256, old.key), old)
            elif old.status == "failed":
                failed.setdefault((old.sha256, old.key), old)
        for entry in self.entries:
            key = (entry.sha256, entry.key)
            old = done.get(key) or (None if retry_failed else failed.get(key))
            if old is None:
                continue
            entry.status, entry.skipped = old.status, old.status == "done"
            entry.run_dir, entry.seconds, entry.error = old.run_dir, old.seconds, old.error
            entry.meshes, entry.missing, entry.workers = old.meshes, list(old.missing), list(old.workers)
            entry.notes = list(old.notes)   # how it was made stays with it (a rerun wiped a skipped picture's notes)
            entry.made = old.made or (_made_at(self.out / old.run_dir) if old.run_dir and entry.skipped else None)
        ours = {(e.sha256, e.key) for e in self.entries}
        self.others = [_kept(old) for old in previous if (old.sha256, old.key) not in ours]
        self._recount()

    def counts(self) -> dict[str, int]:
        """This run's pictures by status (done before and not redone: ``skipped``)."""
        return dict(self._counts)

    def changed(self, index: int) -> None:
        """``entries[index]`` changed: journal it now; the snapshot follows when one is due."""
        entry = self.entries[index]
        bucket = entry.bucket
        self._counts[self._buckets[index]] -= 1
        self._counts[bucket] = self._counts.get(bucket, 0) + 1
        self._buckets[index] = bucket
        self._seq += 1
        self.files.append({"run": self.run, "seq": self._seq, "i": index, "e": asdict(entry)})
        self.tick()

    def tick(self) -> None:
        """Now and then while the batch runs: the journal to the disk, a due snapshot written."""
        self.files.sync(force=False)
        if self._seq != self._saved_seq and self.files.due():
            self.save()

    def save(self) -> Path:
        """Rewrite ``batch.json`` whole (every change so far is in it)."""
        data = {"format": FORMAT, "status": self.status, "run": self.run, "seq": self._seq, "started": self.started,
                "updated": _now(), "finished": self.finished, "settings": self.settings, "counts": self.counts(),
                "kept": len(self.others), "pictures": [asdict(e) for e in [*self.entries, *self.others]],
                "same": [same.describe() for same in self.same]}
        self.files.write_snapshot(data, dumps(data, indent=1) + "\n")
        self._saved_seq = self._seq
        return self.path

    def close(self, status: str) -> Path:
        """The final record: ``finished`` or ``cancelled``; entries still running say ``cancelled``."""
        for entry in self.entries:
            if entry.status == "running":
                entry.status = "cancelled"
        self.status, self.finished = status, _now()
        self._recount()
        path = self.save()
        self.files.finish()
        return path

    def _recount(self) -> None:
        self._buckets = [e.bucket for e in self.entries]
        self._counts = {b: 0 for b in BUCKETS}
        for bucket in self._buckets:
            self._counts[bucket] = self._counts.get(bucket, 0) + 1


def close_record_file(out: Path, reason: str) -> None:
    """Close ``<out>/batch.json`` as cancelled from outside the driver (a process ending at once),
    if this process's batch holds the folder (before it does, the record is another batch's)."""
    if not held_here(out):
        return
    loaded = BatchRecord.previous(out)
    if loaded.unreadable is not None or not loaded.data:
        log.error("could not close %s: %s", out / RECORD_NAME, loaded.unreadable or "there is none")
        return
    record = BatchRecord(out, loaded.pictures, loaded.data.get("settings", {}))
    record.started = loaded.data.get("started", record.started)
    record.same = [Same.from_dict(same) for same in loaded.data.get("same", [])]
    for entry in record.entries:
        if entry.status == "running":
            entry.error = {"code": "cancelled", "message": reason}
    try:
        record.close("cancelled")
    finally:
        release_if_mine(out)


def _kept(old: Entry) -> Entry:
    """An earlier run's picture that this run was not given: as it was, but never still running."""
    old.outside, old.skipped = True, False
    if old.status == "running":  # its driver was killed: the picture did not finish
        old.status = "cancelled"
    return old


def _made_at(run: Path) -> str | None:
    """When a run folder's job finished, from its manifest (for records from before ``made``)."""
    try:
        manifest = read_manifest(run)
    except ProtocolError:
        return None
    return manifest.finished or manifest.created or None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
