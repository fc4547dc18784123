"""A picture file read whole, for a worker on another machine (a Ray batch's driver sends it), says
what ``load_image`` says of the same file on this machine: gone, not a file, or over the one size
limit a picture file has on every road; and it hashes the very bytes it read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from image_files import read_from_a_fifo, unreadable

from img23d_backend.readers import images
from img23d_backend.readers.images import load_image, read_picture_file
from img23d_protocol import ErrorCode, ProtocolError
from testdata import HOUSE



def _refused(path: Path) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        read_picture_file(path)
    assert caught.value.code is ErrorCode.IMAGE_UNREADABLE
    return caught.value


def test_the_bytes_and_hash_are_those_a_job_reads(tmp_path: Path) -> None:
    picture = read_picture_file(HOUSE)
    assert picture.data == HOUSE.read_bytes()
    assert picture.sha256 == load_image(HOUSE).sha256


@pytest.mark.parametrize("make", ["missing", "folder"])
def test_a_missing_picture_or_a_folder_gets_load_images_sentence(tmp_path: Path, make: str) -> None:
    path = tmp_path / "house.png"
    if make == "folder":
        path.mkdir()
    assert _refused(path).message == unreadable(path).message


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_where_the_picture_was_is_not_a_file_and_does_not_wait(tmp_path: Path) -> None:
    path = tmp_path / "house.png"
    assert read_from_a_fifo(path, _refused).message == f"{path} is not a file"


def test_a_picture_file_over_the_limit_is_refused_the_same_on_both_roads(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    size = HOUSE.stat().st_size
    monkeypatch.setattr(images, "MAX_PICTURE_FILE_BYTES", size - 1)
    sent = _refused(HOUSE).message
    assert sent == unreadable(HOUSE).message   # the local road's load_image: the same limit, the same words
    assert sent == f"{HOUSE.name} is {size:,} bytes; a picture file may be at most {size - 1:,} bytes"
    monkeypatch.setattr(images, "MAX_PICTURE_FILE_BYTES", size)
    assert read_picture_file(HOUSE).data == HOUSE.read_bytes() and load_image(HOUSE).sha256
