"""A picture listed more than once (the same file twice, or two files with the same bytes, with the
same names) runs once, and the batch says so: in a line at its start, in its summary and in
batch.json. The driver's own logic, with a pool in this process (the fake workers never open the
pictures: a run of a picture is a record of its hand-out)."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from batch_fakes import FakePool
from img23d_backend.batch import driver
from img23d_backend.batch.driver import BatchSettings, run_batch
from img23d_backend.batch.progress import BatchPrinter


def _listed(tmp_path: Path) -> tuple[Path, list[str]]:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        (folder / name).write_bytes(f"picture {name}".encode())
    shutil.copyfile(folder / "a.png", folder / "copy-of-a.png")    # the same bytes under another name
    (tmp_path / "list.csv").write_text("image,names\nin/b.png,house\nin/b.png,barrel\n")  # other names: two jobs
    # The folder (a, b, copy-of-a), a again by its path, and the list.
    return folder, [str(folder), str(folder / "a.png"), str(tmp_path / "list.csv")]


def test_a_picture_listed_twice_or_copied_runs_once_and_the_batch_says_so(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    folder, inputs = _listed(tmp_path)
    hashed: list[Path] = []
    real_hash = driver.picture_hash
    monkeypatch.setattr(driver, "picture_hash", lambda path: (hashed.append(path), real_hash(path))[1])
    out, pool, shown, machine = tmp_path / "out", FakePool(tmp_path / "out"), io.StringIO(), io.StringIO()
    printer, json_printer = BatchPrinter(shown, io.StringIO()), BatchPrinter(machine, io.StringIO(), as_json=True)
    report = run_batch(BatchSettings(inputs=inputs, out=out), on_event=lambda e: (printer(e), json_printer(e)),
                       pool_factory=lambda settings, count: pool)
    printer.summary(report)

    ran = sorted((Path(report.entries[index].image).name, str(report.entries[index].names)) for _, index in pool.ran)
    assert ran == [("a.png", "[]"), ("b.png", "['barrel']"), ("b.png", "['house']"), ("b.png", "[]")]  # before: 6
    assert sorted(hashed) == sorted({*hashed}), "a picture listed twice was read twice"
    a, copy = str(folder / "a.png"), str(folder / "copy-of-a.png")
    expected = [{"image": copy, "same_as": a, "where": "", "message": "copy-of-a.png is the same picture as a.png: "
                                                                      "run once"},
                {"image": a, "same_as": a, "where": "", "message": "a.png is listed more than once: run once"}]
    assert [s.describe() for s in report.same] == expected
    saved = json.loads((out / "batch.json").read_text())
    assert saved["same"] == expected and len(saved["pictures"]) == 4
    assert json.loads(machine.getvalue().splitlines()[0])["same"] == expected  # --json: in the start event
    lines = shown.getvalue().splitlines()
    assert lines[1:3] == ["same    copy-of-a.png is the same picture as a.png: run once",
                          "same    a.png is listed more than once: run once"]
    assert lines[-1].startswith("batch finished in ") and "4 done, 0 skipped, 0 failed; 2 listed again, run once;" \
        in lines[-1]


def test_copies_with_the_same_name_in_two_folders_are_told_apart_by_their_paths(tmp_path: Path) -> None:
    for folder in ("x", "y"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "p.png").write_bytes(b"one picture")
    report = run_batch(BatchSettings(inputs=[str(tmp_path / "x"), str(tmp_path / "y")], out=tmp_path / "out"),
                       pool_factory=lambda settings, count: FakePool(tmp_path / "out"))
    [same] = report.same
    assert same.message == f"{tmp_path / 'y' / 'p.png'} is the same picture as {tmp_path / 'x' / 'p.png'}: run once"
    assert report.counts["done"] == 1
