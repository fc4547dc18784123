"""Tests for runs/folders.py's endings: the manifest closed even on a full disk, and killed writes' leftovers removed."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest
from img23d_protocol import ErrorCode, ProtocolError

from img23d_backend.runs import folders, reserve
from img23d_backend.runs.folders import RunFolder, TargetRecord
from run_files import manifest, run_on_a_tiny_disk, tmp_leftovers


@pytest.fixture
def run(tmp_path) -> RunFolder:
    return RunFolder.create(tmp_path / "runs", "house_scene", manifest())


# --- every ending closes the manifest, even with no free byte on the disk ------------------------

def _done_record(run: RunFolder) -> TargetRecord:
    run.write_bytes_with("house.glb", lambda p: p.write_bytes(b"glTF mesh"))
    record = TargetRecord(target="house", stem="house", status="done", mesh="house.glb")
    run.manifest.records = [record, TargetRecord(target="barrel", stem="barrel")]
    run.save_manifest()
    return record


def test_a_full_disk_at_the_final_write_still_closes_the_manifest(run, monkeypatch):
    _done_record(run)
    monkeypatch.setenv("IMG23D_FAILPOINTS", "write:enospc")  # every ordinary write now fails
    run.manifest.errors.append({"code": "disk", "message": "the disk is full"})
    run.finish("failed")
    on_disk = json.loads((run.root / "manifest.json").read_text())
    assert on_disk["status"] == "failed" and on_disk["finished"]
    assert [(r["target"], r["status"], r["mesh"]) for r in on_disk["records"]] == [
        ("house", "done", "house.glb"), ("barrel", "pending", None)]
    assert not (run.root / folders.RESERVE_NAME).exists() and tmp_leftovers(run.root) == []


def test_a_normal_finish_removes_the_reserve(run):
    assert (run.root / folders.RESERVE_NAME).stat().st_size >= folders.RESERVE_MIN_BYTES
    run.finish("finished")
    assert sorted(p.name for p in run.root.iterdir()) == ["manifest.json"]


def test_nothing_changes_a_manifest_once_it_is_closed(run):
    run.finish("cancelled")
    run.manifest.status = "running"      # a job thread that has not heard yet
    run.save_manifest()
    run.finish("finished")
    assert json.loads((run.root / "manifest.json").read_text())["status"] == "cancelled"


def test_a_full_disk_before_the_first_manifest_leaves_a_folder_that_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("IMG23D_FAILPOINTS", "write:enospc")
    with pytest.raises(ProtocolError) as excinfo:
        RunFolder.create(tmp_path / "runs", "house", manifest())
    assert excinfo.value.code == ErrorCode.DISK and "the disk is full" in excinfo.value.message
    [folder] = list((tmp_path / "runs").iterdir())
    on_disk = json.loads((folder / "manifest.json").read_text())
    assert on_disk["status"] == "failed" and "the disk is full" in on_disk["errors"][0]["message"]
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json"]


def test_without_room_for_the_reserve_no_run_folder_is_left(tmp_path, monkeypatch):
    def no_space(handle, size):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(reserve, "_allocate", no_space)
    with pytest.raises(ProtocolError, match="the disk is full"):
        RunFolder.create(tmp_path / "runs", "house", manifest())
    assert list((tmp_path / "runs").iterdir()) == []


_FILL_AND_FINISH = r"""
import errno, json
from img23d_backend.runs.folders import Manifest, RunFolder, TargetRecord
run = RunFolder.create(__import__("pathlib").Path(disk) / "runs", "house",
                       Manifest(job_id="j", kind="generate", backend_version="t"))
run.write_bytes_with("house.glb", lambda p: p.write_bytes(b"glTF" * 1000))
run.manifest.records = [TargetRecord(target="house", stem="house", status="done", mesh="house.glb"),
                        TargetRecord(target="barrel", stem="barrel")]
run.save_manifest()
filler = os.open(os.path.join(disk, "filler"), os.O_WRONLY | os.O_CREAT)  # fill the disk to the last byte
for size in (1 << 16, 1):
    try:
        while True:
            os.write(filler, b"x" * size)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC, exc
os.close(filler)
free = os.statvfs(disk).f_bavail
run.manifest.errors.append({"code": "disk", "message": "the disk is full"})
run.finish("failed")
print(json.dumps({"free_blocks": free, "manifest": json.loads((run.root / "manifest.json").read_text()),
                  "files": sorted(os.listdir(run.root))}))
"""


def test_the_final_manifest_is_written_on_a_real_disk_with_no_free_byte(tmp_path):
    """A real, tiny tmpfs filled to the last block (in a user and mount namespace, no root needed)."""
    proc = run_on_a_tiny_disk(tmp_path, _FILL_AND_FINISH, megabytes=4)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["free_blocks"] == 0
    assert result["manifest"]["status"] == "failed"
    assert [(r["target"], r["status"]) for r in result["manifest"]["records"]] == [("house", "done"),
                                                                                 ("barrel", "pending")]
    assert result["files"] == ["house.glb", "manifest.json"]


# --- leftovers of killed writes are removed when the run is next read ------------------------------

def _stray_files(run: RunFolder) -> list[Path]:
    strays = [run.root / ".tmp-x.glb", run.root / "crops" / ".tmp-abc.png"]
    (run.root / "crops").mkdir(exist_ok=True)
    for path in strays:
        path.write_bytes(b"")
    return strays


def test_the_recovery_pass_removes_killed_writes_and_marks_the_run(run, monkeypatch):
    strays = _stray_files(run)
    run.manifest.pid = 2**22 + 12345  # a backend that no longer exists
    run.save_manifest()
    assert folders.recover_interrupted(run.root.parent) == [run.root]
    assert not any(p.exists() for p in strays)
    assert sorted(p.name for p in run.root.iterdir()) == ["crops", "manifest.json"]
    assert json.loads((run.root / "manifest.json").read_text())["status"] == "interrupted"


def test_the_recovery_pass_cleans_closed_runs_too(run):
    strays = _stray_files(run)  # e.g. a write cut short after the server closed the manifest at exit
    run.finish("cancelled")
    assert folders.recover_interrupted(run.root.parent) == []
    assert not any(p.exists() for p in strays)


def test_the_recovery_pass_leaves_a_live_jobs_files_alone(run):
    strays = _stray_files(run)  # the manifest's pid is this very process: a job in progress
    assert folders.recover_interrupted(run.root.parent) == []
    assert all(p.exists() for p in strays) and (run.root / folders.RESERVE_NAME).exists()
    assert json.loads((run.root / "manifest.json").read_text())["status"] == "running"


def test_the_recovery_pass_leaves_another_machines_live_run_alone(run):
    """A runs folder two machines share: the other machine's job has a pid this one does not have, and was
    marked interrupted (its reserve removed) while it ran on. Its manifest names its host."""
    strays = _stray_files(run)
    run.manifest.pid, run.manifest.host = 2**22 + 12345, "render-node-7"
    run.save_manifest()
    assert folders.recover_interrupted(run.root.parent) == []
    assert all(p.exists() for p in strays) and (run.root / folders.RESERVE_NAME).exists()
    assert json.loads((run.root / "manifest.json").read_text())["status"] == "running"


def test_the_recovery_pass_leaves_a_live_regenerate_inside_a_closed_run_alone(run):
    """A Regenerate writes a run of its own inside the Generate run (``regenerated/<run>/``): the parent's
    clean-up, at any backend's or command's start, removed its reserve and its writes in progress, and the
    Regenerate failed with a disk error. That run is judged by its own manifest."""
    run.finish("finished")
    inner = RunFolder.create(run.root / "regenerated", "regenerate", manifest())  # live: this process's pid
    strays = _stray_files(inner)
    assert folders.recover_interrupted(run.root.parent) == []
    assert all(p.exists() for p in strays) and (inner.root / folders.RESERVE_NAME).exists()


def test_leftovers_are_never_looked_for_through_a_link(run, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / ".tmp-keep.glb").write_bytes(b"not ours")
    (run.root / "link").symlink_to(outside, target_is_directory=True)
    folders.remove_leftovers(run.root)
    assert (outside / ".tmp-keep.glb").exists()
