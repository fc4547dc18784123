"""Every file that comes from elsewhere and is read whole is read one way (``img23d_protocol.bounded_read``): a
batch's list, a picture sent to another machine, a run's manifest and ``relayout.json``. A pipe, a device or a
folder in its place is refused before it is read, without waiting for a writer; past its bound it is refused with no
more than the bound and a byte read; each caller says so in its own sentence and code."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from image_files import read_from_a_fifo

from img23d_backend.batch.list_file import read_list_bytes
from img23d_backend.readers.images import read_picture_file
from img23d_protocol import MANIFEST_NAME, ErrorCode, ProtocolError, read_manifest
from img23d_protocol.bounded_read import FileTooLarge, NotAFile, read_bounded

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")


def _said(read, path: Path) -> tuple[ErrorCode, str]:
    with pytest.raises(ProtocolError) as caught:
        read(path)
    return caught.value.code, caught.value.message


def test_the_one_read_says_what_was_wrong(tmp_path: Path) -> None:
    file = tmp_path / "eleven.txt"
    file.write_bytes(b"x" * 11)
    assert read_bounded(file, 11).data == b"x" * 11
    with pytest.raises(FileTooLarge) as over:
        read_bounded(file, 10)
    assert (over.value.size, over.value.most) == (11, 10)
    with pytest.raises(NotAFile) as folder:
        read_bounded(tmp_path, 10)
    assert folder.value.kind == "a folder"
    if Path("/dev/zero").exists():  # read until MemoryError, once
        with pytest.raises(NotAFile) as device:
            read_bounded(Path("/dev/zero"), 10)
        assert device.value.kind == "a device"
    with pytest.raises(FileNotFoundError):
        read_bounded(tmp_path / "gone.txt", 10)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="no /proc here")
def test_a_file_whose_size_the_system_does_not_report_stops_at_its_bound() -> None:
    status = Path("/proc/self/status")  # size 0 in stat, a kilobyte or more to read
    assert status.stat().st_size == 0
    with pytest.raises(FileTooLarge) as over:
        read_bounded(status, 16)
    assert over.value.size is None


@needs_fifo
def test_a_pipe_in_a_manifests_place_is_one_sentence_and_does_not_wait(tmp_path: Path) -> None:
    """Its reader opened it blocking: a named pipe put where a run's manifest was held Re-layout, Import Run and the
    run list until something wrote to it."""
    run = tmp_path / "run"
    run.mkdir()
    code, message = read_from_a_fifo(run / MANIFEST_NAME, lambda path: _said(read_manifest, run))
    assert code is ErrorCode.BAD_REQUEST
    assert message == f"{run} is not a run folder img23d can read: its {MANIFEST_NAME} is a named pipe, not a file"


@needs_fifo
def test_each_caller_says_a_pipe_in_its_own_words(tmp_path: Path) -> None:
    listed = read_from_a_fifo(tmp_path / "list.csv", lambda path: _said(read_list_bytes, path))
    assert listed == (ErrorCode.BAD_REQUEST, f"the list {tmp_path / 'list.csv'} is a named pipe, not a file: give a "
                                             ".jsonl or .csv file")
    picture = read_from_a_fifo(tmp_path / "house.png", lambda path: _said(read_picture_file, path))
    assert picture == (ErrorCode.IMAGE_UNREADABLE, f"{tmp_path / 'house.png'} is not a file")


def test_each_caller_says_a_file_past_its_bound_in_its_own_words(tmp_path: Path) -> None:
    picture = tmp_path / "house.png"
    picture.write_bytes(b"x" * 2048)
    assert _said(lambda path: read_picture_file(path, limit=1024), picture) == \
        (ErrorCode.IMAGE_UNREADABLE, "house.png is 2,048 bytes; a picture file may be at most 1,024 bytes")
    assert _said(lambda path: read_picture_file(path, limit=16), Path("/proc/self/status"))[1] == \
        "status is 17 bytes; a picture file may be at most 16 bytes"   # what was read: the bound and a byte
