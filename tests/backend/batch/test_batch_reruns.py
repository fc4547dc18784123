"""batch.json as a rerun reads the last run's (found in review): a folder given through a link is resumed, a record
edited by hand with a field of the wrong type is kept aside, a picture done before keeps its notes, a picture that
cannot be read as the batch plans fails alone, and a skip's sentence names its step once. With the driver's own
bookkeeping and a pool in this process (``batch_fakes``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from batch_fakes import FakePool, fake_pictures, record_by_name, run_fake_batch
from img23d_backend.batch import driver
from img23d_backend.batch.record import BatchRecord, Entry
from img23d_protocol import ErrorCode, ProtocolError

def _cannot_read(monkeypatch: pytest.MonkeyPatch, paths: list[Path]) -> None:
    """The batch reads the pictures in ``paths`` (a list the test may change) as a user without their permission
    would (this machine's tests run as root, whom no file refuses)."""
    hash_of = driver.picture_hash

    def picture_hash(path: Path) -> str:
        if path in paths:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"the picture {path} cannot be read: Permission denied")
        return hash_of(path)

    monkeypatch.setattr(driver, "picture_hash", picture_hash)


def test_a_batch_folder_given_through_a_link_is_resumed_not_redone(tmp_path: Path) -> None:
    """The backend names its runs resolved: against --out as given (a link to another disk) the record said
    "../disk/runs/<run>", which resolves elsewhere, and every rerun made every picture again."""
    real, link = tmp_path / "disk" / "runs", tmp_path / "runs"
    real.mkdir(parents=True)
    link.symlink_to(real)
    folder = fake_pictures(tmp_path / "in", 2)
    run_fake_batch(link, folder, pool=FakePool(real))
    report, pool, _ = run_fake_batch(link, folder, pool=FakePool(real))
    assert pool.ran == [] and report.counts["skipped"] == 2
    assert all("/" not in entry["run_dir"] for entry in record_by_name(real).values())


def test_a_record_edited_by_hand_with_a_field_of_the_wrong_type_is_kept_aside(tmp_path: Path) -> None:
    """Valid JSON, one picture's list made null: a traceback in resume, and the folder blocked until mended."""
    folder = fake_pictures(tmp_path / "in", 1)
    out = tmp_path / "out"
    run_fake_batch(out, folder)
    data = json.loads((out / "batch.json").read_text())
    data["pictures"][0]["missing"] = None
    (out / "batch.json").write_text(json.dumps(data))
    report, _, events = run_fake_batch(out, folder)
    [kept] = out.glob("batch.json.unreadable-*")
    assert "could not be read (TypeError: a picture's missing is NoneType, not list[str])" in events[0].message
    assert json.loads(kept.read_text())["pictures"][0]["missing"] is None and report.status == "finished"


def test_a_picture_done_before_keeps_its_notes(tmp_path: Path) -> None:
    """A rerun wiped a skipped picture's notes ("depth skipped: ..."): how it was made stays with it."""
    (tmp_path / "run-a").mkdir()
    (tmp_path / "run-a" / "manifest.json").write_text("{}")
    before = Entry(image="/a.png", sha256="s", names=None, key="k", status="done", run_dir="run-a",
                   notes=["depth skipped: the depth model could not be loaded"])
    record = BatchRecord(tmp_path, [Entry(image="/a.png", sha256="s", names=None, key="k")], {})
    record.resume([before], retry_failed=False)
    assert record.entries[0].skipped and record.entries[0].notes == before.notes


def test_a_picture_that_cannot_be_read_as_the_batch_plans_fails_alone(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """One unreadable picture (no permission) in a folder ended the batch before anything was made (exit 2)."""
    folder = fake_pictures(tmp_path / "in", 3)
    hidden = sorted(folder.iterdir())[1]
    _cannot_read(monkeypatch, [hidden])
    report, pool, _ = run_fake_batch(tmp_path / "out", folder)
    entries = record_by_name(tmp_path / "out")
    assert report.counts["done"] == 2 and len(pool.ran) == 2
    assert entries[hidden.name]["status"] == "failed" and entries[hidden.name]["error"] == {
        "code": "image_unreadable", "message": f"the picture {hidden} cannot be read: Permission denied"}


def test_a_skip_sentence_names_its_step_once() -> None:
    """"depth skipped: depth skipped: the depth model ...": the batch added the step to a sentence that says it."""
    from types import SimpleNamespace

    from img23d_backend.batch.work import result_notes

    result = SimpleNamespace(texture_skipped="the paint model could not be loaded",
                             depth_skipped="depth skipped: the depth model could not be loaded",
                             materials_skipped="materials skipped: no model", targets=[])
    assert result_notes(result) == ["texture skipped: the paint model could not be loaded",  # type: ignore[arg-type]
                                    "depth skipped: the depth model could not be loaded", "materials skipped: no model"]


def test_two_pictures_that_cannot_be_read_keep_their_own_sentences_run_after_run(tmp_path: Path,
                                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Recorded without a key, the second run's unreadable picture matched the first run's on the empty key: it
    took a.png's sentence, and a.png left the record."""
    folder = fake_pictures(tmp_path / "in", 2)
    first, second = sorted(folder.iterdir())
    unreadable: list[Path] = []
    _cannot_read(monkeypatch, unreadable)
    out = tmp_path / "out"
    unreadable[:] = [first]
    run_fake_batch(out, first)
    unreadable[:] = [second]
    run_fake_batch(out, second)
    entries = record_by_name(out)
    assert entries[second.name]["error"]["message"] == f"the picture {second} cannot be read: Permission denied"
    assert first.name not in entries   # refused by its own run, refused again if listed again


def test_a_view_that_cannot_be_read_fails_its_line_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unreadable view ended the batch (exit 2, no record) before the other pictures were made."""
    folder = fake_pictures(tmp_path / "in", 3)
    a, b, back = sorted(folder.iterdir())
    listed = tmp_path / "list.jsonl"
    listed.write_text(json.dumps({"image": str(a), "names": ["house"]}) + "\n"
                      + json.dumps({"image": str(b), "names": ["house"], "views": {"house": {"back": str(back)}}}) + "\n")
    _cannot_read(monkeypatch, [back])
    report, pool, _ = run_fake_batch(tmp_path / "out", listed)
    entries = record_by_name(tmp_path / "out")
    assert report.counts["done"] == 1 and entries[a.name]["status"] == "done"
    assert entries[b.name]["status"] == "failed" and entries[b.name]["error"] == {
        "code": "image_unreadable", "message": f"list.jsonl line 2: the picture {back} cannot be read: Permission denied"}
