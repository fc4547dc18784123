"""Tests for runs/owner.py and runs/lease.py: whose a run or an upload is, on a runs folder other machines share.

A machine of the same host name (a clone, a container with host networking) has other process ids: a
backend starting here marked its live run interrupted, removed its reserve and deleted its uploads."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from img23d_protocol import ErrorCode, ProtocolError

from img23d_backend.runs import folders, lease, owner
from img23d_backend.runs.folders import RunFolder
from img23d_backend.service import transfers
from run_files import manifest

GONE_PID = 2**22 + 12345   # above any pid_max: no process here has it
OTHER_SPACE = "0b5e55ed-0000-4000-8000-000000000000/pid:[4026531836]"   # another boot of a kernel
LAPSED = lease.EXPIRES_SECONDS + 60


@pytest.fixture
def run(tmp_path) -> RunFolder:
    return RunFolder.create(tmp_path / "runs", "house_scene", manifest())


def _strays(run: RunFolder) -> list[Path]:
    stray = run.root / ".tmp-x.glb"
    stray.write_bytes(b"")
    return [stray, run.root / folders.RESERVE_NAME]


def _as_if(run: RunFolder, **fields: object) -> None:
    """Rewrite the run's owner as another backend would have recorded it."""
    for key, value in fields.items():
        setattr(run.manifest, key, value)
    run.save_manifest()


def _age(folder: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(folder, (then, then))


def _status(run: RunFolder) -> str:
    return json.loads((run.root / "manifest.json").read_text())["status"]


def test_a_live_run_of_another_machine_of_the_same_name_is_left_alone(run) -> None:
    strays = _strays(run)
    _as_if(run, pid=GONE_PID, pid_space=OTHER_SPACE)  # its pid is that machine's: none here has it
    assert folders.recover_interrupted(run.root.parent) == []
    assert _status(run) == "running" and all(p.exists() for p in strays)


def test_its_run_is_marked_once_its_lease_has_lapsed_for_minutes(run) -> None:
    strays = _strays(run)
    _as_if(run, pid=GONE_PID, pid_space=OTHER_SPACE)
    _age(run.root, LAPSED)
    assert folders.recover_interrupted(run.root.parent) == [run.root]
    assert _status(run) == "interrupted" and not any(p.exists() for p in strays)


def test_a_run_whose_pid_was_given_to_another_process_is_marked(run) -> None:
    """This machine, and a process with its pid runs (this one), but it started at another time."""
    _as_if(run, pid=os.getpid(), pid_started=owner.Owner.me().started - 3600)
    assert folders.recover_interrupted(run.root.parent) == [run.root]
    assert _status(run) == "interrupted"


def test_an_older_img23d_run_of_another_host_is_left_alone_however_old(run) -> None:
    """No lease in its record: its backend renews none, so its folder's time says nothing."""
    _as_if(run, pid=GONE_PID, host="render-node-7", pid_space="", pid_started=None, lease_seconds=None)
    _age(run.root, 10 * LAPSED)
    assert folders.recover_interrupted(run.root.parent) == []
    assert _status(run) == "running" and "lease_seconds" not in json.loads((run.root / "manifest.json").read_text())


def test_a_job_never_writes_over_a_manifest_another_process_closed(run) -> None:
    """Marked interrupted by an older backend on another machine while it ran: the job stops, the
    manifest keeps what the other process wrote rather than a later "finished"."""
    RunFolder(run.root, folders.Manifest.from_dict(run.manifest.to_dict())).finish("interrupted")
    with pytest.raises(ProtocolError) as caught:
        run.save_manifest()
    assert caught.value.code is ErrorCode.DISK
    assert "another process closed this run's manifest as 'interrupted'" in caught.value.message
    run.finish("finished")
    assert _status(run) == "interrupted" and not (run.root / folders.RESERVE_NAME).exists()


def _upload_folder(uploads: Path, pid: int, pid_space: str, started: float) -> Path:
    """An upload folder named as the backend ``pid`` in ``pid_space`` names it (``owner.folder_prefix``)."""
    that = owner.Owner(owner.Owner.me().host, pid, pid_space, started, lease.RENEW_SECONDS)
    folder = uploads / f"{owner.folder_prefix(that)}0a1b2c"
    folder.mkdir(parents=True)
    (folder / "picture.png").write_bytes(b"half a picture")
    return folder


def test_uploads_are_removed_only_when_their_backend_is_gone(tmp_path) -> None:
    me, uploads = owner.Owner.me(), tmp_path / transfers.UPLOADS_DIR
    live_elsewhere = _upload_folder(uploads, GONE_PID, OTHER_SPACE, time.time())
    lapsed_elsewhere = _upload_folder(uploads, GONE_PID + 1, OTHER_SPACE, time.time())
    _age(lapsed_elsewhere, LAPSED)
    dead_here = _upload_folder(uploads, GONE_PID, me.pid_space, time.time())
    pid_reused = _upload_folder(uploads, me.pid, me.pid_space, me.started - 3600)
    mine = _upload_folder(uploads, me.pid, me.pid_space, me.started)
    assert sorted(transfers.clean_uploads(tmp_path)) == sorted([lapsed_elsewhere, dead_here, pid_reused])
    assert live_elsewhere.is_dir() and mine.is_dir()


def test_a_held_folder_is_renewed_and_a_released_one_is_not(tmp_path) -> None:
    held, released = tmp_path / "held", tmp_path / "released"
    leases = lease.Leases()
    for folder in (held, released):
        folder.mkdir()
        leases.hold(folder)
        _age(folder, LAPSED)
    leases.release(released)
    leases.renew()
    assert not lease.expired(held) and lease.expired(released)
