"""Tests for runs/folders.py's writes: atomic writes, and the disk errors of a write or of a new run folder."""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from img23d_protocol import ErrorCode, ProtocolError
from PIL import Image

from img23d_backend.runs import disk_errors, folders
from img23d_backend.runs.folders import RunFolder, disk_error
from run_files import manifest, run_on_a_tiny_disk, tmp_leftovers
from testdata import SOURCE_PYTHONPATH


@pytest.fixture
def run(tmp_path) -> RunFolder:
    return RunFolder.create(tmp_path / "runs", "house_scene", manifest())


# --- atomic writes ----------------------------------------------------------------------------------

def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _assert_ordinary_file(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode == 0o666 & ~_current_umask()
    if _current_umask() == 0o022:
        assert mode == 0o644          # not mkstemp's owner-only 0600


def test_a_private_inputs_run_writes_every_file_and_folder_as_privately(run):
    """The folder was narrowed to 700 for a picture of mode 600, but its crops and cut-outs were 644 in 755 folders:
    copied out with cp -a or rsync -a into a shared place, they were open to all."""
    run.keep_private(0o600)
    crop = run.write_image("crops/door.png", Image.new("RGB", (4, 4)))
    deep = run.write_json("views_in/door/notes.json", {})
    assert stat.S_IMODE(crop.stat().st_mode) & 0o077 == 0 and stat.S_IMODE(deep.stat().st_mode) & 0o077 == 0
    for folder in (run.root / "crops", run.root / "views_in", run.root / "views_in" / "door"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_write_json_is_complete_and_leaves_no_temp_files(run):
    data = {"name": "家 barrel", "boxes": [[1.5, 2, 3, 4]], "ok": True}
    path = run.write_json("detections.json", data)
    assert path == run.path("detections.json")
    assert json.loads(path.read_text(encoding="utf-8")) == data
    assert tmp_leftovers(run.root) == []
    _assert_ordinary_file(path)


def test_write_image_into_a_new_subfolder(run):
    image = Image.new("RGBA", (20, 10), (1, 2, 3, 4))
    path = run.write_image("crops/door.png", image)
    assert path.parent.name == "crops"
    with Image.open(path) as saved:
        assert saved.format == "PNG" and saved.mode == "RGBA" and saved.getpixel((0, 0)) == (1, 2, 3, 4)
    assert tmp_leftovers(run.root) == []
    _assert_ordinary_file(path)


def test_write_bytes_with_replaces_an_old_file(run):
    run.write_bytes_with("mesh.glb", lambda p: p.write_bytes(b"old"))
    path = run.write_bytes_with("mesh.glb", lambda p: p.write_bytes(b"new"))
    assert path.read_bytes() == b"new"
    assert tmp_leftovers(run.root) == []
    _assert_ordinary_file(path)


def test_writer_that_raises_leaves_no_partial_file(run):
    def half_then_crash(tmp: Path) -> None:
        tmp.write_bytes(b"half a mesh")
        raise RuntimeError("exporter crashed")

    with pytest.raises(RuntimeError, match="exporter crashed"):
        run.write_bytes_with("barrel.glb", half_then_crash)
    assert not (run.root / "barrel.glb").exists()
    assert tmp_leftovers(run.root) == []


def test_writer_that_raises_keeps_the_previous_version(run):
    run.write_bytes_with("barrel.glb", lambda p: p.write_bytes(b"good mesh"))

    def crash(tmp: Path) -> None:
        tmp.write_bytes(b"garbage")
        raise ValueError("bad mesh")

    with pytest.raises(ValueError):
        run.write_bytes_with("barrel.glb", crash)
    assert (run.root / "barrel.glb").read_bytes() == b"good mesh"
    assert tmp_leftovers(run.root) == []


def test_disk_full_during_a_write_is_a_disk_error(run):
    def fill_the_disk(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            f.write(b"x" * 1000)
        raise OSError(errno.ENOSPC, "No space left on device")

    run.write_bytes_with("barrel.glb", lambda p: p.write_bytes(b"previous"))
    with pytest.raises(ProtocolError) as excinfo:
        run.write_bytes_with("barrel.glb", fill_the_disk)
    assert excinfo.value.code == ErrorCode.DISK
    assert "the disk is full" in excinfo.value.message
    assert "barrel.glb" in excinfo.value.message
    assert tmp_leftovers(run.root) == []
    assert (run.root / "barrel.glb").read_bytes() == b"previous"


def test_disk_full_on_the_final_rename_leaves_no_temp_file(run, monkeypatch):
    def no_space(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(folders.os, "replace", no_space)
    with pytest.raises(ProtocolError) as excinfo:
        run.write_json("detections.json", {"a": 1})
    assert excinfo.value.code == ErrorCode.DISK and "the disk is full" in excinfo.value.message
    assert tmp_leftovers(run.root) == []
    assert not (run.root / "detections.json").exists()


@pytest.mark.parametrize("err, words", [
    (errno.ENOSPC, "the disk is full"), (errno.EACCES, "permission denied"),
    (errno.EROFS, "the disk is read-only"), (errno.EDQUOT, "the disk quota is used up"),
    (errno.EIO, "Input/output error"),
])
def test_disk_error_says_why(err, words):
    error = disk_error(OSError(err, os.strerror(err)), "cannot write x")
    assert error.code == ErrorCode.DISK
    assert error.message == f"cannot write x: {words}"


# --- run folders where nothing can be written ------------------------------------------------------

def test_run_folder_in_a_read_only_directory(tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if os.access(locked, os.W_OK):   # root ignores permissions: make mkdir fail as it would
            def denied(self, *args, **kwargs):
                raise PermissionError(errno.EACCES, "Permission denied", str(self))

            monkeypatch.setattr(Path, "mkdir", denied)
        with pytest.raises(ProtocolError) as excinfo:
            RunFolder.create(locked / "runs", "house", manifest())
    finally:
        monkeypatch.undo()
        locked.chmod(0o755)
    assert excinfo.value.code == ErrorCode.DISK
    assert "permission denied" in excinfo.value.message
    assert str(locked / "runs") in excinfo.value.message
    assert list(locked.iterdir()) == []


def test_run_folder_on_a_full_disk(tmp_path, monkeypatch):
    def no_space(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(folders.os, "replace", no_space)
    with pytest.raises(ProtocolError) as excinfo:
        RunFolder.create(tmp_path / "runs", "house", manifest())
    assert excinfo.value.code == ErrorCode.DISK
    assert "disk is full" in excinfo.value.message
    assert tmp_leftovers(tmp_path) == []


# --- a write that stops short without an errno (numpy's np.save on a full disk) ----------------------

def _short_write(tmp: Path) -> None:
    tmp.write_bytes(b"x" * 1000)
    raise OSError("1000000 requested and 1000 written")   # what np.save raises: no errno


def test_a_short_write_on_a_full_disk_says_the_disk_is_full(run, monkeypatch):
    monkeypatch.setattr(disk_errors.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10 ** 9, 10 ** 9, 0))
    with pytest.raises(ProtocolError) as excinfo:
        run.write_bytes_with("depth.npy", _short_write)
    assert excinfo.value.code == ErrorCode.DISK
    assert excinfo.value.message.endswith("depth.npy: the disk is full")
    assert tmp_leftovers(run.root) == []


def test_a_short_write_with_room_left_keeps_its_own_words(run):
    with pytest.raises(ProtocolError) as excinfo:
        run.write_bytes_with("depth.npy", _short_write)
    assert excinfo.value.code == ErrorCode.DISK
    assert "the disk is full" not in excinfo.value.message
    assert "1000000 requested and 1000 written" in excinfo.value.detail


_SAVE_ON_A_FULL_DISK = r"""
import json
import numpy as np
from img23d_protocol import ProtocolError
from img23d_backend.runs.folders import Manifest, RunFolder
run = RunFolder.create(__import__("pathlib").Path(disk) / "runs", "house",
                       Manifest(job_id="j", kind="generate", backend_version="t"))
depth = np.zeros((1000, 1000), np.float32)    # 4 MB: more than the disk holds
try:
    run.write_bytes_with("depth.npy", lambda p: np.save(p, depth, allow_pickle=False))
    print(json.dumps({"written": True}))
except ProtocolError as exc:
    print(json.dumps({"code": exc.code.value, "message": exc.message, "files": sorted(os.listdir(run.root))}))
"""


def test_np_save_on_a_real_full_disk_says_the_disk_is_full(tmp_path):
    proc = run_on_a_tiny_disk(tmp_path, _SAVE_ON_A_FULL_DISK, megabytes=2)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result.get("code") == "disk", result
    assert result["message"].endswith("depth.npy: the disk is full"), result
    assert ".tmp" not in " ".join(result["files"]), result


_SAVE_OVER_THE_SIZE_LIMIT = r"""
import json, os, resource, sys
sys.path[0:0] = sys.argv[2].split(os.pathsep)
import numpy as np
from img23d_protocol import ProtocolError
from img23d_backend.runs.folders import Manifest, RunFolder
resource.setrlimit(resource.RLIMIT_FSIZE, (2_000_000, resource.RLIM_INFINITY))  # as 'ulimit -f' would
run = RunFolder.create(__import__("pathlib").Path(sys.argv[1]) / "runs", "house",
                       Manifest(job_id="j", kind="generate", backend_version="t"))
try:
    run.write_bytes_with("depth.npy", lambda p: np.save(p, np.zeros((1000, 1000), np.float32), allow_pickle=False))
    print(json.dumps({"written": True}))
except ProtocolError as exc:
    print(json.dumps({"code": exc.code.value, "message": exc.message, "files": sorted(os.listdir(run.root))}))
"""


def test_a_write_over_the_file_size_limit_names_the_limit_not_oserror(tmp_path):
    # Issue 58 item 9: under 'ulimit -f' np.save stopped at the limit and the sentence said "OSError".
    # A reserve is preallocated first (a few hundred kB), so the limit leaves room for the folder itself.
    proc = subprocess.run([sys.executable, "-c", _SAVE_OVER_THE_SIZE_LIMIT, str(tmp_path), SOURCE_PYTHONPATH],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result.get("code") == "disk", result
    assert result["message"].endswith("its file size limit (ulimit -f) is 2,000,000 bytes"), result
    assert ".tmp" not in " ".join(result["files"]), result


def test_a_shared_umasks_run_keeps_group_write_in_its_new_folders(tmp_path):
    """A team's runs folder (umask 002): the run was 775 and its files 664, but crops/ came out 755."""
    mask = os.umask(0o002)
    try:
        run = RunFolder.create(tmp_path / "runs", "house_scene", manifest())
        run.write_image("crops/door.png", Image.new("RGB", (4, 4)))
    finally:
        os.umask(mask)
    assert stat.S_IMODE((run.root / "crops").stat().st_mode) == 0o775
