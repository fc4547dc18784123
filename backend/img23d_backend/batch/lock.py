"""``<out>/batch.lock``: one batch at a time on a batch folder.

Two batches on one ``--out`` would hand the same pictures out twice and overwrite each other's
record. The lock is a small JSON file naming its holder (process id, its start time, host),
made complete beside the folder and then linked into place, so it either exists whole or not at
all (``os.link`` fails when the name is taken, on POSIX and NTFS alike). A lock whose holder is
gone (same host, and no such process, or another process with the same id since) is stale: the
next batch says so and takes it. A lock held on another host cannot be checked from here: the
batch refuses, naming the host and process, and the person decides.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import tempfile
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from img23d_protocol import ErrorCode, ProtocolError

from ..runs.folders import TMP_PREFIX, disk_error

log = logging.getLogger(__name__)

LOCK_NAME = "batch.lock"


@dataclass(frozen=True)
class Holder:
    pid: int
    host: str
    since: str                    # when the batch took the lock (UTC)
    process_started: float = 0.0  # the process's own start time: a recycled pid has another

    @classmethod
    def me(cls) -> "Holder":
        return cls(pid=os.getpid(), host=socket.gethostname(), since=_now(), process_started=_started(os.getpid()))

    def alive(self) -> bool | None:
        """Whether the holding process still runs: None when it is on another host (unknown here)."""
        if self.host != socket.gethostname():
            return None
        started = _started(self.pid)
        if started is None:
            return False
        if not started or not self.process_started:
            return True  # a start time that cannot be read: the process is there, take it as the holder
        # A pid the system gave to another process since: that one never held the lock.
        return abs(started - self.process_started) < 1.0

    def describe(self) -> str:
        return f"process {self.pid} on {self.host}, since {self.since}"


class BatchLock:
    """Held by this process from ``acquire`` to ``release``."""

    def __init__(self, out: Path) -> None:
        self.path = out / LOCK_NAME
        self.holder: Holder | None = None

    def check(self) -> None:
        """Refuse now if another live batch holds the folder (nothing is written)."""
        holder = _read(self.path)
        if holder is not None and holder.alive() is not False:
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
        text = json.dumps(asdict(me)) + "\n"
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
                return self
        finally:
            Path(tmp).unlink(missing_ok=True)
        raise ProtocolError(ErrorCode.BUSY, f"{self.path} keeps being taken by other batches: run one at a time")

    def _take_if_stale(self) -> None:
        holder = _read(self.path)
        if holder is not None and holder.alive() is not False:
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
    """Whether this process holds ``<out>/batch.lock``."""
    holder = _read(out / LOCK_NAME)
    return holder is not None and holder.pid == os.getpid() and holder.host == socket.gethostname()


def release_if_mine(out: Path) -> None:
    """Remove ``<out>/batch.lock`` if this process holds it (a process ending at once)."""
    if held_here(out):
        (out / LOCK_NAME).unlink(missing_ok=True)


def _refusal(path: Path, holder: Holder) -> ProtocolError:
    where = "" if holder.alive() is not None else " (another machine: img23d cannot see whether it still runs)"
    return ProtocolError(ErrorCode.BUSY, f"another batch is writing to {path.parent} ({holder.describe()}{where}): "
                                         f"wait for it to end, or remove {path} if it is gone")


def _read(path: Path) -> Holder | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Holder(pid=int(data["pid"]), host=str(data["host"]), since=str(data.get("since", "")),
                      process_started=float(data.get("process_started", 0.0)))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("%s could not be read (%s): it is treated as left behind", path, exc)
        return None


def _started(pid: int) -> float | None:
    import psutil  # not at the top: the batch command's parser imports this module, and starts light

    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None
    except psutil.Error:
        return 0.0  # it exists, but its start time cannot be read: take it as alive


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
