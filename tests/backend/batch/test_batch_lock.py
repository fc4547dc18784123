"""batch.lock judges its holder as a run folder's owner is judged (``runs/owner.py``, issue 88): two machines of one
host name (clones, containers with host networking) sharing an output folder have other process ids, and the lock
named by host and pid alone let a batch take the other machine's live lock as stale, and close its record as its
own. No batch runs: the lock alone, milliseconds."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest
from img23d_protocol import ErrorCode, ProtocolError

from img23d_backend.batch.lock import LOCK_NAME, BatchLock, held_here
from img23d_backend.runs import lease
from img23d_backend.runs.owner import Owner

GONE_PID = 2**22 + 12345   # above any pid_max: no process here has it
OTHER_SPACE = "0b5e55ed-0000-4000-8000-000000000000/pid:[4026531836]"   # another boot of a kernel, or a container
LAPSED = lease.EXPIRES_SECONDS + 60


def _lock(out: Path, pid: int, pid_space: str, started: float) -> Path:
    """A lock as a batch of this img23d writes it, for process ``pid`` of ``pid_space`` on a host of this name."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / LOCK_NAME
    path.write_text(json.dumps({"pid": pid, "host": socket.gethostname(), "since": "2026-11-28T11:00:00+00:00",
                                "process_started": started, "pid_space": pid_space,
                                "lease_seconds": lease.RENEW_SECONDS}), encoding="utf-8")
    return path


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_live_batch_of_another_machine_of_the_same_name_keeps_its_lock(tmp_path: Path) -> None:
    path = _lock(tmp_path, GONE_PID, OTHER_SPACE, time.time())  # its pid is that machine's: none here has it
    before = path.read_bytes()
    with pytest.raises(ProtocolError) as refused:
        BatchLock(tmp_path).acquire()
    assert refused.value.code is ErrorCode.BUSY
    assert (f"process {GONE_PID} on {socket.gethostname()}" in refused.value.message
            and "taken over once its lock goes unrenewed for 10 minutes" in refused.value.message)
    assert path.read_bytes() == before
    _age(path, LAPSED)  # that machine's batch stopped renewing it minutes ago: gone
    lock = BatchLock(tmp_path).acquire()
    assert held_here(tmp_path)
    lock.release()


def test_a_dead_batch_of_this_machine_is_still_seen_as_dead(tmp_path: Path) -> None:
    me = Owner.me()
    _lock(tmp_path, GONE_PID, me.pid_space, time.time())  # renewed just now, but no process here has its pid
    BatchLock(tmp_path).acquire().release()
    _lock(tmp_path, me.pid, me.pid_space, me.started - 3600)  # this pid, given to this process since
    BatchLock(tmp_path).acquire().release()
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_lock_of_the_same_pid_elsewhere_is_not_this_processs(tmp_path: Path) -> None:
    """Else a batch ending at once (Ctrl+C twice) closed the other machine's record as its own, and removed its lock."""
    me = Owner.me()
    _lock(tmp_path, me.pid, OTHER_SPACE, me.started)
    assert not held_here(tmp_path)
    _lock(tmp_path, me.pid, me.pid_space, me.started)
    assert held_here(tmp_path)


def test_a_held_lock_is_renewed_while_the_batch_runs(tmp_path: Path) -> None:
    lock = BatchLock(tmp_path).acquire()
    assert lock.path in lease.LEASES.held()
    recorded = json.loads(lock.path.read_text(encoding="utf-8"))
    assert (recorded["pid_space"], recorded["lease_seconds"]) == (Owner.me().pid_space, lease.RENEW_SECONDS)
    lock.release()
    assert lock.path not in lease.LEASES.held() and not lock.path.exists()
