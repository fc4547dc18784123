"""``<out>/batch.lock``: one batch at a time on a batch folder.

Two batches on one ``--out`` would hand the same pictures out twice and overwrite each other's
record. The lock is a small JSON file naming its holder as a run's manifest names its backend
(``runs/owner.py``: host name, pid space, process id and its start time, lease) and when it took the
folder, made complete beside the folder and then linked into place, so it either exists whole or not
at all (``os.link`` fails when the name is taken, on POSIX and NTFS alike). While the batch runs, its
process renews the lock's modification time every 30 s (``runs/lease.py``), as a backend renews its
run folders'. A lock whose holder is gone is stale: the next batch says so and takes it. Gone is what
``Owner.gone`` says: a holder of this machine (host name and pid space) when no process has its id or
another process has it since; one elsewhere (another machine, or another container, even of this host
name, whose process ids are not this machine's) once its lock has gone unrenewed for 10 minutes. A
lock of an older img23d on another host cannot be judged from here: the batch refuses, naming the
host and process, and the person decides.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from img23d_protocol import ErrorCode, ProtocolError

from ..runs.folders import TMP_PREFIX, disk_error
from ..runs.lease import LEASES, lapses_after
from ..runs.owner import Owner

log = logging.getLogger(__name__)

LOCK_NAME = "batch.lock"


@dataclass(frozen=True)
class Holder:
    owner: Owner
    since: str                    # when the batch took the lock (UTC)

    @classmethod
    def me(cls) -> "Holder":
        return cls(owner=Owner.me(), since=_now())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Holder":
        """The holder a lock names, every field checked by ``Owner.recorded`` (another process wrote it). The
        lock keeps the start time under its own older key, ``process_started``, which an older img23d reads."""
        return cls(owner=Owner.recorded({**data, "pid_started": data.get("process_started")}),
                   since=data["since"] if isinstance(data.get("since"), str) else "")

    def to_dict(self) -> dict[str, Any]:
        owner = self.owner
        # ``process_started`` a number always: an older img23d read a lock without one as unreadable, and took it.
        return {"pid": owner.pid, "host": owner.host, "since": self.since, "process_started": owner.started or 0.0,
                "pid_space": owner.pid_space, "lease_seconds": owner.lease}

    def describe(self) -> str:
        return f"process {self.owner.pid} on {self.owner.host or 'an unnamed host'}, since {self.since}"


class BatchLock:
    """Held by this process from ``acquire`` to ``release``."""

    def __init__(self, out: Path) -> None:
        self.path = out / LOCK_NAME
        self.holder: Holder | None = None

    def check(self) -> None:
        """Refuse now if another live batch holds the folder (nothing is written)."""
        holder = _read(self.path)
        if holder is not None and not holder.owner.gone(self.path):
            raise _refusal(self.path, holder)

    def acquire(self) -> "BatchLock":
        """Take the folder: ``ProtocolError`` ``busy`` while another batch holds it, ``disk`` when the
        lock cannot be written (a read-only or full disk)."""
        try:
            return self._acquire()
        except OSError as exc:
            raise disk_error(exc, f"cannot write {self.path}") from exc

    def _acquire(self) -> "BatchLock":
        me = Holder.me()
        text = json.dumps(me.to_dict()) + "\n"
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=TMP_PREFIX, suffix=".lock")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            for _ in range(3):  # a stale lock taken away, then ours
                try:
                    _place(tmp, self.path, text)
                except FileExistsError:
                    self._take_if_stale()
                    continue
                self.holder = me
                LEASES.hold(self.path)  # renewed while the batch runs: a batch sharing the folder sees it live
                return self
        finally:
            Path(tmp).unlink(missing_ok=True)
        raise ProtocolError(ErrorCode.BUSY, f"{self.path} keeps being taken by other batches: run one at a time")

    def _take_if_stale(self) -> None:
        holder = _read(self.path)
        if holder is not None and not holder.owner.gone(self.path):
            raise _refusal(self.path, holder)
        # Move it aside before deleting: if a live batch took the name meanwhile, its lock comes back.
        aside = self.path.with_name(f"{LOCK_NAME}.stale-{os.getpid()}")
        try:
            os.replace(self.path, aside)
        except FileNotFoundError:
            return  # its holder ended meanwhile and removed it
        moved = _read(aside)
        if moved != holder:
            try:
                os.link(aside, self.path)
            except FileExistsError:
                pass
            aside.unlink(missing_ok=True)
            if moved is not None:
                raise _refusal(self.path, moved)
            return
        aside.unlink(missing_ok=True)
        what = holder.describe() if holder is not None else "an unreadable lock"
        log.warning("%s was left by a batch that is gone (%s): this batch takes it", self.path, what)

    def release(self) -> None:
        """Remove the lock, if it is still this process's. One that cannot be removed (the disk went
        read-only under the batch) stays: the next batch finds its holder gone and takes it."""
        LEASES.release(self.path)
        if self.holder is not None and _read(self.path) == self.holder:
            try:
                self.path.unlink(missing_ok=True)
            except OSError as exc:
                log.warning("%s could not be removed (%s): the next batch here will take it over", self.path,
                            exc.strerror or exc)
        self.holder = None


def _place(tmp: str, path: Path, text: str) -> None:
    """Put the lock in place whole, or raise ``FileExistsError``."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links (FAT, some shares): create it exclusively
        with open(path, "x", encoding="utf-8") as fh:
            fh.write(text)


def held_here(out: Path) -> bool:
    """Whether this process holds ``<out>/batch.lock`` (not a process of the same id on a machine of this host name
    sharing the folder)."""
    holder = _read(out / LOCK_NAME)
    return holder is not None and holder.owner.is_me()


def release_if_mine(out: Path) -> None:
    """Remove ``<out>/batch.lock`` if this process holds it (a process ending at once)."""
    if held_here(out):
        LEASES.release(out / LOCK_NAME)
        (out / LOCK_NAME).unlink(missing_ok=True)


def _refusal(path: Path, holder: Holder) -> ProtocolError:
    owner = holder.owner
    if owner.local():
        where = ""
    elif owner.lease is not None:
        where = (f"; another machine's or container's, sharing the folder: taken over once its lock goes unrenewed "
                 f"for {lapses_after(owner.lease) / 60:.0f} minutes")
    else:
        where = " (another machine: img23d cannot see whether it still runs)"
    return ProtocolError(ErrorCode.BUSY, f"another batch is writing to {path.parent} ({holder.describe()}{where}): "
                                         f"wait for it to end, or remove {path} if it is gone")


def _read(path: Path) -> Holder | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return Holder.from_dict(data)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("%s could not be read (%s): it is treated as left behind", path, exc)
        return None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
