"""Tests for runs.py: file names from user text, run folders, atomic writes and disk errors."""

from __future__ import annotations

import errno
import json
import os
import stat
import sys
import unicodedata
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import pytest
from img23d_protocol import ErrorCode, JobOptions, ProtocolError
from PIL import Image

from img23d_backend import runs
from img23d_backend.runs import Manifest, RunFolder, TargetRecord, disk_error, safe_stem
from testdata import SOURCE_PYTHONPATH

WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)),
                    *(f"lpt{i}" for i in range(1, 10))}
NOT_PORTABLE = set('<>:"/\\|?*')

AWKWARD_NAMES = [
    "red barrel", "../../etc/passwd", "a/b\\c", "..", ".", "", "   ", "CON", "nul", "Com1", "lpt9",
    "x" * 5000, "ünïcødé 家", "a/b", "a_b", "a b", "a\\b", "a:b", "a__b", ".hidden", "-rf", "___",
    "door\x00knob", "tab\there", "名前/で/す", "\u202eevil", "Ａ", "A", "ﬁsh", "fish", "CON_", "target",
    "x" * 5000 + "y", "café", "cafe\u0301", "trailing.", "emoji 🛢️ barrel", "a" * 60, "a" * 61,
]


def frozen_clock(monkeypatch, when=datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)):
    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return when

    monkeypatch.setattr(runs, "datetime", Frozen)


def manifest(**overrides) -> Manifest:
    values = dict(job_id="job-1", kind="generate", backend_version="0.1.0")
    values.update(overrides)
    return Manifest(**values)


def tmp_leftovers(root: Path) -> list[Path]:
    return sorted(root.rglob(".tmp-*"))


@pytest.fixture
def run(tmp_path) -> RunFolder:
    return RunFolder.create(tmp_path / "runs", "house_scene.png", manifest())


# --- safe_stem --------------------------------------------------------------------------------

def test_readable_names_stay_readable():
    assert safe_stem("barrel") == "barrel"
    assert safe_stem("red barrel").startswith("red_barrel")
    assert safe_stem("ünïcødé 家").startswith("ünïcødé_家")


@pytest.mark.parametrize("name", AWKWARD_NAMES, ids=lambda n: repr(n)[:24])
def test_every_stem_is_a_safe_file_name(name):
    stem = safe_stem(name)
    assert stem
    assert "/" not in stem and "\\" not in stem and os.sep not in stem
    assert not stem.startswith(".") and not stem.startswith("-")
    assert not stem.endswith(".") and not stem.endswith(" ")
    assert not (NOT_PORTABLE & set(stem))
    assert all(ch.isprintable() for ch in stem)
    assert stem.casefold() not in WINDOWS_RESERVED
    assert stem not in (".", "..")
    assert len(stem) <= 70
    # Usable as a real file name here.
    assert Path(stem).name == stem


@pytest.mark.parametrize("name", ["..", "", "   ", "___"])
def test_names_with_nothing_usable_still_get_a_stem(name):
    assert safe_stem(name).startswith("target")


@pytest.mark.parametrize("name", ["CON", "nul", "Com1", "LPT9", "aux"])
def test_windows_device_names_are_changed(name):
    assert safe_stem(name).casefold() != name.casefold()
    assert safe_stem(name).casefold().startswith(name.casefold())


def test_long_name_is_shortened_with_a_hash():
    stem = safe_stem("x" * 5000)
    assert 60 <= len(stem) <= 70
    assert safe_stem("x" * 5000) == stem                    # deterministic across runs
    assert safe_stem("x" * 4999 + "y") != stem


def test_different_names_in_one_run_never_share_a_stem(tmp_path):
    # "Different" as the protocol counts names: validate_targets trims and NFC-normalises.
    names = list({unicodedata.normalize("NFC", n).strip(): n for n in reversed(AWKWARD_NAMES)}.values())
    assert "Ａ" in names and "A" in names and "ﬁsh" in names and "fish" in names
    names += ["red barrel", "red_barrel", "a b", "a_b"]
    run = RunFolder.create(tmp_path, "scene.png", manifest())
    stems = [run.unique_stem(name, 1) for name in names]
    assert len({s.casefold() for s in stems}) == len(names)


@pytest.mark.parametrize("a, b", [("a/b", "a_b"), ("a:b", "a_b"), ("Ａ", "A"), ("..x", "x"), ("CON", "CON_")])
def test_names_differing_by_a_replaced_character_get_different_stems(a, b):
    assert safe_stem(a) != safe_stem(b)


@pytest.mark.parametrize("name, stem", [("red barrel", "red_barrel"), ("ünïcødé 家", "ünïcødé_家"),
                                        ("big  old\ttree", "big_old_tree")])
def test_names_that_only_lose_spaces_stay_readable(name, stem):
    assert safe_stem(name) == stem


# --- RunFolder.create ----------------------------------------------------------------------------

def test_create_writes_a_manifest_in_a_folder_named_after_the_image(tmp_path, monkeypatch):
    frozen_clock(monkeypatch)
    run = RunFolder.create(tmp_path / "deep" / "runs", "red barrel.png", manifest())
    assert run.root.parent == tmp_path / "deep" / "runs"
    assert run.root.name.startswith("20240506-070809-")
    assert "red_barrel" in run.root.name
    assert (run.root / "manifest.json").is_file()


def test_create_twice_in_the_same_second_never_reuses_a_folder(tmp_path, monkeypatch):
    frozen_clock(monkeypatch)
    first = RunFolder.create(tmp_path, "house.png", manifest(job_id="a"))
    second = RunFolder.create(tmp_path, "house.png", manifest(job_id="b"))
    third = RunFolder.create(tmp_path, "house.jpg", manifest(job_id="c"))
    roots = {first.root, second.root, third.root}
    assert len(roots) == 3
    for run, job in ((first, "a"), (second, "b"), (third, "c")):
        assert json.loads((run.root / "manifest.json").read_text())["job_id"] == job
        assert "house" in run.root.name


def test_create_does_not_reuse_an_existing_folder(tmp_path, monkeypatch):
    frozen_clock(monkeypatch)
    first = RunFolder.create(tmp_path, "house.png", manifest())
    (first.root / "barrel.glb").write_bytes(b"glTF")
    (tmp_path / f"{first.root.name}-2").mkdir()       # also taken, by someone else
    second = RunFolder.create(tmp_path, "house.png", manifest())
    assert second.root.name == f"{first.root.name}-3"
    # A running job's folder: its manifest, and the room reserved to close it on a full disk.
    assert sorted(p.name for p in second.root.iterdir()) == [runs.RESERVE_NAME, "manifest.json"]


@pytest.mark.parametrize("image_name", ["../../escape.png", "/etc/passwd", "a/b/c.png", ".png", "..", ""])
def test_run_folder_stays_in_the_runs_dir(tmp_path, image_name):
    runs_dir = tmp_path / "runs"
    run = RunFolder.create(runs_dir, image_name, manifest())
    assert run.root.parent == runs_dir
    assert not run.root.name.startswith(".")


def test_long_image_name_gives_a_bounded_folder_name(tmp_path):
    run = RunFolder.create(tmp_path, "p" * 5000 + ".png", manifest())
    assert len(run.root.name) < 80


# --- unique_stem and path --------------------------------------------------------------------------

def test_unique_stem_deduplicates(run):
    stems = [run.unique_stem("door", 1), run.unique_stem("door", 1), run.unique_stem("door", 2),
             run.unique_stem("door-2", 1), run.unique_stem("Door", 1), run.unique_stem("door", 1)]
    assert stems[0] == "door" and stems[2] == "door-2"
    assert len({s.casefold() for s in stems}) == len(stems)   # distinct on case-blind disks too


def test_unique_stem_of_names_that_collapse_to_one_stem(run):
    stems = [run.unique_stem(name, 1) for name in ("Ａ", "A", "a")]
    assert len({s.casefold() for s in stems}) == 3


@pytest.mark.parametrize("relative", ["../x", "../../etc/passwd", "sub/../../x", "/etc/passwd", "..", "./../x"])
def test_path_refuses_to_leave_the_run(run, relative):
    with pytest.raises(ProtocolError) as excinfo:
        run.path(relative)
    assert excinfo.value.code == ErrorCode.BAD_REQUEST
    assert "leave the run folder" in excinfo.value.message


def test_path_refuses_a_symlink_out_of_the_run(run, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (run.root / "link").symlink_to(outside)
    with pytest.raises(ProtocolError):
        run.path("link/secret.txt")


@pytest.mark.parametrize("relative", ["a.glb", "crops/a.png", "x/../y.json", "."])
def test_path_inside_the_run_is_fine(run, relative):
    path = run.path(relative)
    assert path == run.root.resolve() or run.root.resolve() in path.parents


def test_writing_outside_the_run_is_refused_and_writes_nothing(run, tmp_path):
    with pytest.raises(ProtocolError):
        run.write_json("../escaped.json", {"a": 1})
    assert not (run.root.parent / "escaped.json").exists()


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

    monkeypatch.setattr(runs.os, "replace", no_space)
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


# --- manifest ------------------------------------------------------------------------------------

def test_manifest_round_trips_through_the_file(run):
    m = run.manifest
    m.image = {"path": "/pics/house.png", "size": [1024, 768], "scale": 0.5, "has_alpha": True}
    m.targets = ["door", "家"]
    m.options = asdict(JobOptions(steps=3, keep="all"))
    m.device = "cpu"
    m.models = {"shape": {"id": "tiny", "revision": "abc"}}
    m.timings = {"detect": 1.25, "shape": 10.0}
    m.memory_peaks = {"shape": 123456789}
    m.model_counters = {"loads": 2}
    m.records = [
        TargetRecord(target="door", stem="door", status="done", box=[1.0, 2.0, 30.5, 40.0], score=0.9, seed=1,
                     crop="crops/door.png", matte="mattes/door.png", mesh="door.glb", faces=2000, vertices=1002),
        TargetRecord(target="家", instance=2, stem="家-2", status="failed",
                     error={"code": "shape_failed", "message": "no surface"}),
    ]
    m.errors = [{"code": "target_not_found", "message": "no chimney", "target": "chimney"}]
    path = run.save_manifest()
    assert path == run.path("manifest.json")
    loaded = Manifest.from_dict(json.loads(path.read_text(encoding="utf-8")))
    assert loaded == m
    assert isinstance(loaded.records[0], TargetRecord)
    assert tmp_leftovers(run.root) == []


def test_finish_records_status_and_time(run):
    run.finish("cancelled")
    on_disk = Manifest.from_dict(json.loads((run.root / "manifest.json").read_text()))
    assert on_disk.status == "cancelled"
    assert on_disk.finished is not None
    assert datetime.fromisoformat(on_disk.finished) >= datetime.fromisoformat(on_disk.created)


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
            RunFolder.create(locked / "runs", "house.png", manifest())
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

    monkeypatch.setattr(runs.os, "replace", no_space)
    with pytest.raises(ProtocolError) as excinfo:
        RunFolder.create(tmp_path / "runs", "house.png", manifest())
    assert excinfo.value.code == ErrorCode.DISK
    assert "disk is full" in excinfo.value.message
    assert tmp_leftovers(tmp_path) == []


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
    assert not (run.root / runs.RESERVE_NAME).exists() and tmp_leftovers(run.root) == []


def test_a_normal_finish_removes_the_reserve(run):
    assert (run.root / runs.RESERVE_NAME).stat().st_size >= runs.RESERVE_MIN_BYTES
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
        RunFolder.create(tmp_path / "runs", "house.png", manifest())
    assert excinfo.value.code == ErrorCode.DISK and "the disk is full" in excinfo.value.message
    [folder] = list((tmp_path / "runs").iterdir())
    on_disk = json.loads((folder / "manifest.json").read_text())
    assert on_disk["status"] == "failed" and "the disk is full" in on_disk["errors"][0]["message"]
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json"]


def test_without_room_for_the_reserve_no_run_folder_is_left(tmp_path, monkeypatch):
    def no_space(handle, size):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(runs, "_allocate", no_space)
    with pytest.raises(ProtocolError, match="the disk is full"):
        RunFolder.create(tmp_path / "runs", "house.png", manifest())
    assert list((tmp_path / "runs").iterdir()) == []


_FILL_AND_FINISH = r"""
import errno, json, os, subprocess, sys
sys.path[0:0] = sys.argv[2].split(os.pathsep)
from img23d_backend.runs import Manifest, RunFolder, TargetRecord
disk = sys.argv[1]
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "none", disk], check=True)
run = RunFolder.create(__import__("pathlib").Path(disk) / "runs", "house.png",
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
    import shutil
    import subprocess

    unshare = shutil.which("unshare")
    probe = subprocess.run([unshare, "--user", "--map-root-user", "--mount", "true"], capture_output=True) \
        if unshare else None
    if probe is None or probe.returncode != 0:
        pytest.skip("no unprivileged mount namespace here to make a tiny real disk in")
    disk = tmp_path / "disk"
    disk.mkdir()
    proc = subprocess.run([unshare, "--user", "--map-root-user", "--mount", sys.executable, "-c", _FILL_AND_FINISH,
                           str(disk), SOURCE_PYTHONPATH], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0 and "mount" in proc.stderr and "Traceback" in proc.stderr and "tmpfs" in proc.stderr:
        pytest.skip(f"tmpfs cannot be mounted here: {proc.stderr[-300:]}")
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
    assert runs.recover_interrupted(run.root.parent) == [run.root]
    assert not any(p.exists() for p in strays)
    assert sorted(p.name for p in run.root.iterdir()) == ["crops", "manifest.json"]
    assert json.loads((run.root / "manifest.json").read_text())["status"] == "interrupted"


def test_the_recovery_pass_cleans_closed_runs_too(run):
    strays = _stray_files(run)  # e.g. a write cut short after the server closed the manifest at exit
    run.finish("cancelled")
    assert runs.recover_interrupted(run.root.parent) == []
    assert not any(p.exists() for p in strays)


def test_the_recovery_pass_leaves_a_live_jobs_files_alone(run):
    strays = _stray_files(run)  # the manifest's pid is this very process: a job in progress
    assert runs.recover_interrupted(run.root.parent) == []
    assert all(p.exists() for p in strays) and (run.root / runs.RESERVE_NAME).exists()
    assert json.loads((run.root / "manifest.json").read_text())["status"] == "running"


def test_leftovers_are_never_looked_for_through_a_link(run, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / ".tmp-keep.glb").write_bytes(b"not ours")
    (run.root / "link").symlink_to(outside, target_is_directory=True)
    runs.remove_leftovers(run.root)
    assert (outside / ".tmp-keep.glb").exists()
