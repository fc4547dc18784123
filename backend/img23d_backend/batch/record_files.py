"""``<out>/batch.json`` and ``<out>/batch.journal`` on disk: how a batch's record is written and read.

``batch.json`` is a snapshot of the whole record. Every change of one picture is appended at
once to ``batch.journal`` (one JSON line: the run, a sequence number, the picture's place and its
entry), so a driver killed at any moment loses nothing it had recorded. The snapshot is rewritten
only now and then: at the start, at the end (which folds the journal in and removes it), and
while the batch runs, when it is out of date and enough time has passed for its size: at most
``SNAPSHOT_RATE`` bytes a second on average, never more often than every ``SNAPSHOT_MIN_SECONDS``.
So a small record is a couple of seconds behind, a 10,000-picture one (a few MB) about a minute,
and what a batch writes grows with its number of pictures, not with its square.

Reading applies to the snapshot the journal lines of the same run with a later sequence number
(a line cut short by a crash is ignored). A snapshot goes to a temporary file that is fsynced,
renamed over the old one, and its folder fsynced: after a crash it is the old or the new, whole.
A ``batch.json`` that cannot be read is never silently replaced: it is kept aside, renamed with
an ``.unreadable-<time>`` suffix (its journal too), and the batch says so in one sentence.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Callable, Generic, TypeVar

from ..env import failpoints
from ..runs.folders import TMP_PREFIX, disk_error

log = logging.getLogger(__name__)

RECORD_NAME = "batch.json"
JOURNAL_NAME = "batch.journal"
SNAPSHOT_MIN_SECONDS = 2.0
SNAPSHOT_RATE = 100_000        # bytes of snapshot a second, on average, at most
JOURNAL_SYNC_SECONDS = 0.2     # the OS has each line at once; the disk (fsync) at most this much later

T = TypeVar("T")


@dataclass
class Loaded(Generic[T]):
    """What the last run left: its pictures (journal applied) and the snapshot's other fields."""

    pictures: list[T] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    unreadable: str | None = None       # why batch.json could not be read (it is still in place)
    fingerprint: tuple = ()             # changes whenever either file does


class RecordFiles:
    """The two files of one batch folder; ``clock`` decides when a snapshot is due."""

    def __init__(self, out: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self.out = out
        self.snapshot = out / RECORD_NAME
        self.journal = out / JOURNAL_NAME
        self.clock = clock
        self.snapshots = 0             # full rewrites of batch.json
        self.bytes_written = 0         # snapshots and journal lines together
        self._journal: IO[bytes] | None = None
        self._last_snapshot: float | None = None
        self._last_size = 0
        self._unsynced_since: float | None = None

    def fingerprint(self) -> tuple:
        marks = []
        for path in (self.snapshot, self.journal):
            try:
                st = path.stat()
                marks.append((st.st_ino, st.st_size, st.st_mtime_ns))
            except OSError:
                marks.append(None)
        return tuple(marks)

    def load(self, parse: Callable[[dict[str, Any]], T]) -> Loaded[T]:
        """Read the record the last run left (nothing is written); ``parse`` turns one picture's dict
        into an entry and raises ``TypeError``/``ValueError``/``KeyError`` for one it cannot."""
        fingerprint = self.fingerprint()
        try:
            data = json.loads(self.snapshot.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or not isinstance(data.get("pictures"), list):
                raise ValueError("it holds no list of pictures")
            pictures = [parse(p) for p in data["pictures"]]
        except FileNotFoundError:
            return Loaded(fingerprint=fingerprint)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            return Loaded(unreadable=f"{type(exc).__name__}: {exc}"[:200], fingerprint=fingerprint)
        run, seq = data.get("run"), data.get("seq", 0)
        if run is not None:
            for change in self._journal_lines():
                if change.get("run") != run or not isinstance(change.get("seq"), int) or change["seq"] <= seq:
                    continue
                index = change.get("i")
                if isinstance(index, int) and 0 <= index < len(pictures) and isinstance(change.get("e"), dict):
                    try:
                        pictures[index] = parse(change["e"])
                    except (ValueError, KeyError, TypeError, AttributeError):
                        log.warning("%s: a change to picture %d could not be read; it is left out", self.journal, index)
        return Loaded(pictures=pictures, data=data, fingerprint=fingerprint)

    def _journal_lines(self) -> list[dict[str, Any]]:
        try:
            raw = self.journal.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            log.warning("%s could not be read (%s): the changes after the last snapshot are lost", self.journal, exc)
            return []
        changes = []
        for line in raw.splitlines():
            try:
                change = json.loads(line)
            except ValueError:
                continue  # the last line of a driver killed while writing it
            if isinstance(change, dict):
                changes.append(change)
        return changes

    def set_aside(self, reason: str) -> Path:
        """Keep an unreadable ``batch.json`` (and its journal) under a new name; one sentence says so."""
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        suffix, n = f".unreadable-{stamp}", 1
        while (self.snapshot.parent / (RECORD_NAME + suffix)).exists():
            n += 1
            suffix = f".unreadable-{stamp}-{n}"
        kept = self.snapshot.with_name(RECORD_NAME + suffix)
        try:
            os.replace(self.snapshot, kept)
            if self.journal.exists():
                os.replace(self.journal, self.journal.with_name(JOURNAL_NAME + suffix))
        except OSError as exc:
            raise disk_error(exc, f"{self.snapshot} could not be read ({reason}) nor kept aside") from exc
        log.warning("%s could not be read (%s): it is kept as %s and this batch starts a new record",
                    self.snapshot, reason, kept.name)
        return kept

    def write_snapshot(self, data: dict[str, Any], text: str) -> None:
        """Replace ``batch.json`` with ``text`` durably; the journal's earlier lines are folded in."""
        payload = text.encode("utf-8")
        try:
            failpoints.hit("write")
            failpoints.hit("write.json")
            fd, tmp = tempfile.mkstemp(dir=self.out, prefix=TMP_PREFIX, suffix=".json")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(payload)
                    fh.flush()
                    os.fsync(fh.fileno())  # the bytes are on the disk before the name points at them
                os.chmod(tmp, 0o644)
                os.replace(tmp, self.snapshot)
            finally:
                Path(tmp).unlink(missing_ok=True)
            _sync_folder(self.out)
            if self._journal is not None:  # every line so far is in the snapshot now
                self._journal.truncate(0)
                self._journal.seek(0)
            else:  # a journal left by an earlier run: read before this run's first snapshot, so in it
                self.journal.unlink(missing_ok=True)
        except OSError as exc:
            raise disk_error(exc, f"cannot write {self.snapshot}") from exc
        self.snapshots += 1
        self.bytes_written += len(payload)
        self._last_snapshot, self._last_size = self.clock(), len(payload)

    def due(self) -> bool:
        """Whether enough time has passed since the last snapshot for one of its size."""
        if self._last_snapshot is None:
            return True
        wait = max(SNAPSHOT_MIN_SECONDS, self._last_size / SNAPSHOT_RATE)
        return self.clock() - self._last_snapshot >= wait

    def append(self, change: dict[str, Any]) -> None:
        """One change, at once (the OS has it when this returns; the disk shortly after: ``sync``)."""
        line = (json.dumps(change, separators=(",", ":"), default=str) + "\n").encode("utf-8")
        try:
            if self._journal is None:
                self._journal = open(self.journal, "ab")
            self._journal.write(line)
            self._journal.flush()
        except OSError as exc:
            raise disk_error(exc, f"cannot write {self.journal}") from exc
        self.bytes_written += len(line)
        if self._unsynced_since is None:
            self._unsynced_since = self.clock()
        self.sync(force=False)

    def sync(self, force: bool = True) -> None:
        """fsync the journal (now, or when its oldest unsynced line is old enough)."""
        if self._journal is None or self._unsynced_since is None:
            return
        if force or self.clock() - self._unsynced_since >= JOURNAL_SYNC_SECONDS:
            try:
                os.fsync(self._journal.fileno())
            except OSError as exc:
                raise disk_error(exc, f"cannot write {self.journal}") from exc
            self._unsynced_since = None

    def finish(self) -> None:
        """After the last snapshot: the journal is folded in, so it goes."""
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        self._unsynced_since = None
        self.journal.unlink(missing_ok=True)


def _sync_folder(folder: Path) -> None:
    """fsync a folder, so a rename in it survives a power cut (POSIX; Windows has no such call)."""
    if os.name == "nt":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
