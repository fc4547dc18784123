"""A batch list cannot reach past its folder, and no copy of a file is readable by more people than
the file (issue 66 item 2): a list's view ``../secret/id_rsa`` once copied a mode-600 key into the
run folder as a world-readable ``back.given.img``."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from testdata import FAST_OPTIONS, HOUSE
from img23d_backend.batch.dispatch import apply_result
from img23d_backend.batch.inputs import read_inputs
from img23d_backend.batch.record import Entry
from img23d_backend.batch.settings import BatchSettings
from img23d_backend.batch.items import WorkerSettings, WorkItem, WorkResult
from img23d_backend.batch.work import Worker
from img23d_backend.session import Models
from img23d_protocol import JobOptions, ProtocolError

SECRET = b"-----BEGIN OPENSSH PRIVATE KEY-----\nnot a real key\n"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def lists(tmp_path: Path) -> Path:
    """``tmp_path/secret/id_rsa`` (mode 600) beside ``tmp_path/batch/`` (the list's folder, with the house)."""
    (tmp_path / "secret").mkdir()
    key = tmp_path / "secret" / "id_rsa"
    key.write_bytes(SECRET)
    key.chmod(0o600)
    (tmp_path / "batch").mkdir()
    (tmp_path / "batch" / "house.png").write_bytes(HOUSE.read_bytes())
    return tmp_path / "batch"


@pytest.mark.parametrize("name, text, sentence", [
    ("list.jsonl", json.dumps({"image": "house.png", "names": ["chimney"],
                               "views": {"chimney": {"back": "../secret/id_rsa"}}}) + "\n",
     "list.jsonl line 1: the back view of 'chimney' '../secret/id_rsa' leads out of the list's folder"),
    ("list.csv", "image,names,view:chimney:back\nhouse.png,chimney,../secret/id_rsa\n",
     "list.csv line 2: the back view of 'chimney' '../secret/id_rsa' leads out of the list's folder"),
    ("list.csv", "views/../../secret/id_rsa,chimney\n",
     "list.csv line 1: the picture 'views/../../secret/id_rsa' leads out of the list's folder"),
])
def test_a_relative_path_that_climbs_out_of_the_lists_folder_is_one_sentence(lists: Path, name: str, text: str,
                                                                           sentence: str) -> None:
    (lists / name).write_text(text)
    with pytest.raises(ProtocolError, match=sentence.replace("(", r"\(")) as raised:
        read_inputs([str(lists / name)])
    assert "\n" not in raised.value.message and "give an absolute path" in raised.value.message


def test_a_link_in_the_lists_folder_to_a_file_outside_is_refused_too(lists: Path) -> None:
    (lists / "back.png").symlink_to(lists.parent / "secret" / "id_rsa")
    (lists / "list.csv").write_text("image,names,view:chimney:back\nhouse.png,chimney,back.png\n")
    with pytest.raises(ProtocolError, match=r"list.csv line 2: the back view of 'chimney' 'back.png' leads out"):
        read_inputs([str(lists / "list.csv")])


def test_paths_inside_the_folder_and_absolute_paths_still_serve(lists: Path) -> None:
    (lists / "views").mkdir()
    (lists / "views" / "back.png").write_bytes(HOUSE.read_bytes())
    elsewhere = lists.parent / "elsewhere.png"
    elsewhere.write_bytes(HOUSE.read_bytes())
    (lists / "list.jsonl").write_text(json.dumps({"image": "./views/../house.png", "names": ["chimney"],
                                                  "views": {"chimney": {"back": "views/back.png"}}}) + "\n"
                                      + json.dumps({"image": str(elsewhere), "names": ["chimney"]}) + "\n")
    inside, absolute = read_inputs([str(lists / "list.jsonl")])
    assert inside.image == (lists / "house.png").resolve()
    assert inside.views == {"chimney": {"back": str((lists / "views" / "back.png").resolve())}}
    assert absolute.image == elsewhere.resolve()  # the artist named it whole: their choice


def _private_view(lists: Path) -> Path:
    back = Image.new("RGBA", (300, 400), (0, 0, 0, 0))
    ImageDraw.Draw(back).rectangle((100, 100, 199, 349), fill=(40, 90, 160, 255))
    path = lists / "chimney_back.png"
    back.save(path)
    path.chmod(0o600)
    return path


def test_a_private_view_stays_private_in_the_run(lists: Path, tiny_root: Path, monkeypatch) -> None:
    """A batch on this machine (no Ray): the view's copy, its cut-out and the run folder itself are the
    owner's alone, as the view is; the picture's own copy keeps its ordinary mode within that folder."""
    monkeypatch.setenv("IMG23D_TINY_MODELS", str(tiny_root))
    view = _private_view(lists)
    out = lists / "out"
    worker = Worker(WorkerSettings(Models(models="tiny", device="cpu"), out=out))
    try:
        result = worker.run(WorkItem(index=0, image=str(lists / "house.png"), names=["chimney"],
                                     options=JobOptions(**FAST_OPTIONS), views={"chimney": {"back": str(view)}}))
    finally:
        worker.close()
    assert result.status == "done", result.error
    run = Path(result.run_dir)
    given = run / "views_in" / "chimney" / "back.given.png"
    assert given.read_bytes() == view.read_bytes()
    assert _mode(given) & 0o077 == 0 and _mode(run / "views_in" / "chimney" / "back.png") & 0o077 == 0
    assert _mode(run) & 0o077 == 0  # before: 0o755, every crop and texture open to every user
    assert _mode(run / "input.png") == 0o644 & ~_umask()  # the picture is not private: its copy is as before


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_a_run_from_a_ray_worker_keeps_the_readers_of_its_sources(lists: Path) -> None:
    """The files a worker on another machine sends back are written here narrowed to the readers of the
    picture and views as this machine reads them (never as the worker says)."""
    view = _private_view(lists)
    entry = Entry(image=str(lists / "house.png"), sha256="", names=["chimney"], key="k",
                  views={"chimney": {"back": str(view)}})
    files = {"manifest.json": b"{}", "views_in/chimney/back.given.png": view.read_bytes(), "input.png": b"png"}
    result = WorkResult(index=0, status="done", seconds=1.0, run_name="20261126-house", files=files)
    settings = BatchSettings(inputs=[], out=lists / "out")
    apply_result(entry, result, settings)
    run = settings.out / entry.run_dir
    assert _mode(run) & 0o077 == 0
    assert all(_mode(run / name) & 0o077 == 0 for name in files)
    (lists / "chimney_back.png").chmod(0o644)  # every source readable: the run is the user's ordinary folder
    apply_result(entry, WorkResult(index=0, status="done", seconds=1.0, run_name="20261126-house", files=files),
                 settings)
    assert _mode(settings.out / entry.run_dir) & 0o055 == 0o055 & ~_umask()
