"""The batch command without Ray (worker processes on this machine), and the checks of what it reads."""

from __future__ import annotations

import io
import json
import os
import sys
import threading
from pathlib import Path

import pytest

from batch_files import (FAST_FLAGS, batch, batch_changing_pictures, by_name, check_changed_during, manifests, pictures,
                         record)
from img23d_backend.batch import list_file
from img23d_backend.batch.driver import BatchEvent, BatchReport
from img23d_backend.batch.inputs import read_inputs
from img23d_backend.batch.lock import BatchLock
from img23d_backend.batch.progress import BatchPrinter
from img23d_backend.batch.record import BatchRecord, Entry, Same, close_record_file
from img23d_backend.runs.imports import import_run
from img23d_protocol import ProtocolError, RunLimits
from run_files import run_on_a_tiny_disk

pytestmark = [pytest.mark.process,  # its subject is img23d's processes (pytest.ini)
              pytest.mark.lane_b]  # in lane B's share, for the lanes' balance


@pytest.mark.fault("batch")
def test_a_folder_batch_resumes_and_retries_failed_pictures_only_when_asked(backend_env: dict[str, str],
                                                                            tmp_path: Path, nothing_lost) -> None:
    folder = pictures(tmp_path / "pictures", 2, corrupt=True)
    out = tmp_path / "out"
    first = batch(backend_env, str(folder), "--out", str(out), *FAST_FLAGS)
    assert first.returncode == 3, first.stderr  # the corrupt picture failed alone
    assert {n: e["status"] for n, e in by_name(out).items()} == {
        "corrupt.png": "failed", "picture-0.png": "done", "picture-1.png": "done"}
    assert by_name(out)["corrupt.png"]["error"]["code"] == "image_unreadable"
    assert all(e["workers"][0].startswith("local-0") for e in by_name(out).values())
    folders = sorted(p.name for p in out.iterdir())

    again = batch(backend_env, str(folder), "--out", str(out), *FAST_FLAGS)
    assert again.returncode == 3 and sorted(p.name for p in out.iterdir()) == folders  # nothing redone
    assert {(e["status"], e["skipped"]) for n, e in by_name(out).items() if n != "corrupt.png"} == {("done", True)}

    retried = batch(backend_env, str(folder), "--out", str(out), *FAST_FLAGS, "--retry-failed", "--json")
    assert retried.returncode == 3, retried.stderr
    events = [json.loads(line) for line in retried.stdout.splitlines()]
    assert [e["image"].rsplit("/", 1)[1] for e in events if e["event"] == "picture"] == ["corrupt.png"]
    assert len(list(out.glob("*/manifest.json"))) == len(folders)  # one more run folder (the retry)...
    assert {p.name for p in out.iterdir()} > set(folders)           # ...beside every earlier one

    changed = batch(backend_env, str(folder), "--out", str(out), *FAST_FLAGS, "--seed", "7", "--json")
    assert changed.returncode == 3  # other options: every picture again (the corrupt one fails again)
    assert [e["status"] for e in map(json.loads, changed.stdout.splitlines()) if e["event"] == "picture"].count(
        "done") == 2
    nothing_lost(out)


def test_a_local_batch_paints_its_objects(backend_env: dict[str, str], tmp_path: Path) -> None:
    # Issue 58 (found while injecting its faults): a local worker is daemonic, and the paint step's UV
    # unwrap worker is its child, so every painted picture failed with "daemonic processes are not
    # allowed to have children [internal]"; the other batch tests ran with --no-texture.
    folder = pictures(tmp_path / "pictures", 1)
    out = tmp_path / "out"
    painted = [flag for flag in FAST_FLAGS if flag != "--no-texture"]
    done = batch(backend_env, str(folder), "--out", str(out), *painted, "--texture-size", "256", "--paint-steps", "2",
                 "--delight-steps", "2", "--no-materials")
    assert done.returncode == 0, done.stderr
    [(name, manifest)] = manifests(out).items()
    assert [(r["status"], r["textured"]) for r in manifest["records"]] == [("done", True)], name


@pytest.mark.fault("batch")
def test_a_worker_killed_mid_picture_is_replaced_and_its_picture_retried(backend_env: dict[str, str],
                                                                         tmp_path: Path, nothing_lost) -> None:
    folder = pictures(tmp_path / "pictures", 2)
    out, arm = tmp_path / "out", tmp_path / "arm"
    arm.write_text("kill the first worker that starts a shape stage")
    env = {**backend_env, "IMG23D_FAILPOINTS": "shape:kill-once", "IMG23D_FAILPOINTS_ONCE": str(arm)}
    result = batch(env, str(folder), "--out", str(out), *FAST_FLAGS)
    assert result.returncode == 0, result.stderr
    assert not arm.exists() and "retry" in result.stdout
    entries = by_name(out)
    assert all(e["status"] == "done" for e in entries.values())
    [killed] = [e for e in entries.values() if e["retried"]]
    assert killed["attempts"] == 2 and "killed by signal 9" in killed["retried"][0]["message"]
    statuses = sorted(m["status"] for m in manifests(out).values())
    assert statuses == ["finished", "finished", "interrupted"]  # the killed attempt's folder says so
    assert record(out)["status"] == "finished"
    nothing_lost(out)


@pytest.mark.fault("batch")
def test_a_picture_that_kills_its_worker_every_time_fails_alone_and_the_rest_are_made(backend_env: dict[str, str],
                                                                                    tmp_path: Path) -> None:
    """Its three deaths used up the pool's restarts (two for one worker), and every other picture failed untried
    ("no worker left to run it"); a death during a picture is bounded by the picture's --attempts now."""
    folder = pictures(tmp_path / "pictures", 2)
    out, armed = tmp_path / "out", tmp_path / "armed"
    armed.mkdir()
    (armed / "grounding").write_text("every worker that grounds a name dies")   # only the named picture grounds
    listed = tmp_path / "list.jsonl"
    listed.write_text(json.dumps({"image": str(folder / "picture-0.png"), "names": "house"}) + "\n"
                      + json.dumps({"image": str(folder / "picture-1.png")}) + "\n")
    env = {**backend_env, "IMG23D_FAILPOINTS": "grounding:kill-armed", "IMG23D_FAILPOINTS_ARMED": str(armed)}
    result = batch(env, str(listed), "--out", str(out), *FAST_FLAGS, timeout=300)
    assert result.returncode == 3, result.stderr
    entries = by_name(out)
    assert entries["picture-0.png"]["status"] == "failed" and entries["picture-0.png"]["attempts"] == 3
    assert "killed by signal 9" in entries["picture-0.png"]["error"]["message"]
    assert entries["picture-1.png"]["status"] == "done"


@pytest.mark.fault("batch-hang")
def test_a_picture_that_hangs_is_stopped_tried_on_the_other_worker_then_failed(backend_env: dict[str, str],
                                                                              tmp_path: Path, nothing_lost) -> None:
    folder = pictures(tmp_path / "pictures", 2)
    out = tmp_path / "out"
    env = {**backend_env, "IMG23D_FAILPOINTS": "shape:hang"}  # every worker hangs in every shape stage
    # A short limit: each attempt waits it out; the tiny models reach the shape stage in a second or two.
    result = batch(env, str(folder), "--out", str(out), *FAST_FLAGS, "--workers", "2", "--picture-timeout", "6",
                   timeout=400)
    assert result.returncode == 3, result.stderr
    for entry in by_name(out).values():
        assert (entry["status"], entry["attempts"], entry["timeouts"]) == ("failed", 2, 2), entry
        assert {w.split()[0] for w in entry["workers"]} == {"local-0", "local-1"}  # the second try elsewhere
        assert entry["error"]["code"] == "timeout" and entry["error"]["message"].startswith(
            "it ran past the per-picture limit of 6 s 2 time(s), on local-")
    # Each stopped attempt's run folder says so: its worker was killed, not left running.
    assert sorted(m["status"] for m in manifests(out).values()) == ["interrupted"] * 4
    assert record(out)["status"] == "finished"
    nothing_lost(out)


@pytest.mark.fault("batch-picture-gone")
def test_a_picture_deleted_mid_batch_fails_alone_and_a_changed_one_is_recorded_as_made(
        backend_env: dict[str, str], tmp_path: Path, nothing_lost) -> None:
    folder, out = pictures(tmp_path / "pictures", 3), tmp_path / "out"
    donor = pictures(tmp_path / "donor", 5) / "picture-4.png"
    result = batch_changing_pictures(backend_env, folder, out, folder / "picture-1.png", folder / "picture-2.png",
                                     donor, workers=1)
    assert result.returncode == 0 and result.stdout.strip() == "finished", result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    check_changed_during(out, folder / "picture-1.png", folder / "picture-2.png", donor)
    nothing_lost(out)


# On a tiny disk (run_files.run_on_a_tiny_disk): the folder "existing" made, the disk remounted read-only,
# then the batch command. Its outcome is this script's stdout.
_BATCH_ON_A_READ_ONLY_DISK = r"""
import json
os.mkdir(os.path.join(disk, "existing"))
subprocess.run(["mount", "-o", "remount,ro", disk], check=True)
out, command, env = json.loads(sys.argv[3])
proc = subprocess.run([*command, "--out", os.path.join(disk, out)], env=env, capture_output=True, text=True)
print(json.dumps({"status": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr}))
"""


@pytest.mark.fault("batch-read-only-disk", count=2)
def test_a_batch_onto_a_read_only_disk_says_so_in_one_sentence(backend_env: dict[str, str], tmp_path: Path) -> None:
    folder = pictures(tmp_path / "pictures", 1)
    command = [sys.executable, "-m", "img23d_backend", "batch", str(folder), *FAST_FLAGS]
    for out, words in (("new", "cannot make the batch folder {disk}/new"),
                       ("existing", "cannot write {disk}/existing/batch.lock")):
        script = _BATCH_ON_A_READ_ONLY_DISK.replace("sys.argv[3]", repr(json.dumps([out, command, backend_env])))
        (tmp_path / out).mkdir()
        proc = run_on_a_tiny_disk(tmp_path / out, script, megabytes=4)
        assert proc.returncode == 0, proc.stderr
        result = json.loads(proc.stdout)
        disk = tmp_path / out / "disk"
        assert result["status"] == 1, result["stderr"]  # before: the same status, with a traceback
        assert result["stderr"].strip().splitlines() == [
            f"error: {words.format(disk=disk)}: the disk is read-only [disk]"], result["stderr"]  # issue 58: the tag
        assert result["stdout"] == ""


@pytest.mark.parametrize("name, text, needle", [
    ("list.jsonl", '{"image": "a.png"}\nnot json\n', "list.jsonl line 2 is not valid JSON"),
    ("list.jsonl", '{"image": 3, "names": ["house"]}\n', 'list.jsonl line 1 needs an "image"'),
    ("list.jsonl", '{"image": "missing.png"}\n', "list.jsonl line 1: no picture at"),
    ("list.jsonl", '{"image": "a.png", "names": 3}\n', '"names" must be a list'),
    ("list.csv", "image,names\n,house\n", "list.csv line 2 has no picture in its first column"),
    ("list.csv", 'a.png,", ,"\n', "list.csv line 1: its names holds only commas"),
    ("list.csv", "\n\n", "names no pictures"),
    ("list.jsonl", '{"image": "a.png", "names": "barrel (hoop, stave)"}\n',
     "list.jsonl line 1: a batch makes whole objects, not a name's parts in brackets (its names)"),
    # null and 3 became names "None" and "3"; "bed, double" two names
    ("list.jsonl", '{"image": "a.png", "names": ["chair", null]}\n', 'list.jsonl line 1: "names" holds null'),
    ("list.jsonl", '{"image": "a.png", "names": ["bed, double"]}\n', 'holds "bed, double": each item must be'),
])
def test_a_bad_list_line_is_one_sentence_naming_it(tmp_path: Path, name: str, text: str, needle: str) -> None:
    pictures(tmp_path, 1)
    (tmp_path / "picture-0.png").rename(tmp_path / "a.png")
    (tmp_path / name).write_text(text)
    with pytest.raises(ProtocolError) as caught:
        read_inputs([str(tmp_path / name)])
    assert needle in caught.value.message


def test_lists_give_each_picture_its_names_relative_to_the_list(tmp_path: Path) -> None:
    pictures(tmp_path / "p", 2)
    (tmp_path / "list.jsonl").write_text('{"image": "p/picture-0.png", "names": ["house", "chimney"]}\n'
                                         '{"image": "p/picture-1.png", "names": "auto"}\n')
    (tmp_path / "list.csv").write_text('image,names\np/picture-1.png,"barrel, house"\np/picture-0.png\n')
    items = read_inputs([str(tmp_path / "list.jsonl"), str(tmp_path / "list.csv"), str(tmp_path / "p")])
    assert [(i.image.name, i.names) for i in items] == [
        ("picture-0.png", ["house", "chimney"]), ("picture-1.png", "auto"), ("picture-1.png", ["barrel", "house"]),
        ("picture-0.png", None), ("picture-0.png", None), ("picture-1.png", None)]


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_a_csv_cell_with_a_line_break_holds_two_names_not_one(tmp_path: Path, newline: str) -> None:
    pictures(tmp_path, 2)
    rows = ["image,names", 'picture-0.png,"house', 'chimney"', "picture-1.png,barrel", "missing.png"]
    (tmp_path / "list.csv").write_bytes(newline.join(rows[:4]).encode() + newline.encode())
    items = read_inputs([str(tmp_path / "list.csv")])  # before: "housechimney", one name
    assert [(i.image.name, i.names, i.where) for i in items] == [
        ("picture-0.png", ["house", "chimney"], "list.csv line 2"), ("picture-1.png", ["barrel"], "list.csv line 4")]
    (tmp_path / "list.csv").write_bytes(newline.join(rows).encode())
    with pytest.raises(ProtocolError, match=r"\] list\.csv line 5: no picture at "):  # lines as a person counts them
        read_inputs([str(tmp_path / "list.csv")])


def test_lists_are_read_as_spreadsheets_and_editors_leave_them(tmp_path: Path) -> None:
    """A blank JSON prompt beside a picture was "the prompt is empty"; a CSV header after a blank line was read as
    a picture; a UTF-16 list ("Unicode Text") and a Windows-1252 one gave the codec's raw message."""
    pictures(tmp_path, 1)
    # A blank prompt beside a picture is none, as a CSV's blank prompt cell is (it failed the line as an empty prompt).
    (tmp_path / "a.jsonl").write_text('{"image": "picture-0.png", "prompt": "", "names": ["house"]}\n')
    (tmp_path / "b.csv").write_text('\n\nimage,names\npicture-0.png,house\n')
    (tmp_path / "c.csv").write_bytes('image,names\npicture-0.png,maison\n'.encode("utf-16"))
    items = read_inputs([str(tmp_path / name) for name in ("a.jsonl", "b.csv", "c.csv")])
    assert [(i.image.name, i.names, i.problem) for i in items] == [("picture-0.png", ["house"], "")] * 2 + [
        ("picture-0.png", ["maison"], "")]
    (tmp_path / "d.csv").write_bytes('image,names\npicture-0.png,café\n'.encode("cp1252"))
    with pytest.raises(ProtocolError, match=r"d\.csv is not UTF-8 text \(byte 30 is not\): save it as UTF-8"):
        read_inputs([str(tmp_path / "d.csv")])


def test_a_jsonl_line_may_hold_any_character_json_allows(tmp_path: Path) -> None:
    pictures(tmp_path, 2)
    # U+2028, U+2029 and U+0085 are plain characters in a JSON text; str.splitlines() broke lines at them.
    lines = [json.dumps({"image": "picture-0.png", "note": f"left{odd}right"}, ensure_ascii=False)
             for odd in ("\u2028", "\u2029", "\x85")]
    (tmp_path / "list.jsonl").write_text("\r\n".join([*lines, '{"image": "picture-1.png"}']), encoding="utf-8")
    items = read_inputs([str(tmp_path / "list.jsonl")])  # before: "list.jsonl line 1 is not valid JSON"
    assert [(i.image.name, i.where) for i in items] == [
        ("picture-0.png", "list.jsonl line 1"), ("picture-0.png", "list.jsonl line 2"),
        ("picture-0.png", "list.jsonl line 3"), ("picture-1.png", "list.jsonl line 4")]


@pytest.mark.parametrize("name, text", [("list.csv", "image,names\npicture-0.png,house\n"),
                                        ("list.jsonl", '{"image": "picture-0.png", "names": ["house"]}\n')])
def test_a_list_saved_with_a_byte_order_mark_reads_as_without(tmp_path: Path, name: str, text: str) -> None:
    pictures(tmp_path, 1)
    (tmp_path / name).write_bytes(b"\xef\xbb\xbf" + text.encode())   # Excel's "CSV UTF-8", Notepad's UTF-8
    [item] = read_inputs([str(tmp_path / name)])
    assert (item.image.name, item.names) == ("picture-0.png", ["house"])


def test_missing_inputs_and_empty_folders_are_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    for inputs, needle in (([str(tmp_path / "nope.png")], "no such picture, folder or list"),
                           ([str(tmp_path / "empty")], "has no pictures"),
                           ([str(tmp_path / "notes.txt")], "is neither a picture"), ([], "at least one picture")):
        with pytest.raises(ProtocolError, match=needle):
            read_inputs(inputs)


def _read_within(inputs: list[str], seconds: float = 10.0) -> str:
    """What ``read_inputs`` says of ``inputs``, on a thread bounded by ``seconds`` (a list it waits on fails)."""
    said: list[str] = []

    def read() -> None:
        try:
            read_inputs(inputs)
            said.append("read")
        except ProtocolError as exc:
            said.append(exc.message)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(seconds)
    assert said, f"reading {inputs} did not end within {seconds:g} s"
    return said[0]


def test_a_list_that_is_no_file_or_too_long_is_one_sentence_before_it_is_read(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 88: a list was read whole with no bound (a 1.5 GB CSV peaked at 10.8 GB before its sentence, a list
    linked to /dev/zero read to a MemoryError), and a named pipe with no writer waited in silence."""
    pictures(tmp_path, 1)
    os.mkfifo(tmp_path / "pipe.csv")
    (tmp_path / "device.csv").symlink_to(os.devnull)
    os.mkfifo(tmp_path / "pipe.png")
    assert "pipe.csv is a named pipe, not a file: give a .jsonl or .csv file" in _read_within([str(tmp_path / "pipe.csv")])
    assert "device.csv is a device, not a file" in _read_within([str(tmp_path / "device.csv")])
    assert "pipe.png is not a picture file" in _read_within([str(tmp_path / "pipe.png")])
    with open(tmp_path / "huge.csv", "wb") as huge:  # sparse: its size is said before a byte is read
        huge.truncate(list_file.MAX_LIST_BYTES + 1)
    assert "huge.csv is 32.0 MB; a list may be at most 32.0 MB: split it" in _read_within([str(tmp_path / "huge.csv")])
    (tmp_path / "long.csv").write_text("picture-0.png\n" * 5)
    monkeypatch.setattr(list_file, "MAX_LIST_LINES", 4)
    assert "long.csv has 5 lines; a list may have at most 4: split it" in _read_within([str(tmp_path / "long.csv")])


# A worker's run with hostile names, sizes or counts: tests/addon/test_run_home.py plays each on
# both roads home (this import and Import Run from Host).


def test_run_files_come_back_into_a_new_folder_each_time(tmp_path: Path) -> None:
    first = import_run(tmp_path, "../../20260101-x", {"manifest.json": b"{}", "views/a/v.png": b"png"})
    second = import_run(tmp_path, "20260101-x", {"manifest.json": b"{}"})
    assert first.parent == tmp_path and first.name == "20260101-x" and second.name == "20260101-x-2"
    assert (first / "views" / "a" / "v.png").read_bytes() == b"png"
    with pytest.raises(ProtocolError, match="at most"):
        import_run(tmp_path, "big", {"a": b"12345"}, RunLimits(max_bytes=4))
    with pytest.raises(ProtocolError, match="not a name and bytes"):
        import_run(tmp_path, "text", {"a.glb": "not bytes"})  # type: ignore[dict-item]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["20260101-x", "20260101-x-2"]


def test_a_finished_picture_is_skipped_only_while_its_run_folder_is_there(tmp_path: Path) -> None:
    (tmp_path / "run-a").mkdir()
    (tmp_path / "run-a" / "manifest.json").write_text("{}")
    old = [Entry("a.png", "sha-a", [], "k", status="done", run_dir="run-a"),
           Entry("b.png", "sha-b", [], "k", status="done", run_dir="run-gone"),
           Entry("c.png", "sha-c", [], "k", status="failed", error={"code": "x", "message": "y"})]
    fresh = lambda: [Entry("a.png", "sha-a", [], "k"), Entry("b.png", "sha-b", [], "k"),  # noqa: E731
                     Entry("c.png", "sha-c", [], "k"), Entry("a2.png", "sha-a", [], "other options")]
    kept = BatchRecord(tmp_path, fresh(), {})
    kept.resume(old, retry_failed=False)
    assert [e.bucket for e in kept.entries] == ["skipped", "pending", "failed", "pending"]
    assert kept.entries[0].status == "done" and kept.counts()["skipped"] == 1
    retry = BatchRecord(tmp_path, fresh(), {})
    retry.resume(old, retry_failed=True)
    assert [e.bucket for e in retry.entries] == ["skipped", "pending", "pending", "pending"]


def test_ray_missing_or_unreachable_is_one_sentence(backend_env: dict[str, str], tmp_path: Path) -> None:
    pictures(tmp_path / "p", 1)
    fake = tmp_path / "no-ray"
    (fake / "ray").mkdir(parents=True)
    (fake / "ray" / "__init__.py").write_text("raise ImportError('No module named ray')\n")
    env = {**backend_env, "PYTHONPATH": f"{fake}:{backend_env['PYTHONPATH']}"}
    missing = batch(env, str(tmp_path / "p"), "--out", str(tmp_path / "out"), "--ray", "auto", *FAST_FLAGS)
    assert missing.returncode == 2 and "pip install 'img23d-backend[ray]'" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()
    unreachable = batch(backend_env, str(tmp_path / "p"), "--out", str(tmp_path / "out"), "--ray", "127.0.0.1:9",
                        *FAST_FLAGS)
    if "needs Ray" not in unreachable.stderr:  # an environment without Ray says so instead
        assert unreachable.returncode == 2 and "no Ray cluster answers at 127.0.0.1:9" in unreachable.stderr
    assert not (tmp_path / "out").exists()  # nothing written


def test_a_record_closed_from_outside_says_cancelled(tmp_path: Path) -> None:
    record = BatchRecord(tmp_path, [Entry("a.png", "sha-a", [], "k", status="running"),
                                    Entry("b.png", "sha-b", [], "k", status="done", run_dir="r")], {})
    record.same = [Same(image=str(tmp_path / "c.png"), same_as=str(tmp_path / "b.png"))]
    record.save()
    close_record_file(tmp_path, "interrupted by SIGINT")  # not this process's batch: left alone
    assert json.loads((tmp_path / "batch.json").read_text())["status"] == "running"
    BatchLock(tmp_path).acquire()
    close_record_file(tmp_path, "interrupted by SIGINT")
    data = json.loads((tmp_path / "batch.json").read_text())
    assert data["status"] == "cancelled" and [p["status"] for p in data["pictures"]] == ["cancelled", "done"]
    assert data["pictures"][0]["error"]["message"] == "interrupted by SIGINT"
    assert data["same"] == [same.describe() for same in record.same]  # the pictures listed again, still said
    assert not (tmp_path / "batch.lock").exists()  # the process that held it ends at once


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_person_sees_a_bar_a_line_per_picture_and_a_summary(tmp_path: Path) -> None:
    out, err = io.StringIO(), _Terminal()
    printer = BatchPrinter(out, err)
    counts = {"done": 0, "skipped": 1, "failed": 0, "cancelled": 0, "running": 0, "pending": 2}
    printer(BatchEvent("start", counts=dict(counts), workers=2))
    done = Entry(str(tmp_path / "a.png"), "s", [], "k", status="done", run_dir="run-a", seconds=2.5, meshes=2,
                 missing=["barrel"])
    printer(BatchEvent("picture", done, 0, {**counts, "done": 1, "pending": 1}))
    bad = Entry(str(tmp_path / "b.png"), "s", [], "k", status="failed",
                error={"code": "image_unreadable", "message": "b.png is not an image file Pillow can read"})
    printer(BatchEvent("picture", bad, 1, {**counts, "done": 1, "failed": 1, "pending": 0}))
    printer.summary(BatchReport(tmp_path, tmp_path / "batch.json", "finished",
                                {**counts, "done": 1, "failed": 1, "pending": 0}, [done, bad], 3.0))
    lines = out.getvalue().splitlines()
    assert lines[1] == "[2/3] done    a.png: 2 mesh(es), not found: barrel in 2.5 s -> run-a"
    assert lines[2] == "[3/3] FAILED  b.png: b.png is not an image file Pillow can read [image_unreadable]"
    assert lines[3].startswith("batch finished in 3 s: 1 done, 1 skipped, 1 failed; record: ")
    bar = [drawn for drawn in err.getvalue().split("\r") if drawn.startswith("[")][-1]  # the last bar drawn
    assert "3/3  done 1  skipped 1  failed 1  left 0" in bar and "pictures/min" in bar
