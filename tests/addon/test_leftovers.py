"""What a Blender killed mid-transfer leaves (issue 46, item 6): hidden ``.tmp-*`` files in a run's
local mirror, often with no manifest, that nothing removed. The next listing of the host's runs and
the next fetch of that run remove them (``img23d_client.leftovers``), but never a file a receiver
of this process is writing, one written moments ago, one reached through a link, or another file.
Import Run's own clean-up is tested in real Blender (tests/blender/test_addon_scene_faults.py)."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from fetch_replies import played_download, wire
from img23d_client import host_import, leftovers, transfer

protocol = transfer.protocol

REMOTE = "/srv/gpu/img23d-runs"
RUN = f"{REMOTE}/20261124-120000-house"


def _file(path: Path, age: float = 0.0, data: bytes = b"half a mesh") -> Path:
    """``path`` written, its last change ``age`` seconds ago."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    then = time.time() - age
    os.utime(path, (then, then))
    return path


STALE = leftovers.STALE_SECONDS + 60


class Listing:
    """What HostImport's listing uses of a session; the host lists ``RUN`` when asked."""

    remote_host, error = "gpu-box", ""

    def __init__(self, mirror: transfer.Mirror) -> None:
        self.mirror_ = mirror
        self.replies: dict = {}

    def request(self, message) -> str:
        run = {"path": RUN, "name": RUN.rsplit("/", 1)[1], "kind": "generate", "status": "running",
               "created": "2026-11-24T12:00", "targets": ["house"], "done": 0}
        self.replies["list-1"] = wire(protocol.Result(id="list-1", data={"runs": [run]}))
        return "list-1"

    def take_reply(self, request_id: str):
        return self.replies.pop(request_id, None)

    def pump(self) -> list:
        return []

    def mirror(self) -> transfer.Mirror:
        return self.mirror_


def test_listing_the_hosts_runs_removes_what_a_killed_transfer_left_in_their_mirrors(tmp_path: Path) -> None:
    run = tmp_path / "20261124-120000-house"   # the run's mirror here: no manifest ever came
    stale = [_file(run / ".tmp-k2j3.glb", STALE), _file(run / "views" / "house" / ".tmp-9.png", STALE)]
    fresh = _file(run / ".tmp-now.glb")         # written moments ago: another Blender may be writing it
    results = [_file(run / "house.glb", STALE), _file(run / ".img23d-reserve", STALE)]
    elsewhere = _file(tmp_path.parent / f"{tmp_path.name}-outside" / ".tmp-other.glb", STALE)
    (run / "linked").symlink_to(elsewhere.parent, target_is_directory=True)  # never followed
    mirror = transfer.Mirror(REMOTE, tmp_path)
    live = mirror.request(f"{RUN}/live.glb")    # a transfer of this process, into that folder, slow to come
    payload = b"L" * 1000
    mirror.feed(wire(protocol.Chunk(id=live.id, offset=0, data=protocol.encode_chunk(payload[:10]), size=len(payload),
                                    sha256=hashlib.sha256(payload).hexdigest())))
    [writing] = [p for p in run.glob(".tmp-*") if p not in stale and p != fresh]
    os.utime(writing, (time.time() - STALE,) * 2)

    task = host_import.HostImport(Listing(mirror))
    assert task.step() is host_import.Phase.DONE and [r.path for r in task.runs] == [RUN]
    assert [p.exists() for p in stale] == [False, False]
    assert fresh.exists() and writing.exists() and all(p.exists() for p in results) and elsewhere.exists()
    mirror.close()
    assert not writing.exists()


def test_the_next_fetch_of_a_run_removes_what_a_killed_one_left(tmp_path: Path) -> None:
    run = tmp_path / "20261124-120000-house"
    stale = _file(run / "crops" / ".tmp-abc.png", STALE)
    kept = _file(run / "house.glb", STALE)
    files = {"house.glb": b"glTF" * 100, "manifest.json": b'{"status": "finished"}'}
    download = played_download(transfer.Mirror(REMOTE, tmp_path), RUN, files)
    assert download.error == "" and download.local_dir.name == "20261124-120000-house-2"  # never over a folder here
    assert not stale.exists() and kept.exists()


def test_a_closed_run_is_cleared_of_every_temporary_file_and_its_reserve(tmp_path: Path) -> None:
    fresh, reserve = _file(tmp_path / ".tmp-x.glb"), _file(tmp_path / ".img23d-reserve")
    assert leftovers.remove_leftovers(tmp_path) == []    # a folder that may be being written: only old ones
    assert sorted(leftovers.remove_leftovers(tmp_path, reserve=True, settled=0.0)) == sorted([fresh, reserve])
    assert leftovers.remove_leftovers(tmp_path / "missing") == []


def test_import_run_leaves_a_run_inside_the_run_to_its_own_manifest(tmp_path: Path) -> None:
    """Import Run of a closed Generate run while a Regenerate writes its own run in ``regenerated/``: that
    run's writes in progress and reserve are not the closed run's leftovers."""
    (tmp_path / "regenerated" / "inner").mkdir(parents=True)
    (tmp_path / "regenerated" / "inner" / "manifest.json").write_text("{}", encoding="utf-8")
    inner = [_file(tmp_path / "regenerated" / "inner" / ".tmp-y.glb"),
             _file(tmp_path / "regenerated" / "inner" / ".img23d-reserve")]
    own = _file(tmp_path / ".tmp-x.glb")
    assert leftovers.remove_leftovers(tmp_path, reserve=True, settled=0.0) == [own]
    assert all(path.exists() for path in inner)
