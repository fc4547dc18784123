"""Views in a batch (issue 55 item 1): a JSONL line's ``views`` object and a CSV list's ``view:NAME:SIDE``
columns reach each picture's job; a bad column, a missing view or a view of a name the line has not is
one sentence naming the line; a worker on another machine gets the views with the picture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from testdata import FAST_OPTIONS, HOUSE
from img23d_backend.batch.driver import plan
from img23d_backend.batch.inputs import read_inputs
from img23d_backend.batch.settings import BatchSettings
from img23d_backend.batch.items import WorkerSettings, WorkItem
from img23d_backend.batch.work import Worker
from img23d_backend.session import Models
from img23d_protocol import JobOptions, ProtocolError


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "views").mkdir()
    back = Image.new("RGBA", (300, 400), (0, 0, 0, 0))
    ImageDraw.Draw(back).rectangle((100, 100, 199, 349), fill=(40, 90, 160, 255))
    back.save(tmp_path / "views" / "chimney_back.png")
    (tmp_path / "house.png").write_bytes(HOUSE.read_bytes())
    return tmp_path


def test_jsonl_and_csv_lists_give_each_picture_its_views(folder: Path) -> None:
    (folder / "list.jsonl").write_text(json.dumps({"image": "house.png", "names": ["chimney"],
                                                   "views": {"chimney": {"back": "views/chimney_back.png"}}}) + "\n")
    (folder / "list.csv").write_text("image,names,view:chimney:back,view:chimney:left\n"
                                     "house.png,chimney,views/chimney_back.png,\n"
                                     "house.png,door,,\n")
    jsonl, with_view, without = read_inputs([str(folder / "list.jsonl"), str(folder / "list.csv")])
    back = str((folder / "views" / "chimney_back.png").resolve())
    assert jsonl.views == with_view.views == {"chimney": {"back": back}}
    assert (with_view.names, without.names, without.views) == (["chimney"], ["door"], {})  # view cells are no names


@pytest.mark.parametrize("name, text, sentence", [
    ("list.csv", "image,names,view:chimney\nhouse.png,chimney,views/chimney_back.png\n",
     "list.csv line 1: the column 'view:chimney' must be named view:NAME:SIDE, e.g. view:chair:back"),
    ("list.csv", "image,names,view:chimney:top\nhouse.png,chimney,views/chimney_back.png\n",
     "list.csv line 2: a view of 'chimney' names the side 'top': sides are left, back, right"),
    ("list.jsonl", '{"image": "house.png", "names": "chimney", "views": {"chimney": {"back": "views/gone.png"}}}\n',
     "list.jsonl line 1: the back view of 'chimney': no picture at"),
    ("list.jsonl", '{"image": "house.png", "names": "chimney", "views": ["views/chimney_back.png"]}\n',
     "list.jsonl line 1: views must be an object of name: {side: picture}"),
])
def test_a_bad_view_in_a_list_is_one_sentence_naming_its_line(folder: Path, name: str, text: str,
                                                               sentence: str) -> None:
    (folder / name).write_text(text)
    with pytest.raises(ProtocolError, match=sentence.replace("(", r"\(").replace("{", r"\{")):
        read_inputs([str(folder / name)])


def test_views_of_a_name_the_line_has_not_are_one_sentence_and_views_key_the_work(folder: Path) -> None:
    (folder / "list.jsonl").write_text(
        json.dumps({"image": "house.png", "names": ["door"], "views": {"chimney": {"back": "views/chimney_back.png"}}})
        + "\n")
    with pytest.raises(ProtocolError, match=r"list.jsonl line 1: there are views of 'chimney', which is not one of "
                                            r"the names \(door\)"):
        plan(BatchSettings(inputs=[str(folder / "list.jsonl")], out=folder / "out"))
    (folder / "list.jsonl").write_text("\n".join(json.dumps({"image": "house.png", "names": ["chimney"], **extra})
                                                 for extra in ({}, {"views": {"chimney": {
                                                     "back": "views/chimney_back.png"}}})) + "\n")
    entries = plan(BatchSettings(inputs=[str(folder / "list.jsonl")], out=folder / "out")).record.entries
    assert len(entries) == 2 and entries[0].key != entries[1].key  # the same picture with views is other work
    assert entries[1].views == {"chimney": {"back": str((folder / "views" / "chimney_back.png").resolve())}}


def test_a_worker_without_the_drivers_files_gets_the_views_with_the_picture(folder: Path, tiny_root: Path,
                                                                           monkeypatch) -> None:
    monkeypatch.setenv("IMG23D_TINY_MODELS", str(tiny_root))
    worker = Worker(WorkerSettings(Models(models="tiny", device="cpu"), out=None))  # as on a Ray node
    gone = folder / "elsewhere" / "back.png"   # the driver's path: not on the worker's machine
    try:
        item = WorkItem(index=0, image=str(folder / "elsewhere" / "house.png"), names=["chimney"],
                        options=JobOptions(**FAST_OPTIONS), image_bytes=HOUSE.read_bytes(),
                        views={"chimney": {"back": str(gone)}},
                        view_bytes={"chimney": {"back": (folder / "views" / "chimney_back.png").read_bytes()}})
        result = worker.run(item)
        assert result.status == "done", result.error
        assert result.files["views_in/chimney/back.given.png"] == (folder / "views" / "chimney_back.png").read_bytes()
        assert "views_in/chimney/back.png" in result.files
        assert not (worker._scratch / "views").exists()  # the views sent are gone with the picture
    finally:
        worker.close()
