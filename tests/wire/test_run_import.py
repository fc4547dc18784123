"""The protocol's one way to bring a run home (``img23d_protocol.run_import``): a foreign run's file
list checked (names, sizes, count), then its files written into a fresh folder, atomically, never
outside it, each exactly its listed size. Both roads home (Import Run from Host, a Ray worker's run)
go through it: tests/addon/test_run_home.py plays the same faults on each."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from img23d_protocol import ImportedRun, ProtocolError, RunLimits, check_run_files


def _names_left(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) if root.exists() else []


@pytest.mark.parametrize("path", ["../escape.glb", "a/../../escape.glb", "/etc/passwd", "//server/share.glb",
                                  "a\\..\\b.glb", "C:/windows.glb", "a/./b.glb", "a//b.glb", "", "nul\0byte",
                                  "nul.glb", "views/CON/v.png", ".bashrc", "crops/.git", "a.glb.", "x" * 256])
def test_a_name_that_could_leave_the_run_or_not_be_held_here_is_refused(path: str) -> None:
    with pytest.raises(ProtocolError, match="would leave its run folder or cannot be held here") as refused:
        check_run_files([("manifest.json", 2), (path, 1)])
    assert refused.value.code.value == "bad_request"


@pytest.mark.parametrize("second", ["House.glb", "house.glb"])
def test_a_name_twice_or_one_disk_would_take_for_another_is_refused(second: str) -> None:
    with pytest.raises(ProtocolError, match="twice|only by case"):
        check_run_files([("house.glb", 1), (second, 1)])


@pytest.mark.parametrize("size", [-1, 1.5, "10", None, True, 6])
def test_a_size_that_is_not_a_whole_number_within_the_per_file_limit_is_refused(size: object) -> None:
    with pytest.raises(ProtocolError, match="whole number of bytes up to 5"):
        check_run_files([("house.glb", size)], RunLimits(max_file_bytes=5))


def test_too_many_files_or_too_many_bytes_in_all_are_refused() -> None:
    three = [("a.glb", 4), ("b.glb", 4), ("c.glb", 4)]
    assert check_run_files(three, RunLimits(max_files=3, max_bytes=12)) == {"a.glb": 4, "b.glb": 4, "c.glb": 4}
    with pytest.raises(ProtocolError, match="at most 2 files"):
        check_run_files(three, RunLimits(max_files=2))
    with pytest.raises(ProtocolError, match="at most 11 here"):
        check_run_files(three, RunLimits(max_bytes=11))


@pytest.mark.parametrize("entries", [{"a.glb": 1}, "a.glb", [("a.glb",)], [["a.glb", 1]], [(1, 1)]])
def test_a_list_that_is_not_pairs_of_path_and_size_is_refused(entries: object) -> None:
    with pytest.raises(ProtocolError, match="file list"):
        check_run_files(entries)


def test_a_killed_writes_leftover_or_the_reserve_is_left_out_not_refused() -> None:
    assert check_run_files([("manifest.json", 2), (".tmp-x1.glb", 9), ("views/.tmp-2", 1),
                            (".img23d-reserve", 16)]) == {"manifest.json": 2}
    with pytest.raises(ProtocolError, match="cannot name a file here"):
        check_run_files([("../.tmp-x1.glb", 9)])  # a leftover's folders may not leave the run either


def test_a_refused_list_makes_no_folder(tmp_path: Path) -> None:
    with pytest.raises(ProtocolError):
        ImportedRun(tmp_path / "runs", "20260101-x", [("manifest.json", 2), ("../x", 1)])
    assert not (tmp_path / "runs").exists()


def test_each_import_gets_a_fresh_folder_and_writes_exactly_its_listed_files(tmp_path: Path) -> None:
    (tmp_path / "20260101-x").mkdir()
    (tmp_path / "20260101-x" / "manifest.json").write_text("the run here")
    run = ImportedRun(tmp_path, "20260101-x", [("manifest.json", 2), ("crops/a.png", 3)])
    assert run.root == tmp_path / "20260101-x-2"
    run.write("crops/a.png", b"png")
    run.write("manifest.json", b"{}")
    assert _names_left(run.root) == ["crops", "crops/a.png", "manifest.json"]  # no .tmp-* left
    assert (tmp_path / "20260101-x" / "manifest.json").read_text() == "the run here"
    with pytest.raises(ProtocolError, match="came twice"):
        run.write("manifest.json", b"{}")
    with pytest.raises(ProtocolError, match="not one of the run's listed files"):
        run.write("other.glb", b"x")


def test_a_transfer_whose_size_differs_from_the_listed_one_writes_nothing(tmp_path: Path) -> None:
    run = ImportedRun(tmp_path, "run", [("house.glb", 4)])
    with pytest.raises(ProtocolError, match="announces 5 bytes, the run's listing said 4"):
        run.write("house.glb", b"12345")
    receiver = run.file("house.glb").receiver(4, hashlib.sha256(b"1234").hexdigest())
    with pytest.raises(ProtocolError, match="more bytes than the 4 announced"):
        receiver.write(0, b"12345")  # the listed size holds while the bytes stream too
    assert _names_left(run.root) == []


def test_a_file_whose_bytes_miss_their_checksum_is_never_moved_into_place(tmp_path: Path) -> None:
    run = ImportedRun(tmp_path, "run", [("house.glb", 4)])
    receiver = run.file("house.glb").receiver(4, hashlib.sha256(b"abcd").hexdigest())
    receiver.write(0, b"1234")
    with pytest.raises(ProtocolError, match="sha256"):
        receiver.finish()
    assert _names_left(run.root) == []


@pytest.mark.skipif(os.name == "nt", reason="symbolic links need privileges on Windows")
def test_a_link_inside_the_folder_that_points_out_is_never_written_through(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    run = ImportedRun(tmp_path / "runs", "run", [("views/v.png", 3)])
    (run.root / "views").symlink_to(outside, target_is_directory=True)  # a link slipped in meanwhile
    with pytest.raises(ProtocolError, match="outside its run folder"):
        run.write("views/v.png", b"png")
    assert list(outside.iterdir()) == []


def test_discard_removes_the_folder_it_made_and_nothing_else(tmp_path: Path) -> None:
    run = ImportedRun(tmp_path, "run", [("a.glb", 1)])
    run.write("a.glb", b"a")
    run.discard()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("entries", [[("a", 1), ("a/b.glb", 1)], [("views/v.png", 1), ("Views", 1)]])
def test_a_name_both_a_file_and_a_folder_is_refused_before_the_folder_is_made(tmp_path: Path, entries) -> None:
    with pytest.raises(ProtocolError, match="both as a file and as a folder"):
        ImportedRun(tmp_path, "run", entries)
    assert list(tmp_path.iterdir()) == []


def test_a_run_of_twenty_thousand_files_in_shared_folders_passes() -> None:
    entries = [(f"views/{i // 100}/v{i}.png", 1) for i in range(20_000)]
    assert len(check_run_files(entries, RunLimits(max_files=20_000))) == 20_000
