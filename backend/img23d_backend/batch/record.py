"""``<out>/batch.json``: every picture of a batch with its status, run folder, seconds and error.

Rewritten atomically (``runs.atomic_write``) whenever a picture changes state, so a batch that
stops for any reason leaves a record that says how far it got. A picture's ``status``:

  pending    not started (yet)          running    handed to a worker
  done       its run finished           failed     its run (or every attempt) failed
  skipped    done by an earlier run with the same picture bytes and options: not redone
  cancelled  stopped by Ctrl-C; runs again next time

The next run of the same batch reads the record: a picture whose hash and options key match a
done (or skipped) entry whose run folder is still there is skipped; a failed one stays failed
unless ``--retry-failed``; everything else runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from img23d_protocol import dumps

from ..runs import atomic_write

log = logging.getLogger(__name__)

RECORD_NAME = "batch.json"
FORMAT = 1
FINISHED = ("done", "skipped")


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

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Entry":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def options_key(settings: dict[str, Any]) -> str:
    """A short hash of what decides a picture's objects (options, names, models)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


class BatchRecord:
    """The batch's entries and ``batch.json``; the driver changes entries, then calls ``save``."""

    def __init__(self, out: Path, entries: list[Entry], settings: dict[str, Any]) -> None:
        self.out = out
        self.path = out / RECORD_NAME
        self.entries = entries
        self.settings = settings
        self.status = "running"
        self.started = _now()
        self.finished: str | None = None

    @staticmethod
    def previous(out: Path) -> list[Entry]:
        """The entries of the last run's record, if it left a readable one."""
        try:
            data = json.loads((out / RECORD_NAME).read_text(encoding="utf-8"))
            return [Entry.from_dict(e) for e in data["pictures"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            if (out / RECORD_NAME).exists():
                log.warning("%s could not be read (%s): every picture runs again", out / RECORD_NAME, exc)
            return []

    def resume(self, previous: list[Entry], retry_failed: bool) -> None:
        """Carry over what an earlier run finished (skipped) or failed (kept, unless ``retry_failed``)."""
        done: dict[tuple[str, str], Entry] = {}
        failed: dict[tuple[str, str], Entry] = {}
        for old in previous:
            if old.status in FINISHED and old.run_dir and (self.out / old.run_dir / "manifest.json").is_file():
                done.setdefault((old.sha256, old.key), old)
            elif old.status == "failed":
                failed.setdefault((old.sha256, old.key), old)
        for entry in self.entries:
            key = (entry.sha256, entry.key)
            old = done.get(key) or (None if retry_failed else failed.get(key))
            if old is None:
                continue
            entry.status = "skipped" if old.status in FINISHED else "failed"
            entry.run_dir, entry.seconds, entry.error = old.run_dir, old.seconds, old.error
            entry.meshes, entry.missing = old.meshes, list(old.missing)

    def counts(self) -> dict[str, int]:
        counts = {s: 0 for s in ("done", "skipped", "failed", "cancelled", "running", "pending")}
        for entry in self.entries:
            counts[entry.status] = counts.get(entry.status, 0) + 1
        return counts

    def save(self) -> Path:
        data = {"format": FORMAT, "status": self.status, "started": self.started, "updated": _now(),
                "finished": self.finished, "settings": self.settings, "counts": self.counts(),
                "pictures": [asdict(e) for e in self.entries]}
        text = dumps(data, indent=1) + "\n"
        return atomic_write(self.path, lambda p: p.write_text(text, encoding="utf-8"))

    def close(self, status: str) -> Path:
        """The final record: ``finished`` or ``cancelled``; entries still running say ``cancelled``."""
        for entry in self.entries:
            if entry.status == "running":
                entry.status = "cancelled"
        self.status, self.finished = status, _now()
        return self.save()


def close_record_file(out: Path, reason: str) -> None:
    """Close ``<out>/batch.json`` as cancelled from outside the driver (a process ending at once)."""
    try:
        data = json.loads((out / RECORD_NAME).read_text(encoding="utf-8"))
        record = BatchRecord(out, [Entry.from_dict(e) for e in data["pictures"]], data.get("settings", {}))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.error("could not close %s: %s", out / RECORD_NAME, exc)
        return
    record.started = data.get("started", record.started)
    for entry in record.entries:
        if entry.status == "running":
            entry.error = {"code": "cancelled", "message": reason}
    record.close("cancelled")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
