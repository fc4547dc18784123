"""A Generate's views counted in the memory check before the job starts (issue 66 item 2): the largest one's
read-and-matted size from its header alone, a larger picture counted at the side it is shrunk to, and a
machine that cannot hold it told so in one sentence before anything is written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from img23d_protocol import ErrorCode, ProtocolError
from PIL import Image

from image_files import read_from_a_fifo
from img23d_backend.models.preflight import GB, Room
from img23d_backend.readers.images import MAX_SIDE
from img23d_backend.views.memory import BYTES_PER_PIXEL, check_views_memory, view_pixels, views_phase


def test_a_views_pixels_come_from_its_header_and_the_side_it_is_read_at(tmp_path: Path) -> None:
    small, huge, text = tmp_path / "back.png", tmp_path / "left.png", tmp_path / "notes.png"
    Image.new("RGB", (300, 200)).save(small)
    Image.new("1", (MAX_SIDE * 2, MAX_SIDE)).save(huge)   # 8192 x 4096, tiny on disk: read shrunk to 4096 wide
    text.write_text("not a picture")
    assert view_pixels(small) == 300 * 200
    assert view_pixels(huge) == MAX_SIDE * (MAX_SIDE // 2)
    assert view_pixels(text) == 0
    phase = views_phase([small, huge, text])
    assert phase is not None and phase.need.host == MAX_SIDE * (MAX_SIDE // 2) * BYTES_PER_PIXEL
    assert views_phase([text]) is None


@pytest.mark.fault("a view that is a named pipe")
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_view_that_is_a_named_pipe_counts_nothing_and_never_blocks(tmp_path: Path) -> None:
    """Opened to read its header, a FIFO held the backend for ever before the job could say it is no file."""
    assert read_from_a_fifo(tmp_path / "back.png", view_pixels) == 0


def test_views_a_machine_cannot_hold_are_one_sentence_before_the_job(tmp_path: Path) -> None:
    view = tmp_path / "back.png"
    Image.new("1", (MAX_SIDE, MAX_SIDE)).save(view)
    views = {"chair": {"back": str(view)}}
    check_views_memory(views, "cpu", Room(host=8 * GB))   # 290 MB: fits
    with pytest.raises(ProtocolError) as raised:
        check_views_memory(views, "cpu", Room(host=int(0.5 * GB)))
    assert raised.value.code is ErrorCode.OUT_OF_MEMORY
    assert "reading the views needs about" in raised.value.message and "give smaller pictures" in raised.value.message
