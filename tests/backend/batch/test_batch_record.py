"""batch.json as the driver keeps it, with the driver's own bookkeeping and a pool in this process:
it forgets nothing (a subset, an earlier run's pictures), keeps an unreadable record aside, reaches
the disk before it replaces the old, keeps a second batch off the folder, and costs what the
batch's size does, not its square."""

from __future__ import annotations

import builtins
import errno
import io
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

from batch_fakes import FakePool, fake_pictures, record_by_name, run_fake_batch
from cli_inprocess import run_cli
from img23d_backend.batch.driver import BatchSettings, run_batch
from img23d_backend.batch.lock import LOCK_NAME, BatchLock
from img23d_backend.batch.record import BatchRecord, Entry
from img23d_backend.batch.record_files import JOURNAL_NAME, SNAPSHOT_MIN_SECONDS, SNAPSHOT_RATE
from img23d_protocol import ErrorCode, ProtocolError

RUN_TIMEOUT = 120.0


def test_a_run_on_a_subset_forgets_nothing_and_what_was_made_stays_done(tmp_path: Path) -> None:
    folder = fake_pictures(tmp_path / "in", 2)
    a, b = sorted(folder.iterdir())
    out = tmp_path / "out"
    run_fake_batch(out, a)
    made = record_by_name(out)[a.name]["made"]
    assert made and record_by_name(out)[a.name]["status"] == "done"

    run_fake_batch(out, b)  # the other picture alone: the first one's record stays
    entries = record_by_name(out)
    assert set(entries) == {a.name, b.name}
    assert entries[a.name]["status"] == "done" and entries[a.name]["outside"] and not entries[b.name]["outside"]
    assert entries[a.name]["made"] == made and entries[a.name]["run_dir"]

    report, pool, _ = run_fake_batch(out, folder)  # both: nothing to do
    assert pool.ran == [], "a picture made by an earlier run was made again"
    assert report.counts["skipped"] == 2 and report.counts["done"] == 0
    entries = record_by_name(out)
    assert {n: (e["status"], e["skipped"], e["outside"]) for n, e in entries.items()} == {
        a.name: ("done", True, False), b.name: ("done", True, False)}
    assert entries[a.name]["made"] == made  # when it was made, not when it was last seen


def test_a_record_of_the_first_format_is_read_as_done_with_when_its_run_finished(tmp_path: Path) -> None:
    folder = fake_pictures(tmp_path / "in", 1)
    out = tmp_path / "out"
    run_fake_batch(out, folder)
    data = json.loads((out / "batch.json").read_text())
    for picture in data["pictures"]:  # as the first format wrote it
        picture["status"] = "skipped"
        del picture["made"], picture["skipped"], picture["outside"], picture["timeouts"]
    (out / "batch.json").write_text(json.dumps({"format": 1, "pictures": data["pictures"]}))
    report, pool, _ = run_fake_batch(out, folder)
    [entry] = record_by_name(out).values()
    assert pool.ran == [] and (entry["status"], entry["skipped"]) == ("done", True)
    assert entry["made"] == "2026-01-01T00:00:00+00:00"  # from its run folder's manifest


def test_an_unreadable_record_is_kept_aside_and_said_once(tmp_path: Path) -> None:
    folder = fake_pictures(tmp_path / "in", 2)
    out = tmp_path / "out"
    out.mkdir()
    garbage = '{"format": 2, "pictures": [{"image": "a.png", "sha'  # a record cut short
    (out / "batch.json").write_text(garbage)
    (out / JOURNAL_NAME).write_text('{"run": "r", "seq": 1}\n')
    report, _, events = run_fake_batch(out, folder)
    [kept] = out.glob("batch.json.unreadable-*")
    assert kept.read_text() == garbage  # every byte of it, under a new name
    assert [p.name for p in out.glob(f"{JOURNAL_NAME}.unreadable-*")] == [JOURNAL_NAME + kept.name[len("batch.json"):]]
    start = events[0]
    assert start.kind == "start" and "could not be read" in start.message and kept.name in start.message
    assert start.message.count(". ") == 0  # one sentence
    assert report.status == "finished" and json.loads((out / "batch.json").read_text())["status"] == "finished"


def test_an_unreadable_record_that_cannot_be_kept_aside_is_left_untouched(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    folder = fake_pictures(tmp_path / "in", 1)
    out = tmp_path / "out"
    out.mkdir()
    (out / "batch.json").write_text("not json")
    real_replace = os.replace

    def replace(src: str | Path, dst: str | Path, *args: object, **kwargs: object) -> None:
        if ".unreadable-" in Path(dst).name:
            raise PermissionError(13, "Permission denied")
        real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(ProtocolError, match="could not be read .* nor kept aside: permission denied"):
        run_fake_batch(out, folder)
    assert (out / "batch.json").read_text() == "not json" and not (out / LOCK_NAME).exists()


def _read_only(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    """Every write under ``root`` fails as on a read-only disk (EROFS): the tests run as root, whom folder
    modes do not stop. Creating, opening to write, linking, renaming and removing are refused."""
    def refuse(*paths: object) -> None:
        for path in paths:
            if isinstance(path, (str, Path)) and Path(path).resolve().is_relative_to(root):
                raise OSError(errno.EROFS, "Read-only file system", str(path))

    writes = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    real_open, real_os_open = builtins.open, os.open

    def os_open(path: object, flags: int, *args: object, **kwargs: object) -> int:
        if flags & writes:
            refuse(path)
        return real_os_open(path, flags, *args, **kwargs)

    def open_(file: object, mode: str = "r", *args: object, **kwargs: object) -> object:
        if set(mode) & set("wax+"):
            refuse(file)
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(builtins, "open", open_)
    monkeypatch.setattr(io, "open", open_)
    for name, paths in (("mkdir", 1), ("unlink", 1), ("remove", 1), ("rmdir", 1), ("link", 2), ("replace", 2),
                        ("rename", 2)):
        def refused(*args: object, _real: Callable[..., object] = getattr(os, name), _paths: int = paths,
                    **kwargs: object) -> object:
            refuse(*args[:_paths])
            return _real(*args, **kwargs)

        monkeypatch.setattr(os, name, refused)


def test_a_batch_on_a_read_only_disk_is_one_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder, disk = fake_pictures(tmp_path / "in", 2), tmp_path / "disk"
    run_fake_batch(disk / "earlier", sorted(folder.iterdir())[0])  # an earlier batch's folder: its record, a run
    before = {p: p.read_bytes() for p in disk.rglob("*") if p.is_file()}
    _read_only(monkeypatch, disk)
    for out, message in ((disk / "new", f"cannot make the batch folder {disk / 'new'}: the disk is read-only"),
                         (disk / "earlier", f"cannot write {disk / 'earlier' / LOCK_NAME}: the disk is read-only")):
        pool = FakePool(out)
        with pytest.raises(ProtocolError) as caught:  # before: an OSError, the command's traceback
            run_fake_batch(out, folder, pool=pool)
        assert (caught.value.code, caught.value.message) == (ErrorCode.DISK, message)
        assert pool.closed and pool.ran == []
    monkeypatch.undo()
    assert {p: p.read_bytes() for p in disk.rglob("*") if p.is_file()} == before  # nothing written, nothing lost


def test_a_lock_on_a_disk_gone_read_only_stays_with_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    lock = BatchLock(tmp_path).acquire()
    _read_only(monkeypatch, tmp_path)
    lock.release()  # before: the OSError, after the batch's own error, as a traceback
    monkeypatch.undo()
    assert (tmp_path / LOCK_NAME).exists() and "could not be removed (Read-only file system)" in caplog.text


def test_record_writes_reach_the_disk_before_they_replace_the_old(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    folder = fake_pictures(tmp_path / "in", 3)
    out = tmp_path / "out"
    out.mkdir()
    order: list[tuple[str, int]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        order.append(("fsync", os.fstat(fd).st_ino))
        real_fsync(fd)

    def replace(src: str | Path, dst: str | Path, *args: object, **kwargs: object) -> None:
        if Path(dst).name == "batch.json":
            order.append(("replace", os.stat(src).st_ino))
        real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    run_fake_batch(out, folder)
    replaced = [i for i, (what, _) in enumerate(order) if what == "replace"]
    assert replaced, "batch.json was never replaced"
    for at in replaced:
        assert ("fsync", order[at][1]) in order[:at], "batch.json replaced by a file not yet on the disk"
        if os.name != "nt":  # the rename itself reaches the disk: the folder is synced after it
            assert ("fsync", out.stat().st_ino) in order[at + 1:], "the folder was not synced after the rename"


def test_a_second_batch_on_the_folder_is_refused_while_the_first_holds_it(tmp_path: Path) -> None:
    folder = fake_pictures(tmp_path / "in", 1)
    out = tmp_path / "out"
    out.mkdir()
    first = BatchLock(out).acquire()
    made: list[int] = []

    def pool_factory(settings: BatchSettings, count: int) -> FakePool:
        made.append(count)
        return FakePool(out)

    with pytest.raises(ProtocolError) as refused:
        run_batch(BatchSettings(inputs=[str(folder)], out=out), pool_factory=pool_factory)
    assert refused.value.code is ErrorCode.BUSY
    assert f"process {os.getpid()} on {socket.gethostname()}" in refused.value.message
    assert made == [] and sorted(p.name for p in out.iterdir()) == [LOCK_NAME]  # nothing started, nothing written
    first.release()
    report, _, _ = run_fake_batch(out, folder)
    assert report.counts["done"] == 1 and not (out / LOCK_NAME).exists()  # released at the end


def _write_lock(out: Path, pid: int, host: str, process_started: float = 0.0) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / LOCK_NAME).write_text(json.dumps({"pid": pid, "host": host, "since": "2026-01-01T00:00:00+00:00",
                                             "process_started": process_started}))


def test_a_lock_whose_batch_is_gone_is_taken_and_one_on_another_host_refuses(tmp_path: Path) -> None:
    folder = fake_pictures(tmp_path / "in", 1)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          timeout=60)
    _write_lock(tmp_path / "dead", int(gone.stdout), socket.gethostname())
    assert run_fake_batch(tmp_path / "dead", folder)[0].counts["done"] == 1
    # This very process id, but another process (its start time differs): the id was given out again.
    _write_lock(tmp_path / "reused", os.getpid(), socket.gethostname(), process_started=1.0)
    assert run_fake_batch(tmp_path / "reused", folder)[0].counts["done"] == 1
    _write_lock(tmp_path / "far", 1, "gpu-node-elsewhere")
    with pytest.raises(ProtocolError, match="process 1 on gpu-node-elsewhere.*another machine.*remove"):
        run_fake_batch(tmp_path / "far", folder)
    assert not (tmp_path / "far" / "batch.json").exists()


HOLDER = """
import sys, time
from pathlib import Path
from img23d_backend.batch.lock import BatchLock
BatchLock(Path(sys.argv[1])).acquire()
print("held", flush=True)
time.sleep(120)
"""


def test_the_batch_command_refuses_a_folder_another_batch_holds(backend_env: dict[str, str], tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    folder = fake_pictures(tmp_path / "in", 1)
    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], env=backend_env, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout is not None, "no pipe from the holder"
        assert holder.stdout.readline().strip() == "held", "the holder never took the lock"
        # The command in this process (cli_inprocess), the lock in another: a process of its own paid about 4.5
        # CPU-seconds of imports before it refused.
        refused = run_cli(capsys, "batch", folder, "--out", out)
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert refused.returncode == 1, refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and f"process {holder.pid}" in refused.stderr
    assert not (out / "batch.json").exists()


def test_a_killed_driver_loses_no_change_and_the_snapshot_follows_within_seconds(tmp_path: Path) -> None:
    now = [0.0]
    entries = [Entry(f"/p/{i}.png", f"sha{i}", [], "k") for i in range(3)]
    record = BatchRecord(tmp_path, entries, {}, clock=lambda: now[0])
    record.save()
    entries[0].status = "done"
    record.changed(0)
    on_disk = json.loads((tmp_path / "batch.json").read_text())["pictures"]
    assert on_disk[0]["status"] == "pending"  # not rewritten for one change...
    assert BatchRecord.previous(tmp_path).pictures[0].status == "done"  # ...but not lost: the journal has it
    now[0] += SNAPSHOT_MIN_SECONDS
    record.tick()
    assert json.loads((tmp_path / "batch.json").read_text())["pictures"][0]["status"] == "done"
    assert (tmp_path / JOURNAL_NAME).stat().st_size == 0  # folded into the snapshot
    entries[1].status = "failed"
    record.changed(1)
    with open(tmp_path / JOURNAL_NAME, "ab") as journal:  # a driver killed while it wrote a line
        journal.write(b'{"run": "' + record.run.encode() + b'", "seq": 99, "i": 2, "e": {"ima')
    seen = BatchRecord.previous(tmp_path)
    assert seen.unreadable is None and [e.status for e in seen.pictures] == ["done", "failed", "pending"]
    record.close("finished")
    assert not (tmp_path / JOURNAL_NAME).exists()


def test_a_big_record_is_rewritten_less_often(tmp_path: Path) -> None:
    now = [0.0]
    entries = [Entry(f"/pictures/{i:05d}.png", f"{i:064x}", [], "k") for i in range(3000)]
    record = BatchRecord(tmp_path, entries, {}, clock=lambda: now[0])
    record.save()
    size = (tmp_path / "batch.json").stat().st_size
    wait = size / SNAPSHOT_RATE
    assert wait > 2 * SNAPSHOT_MIN_SECONDS, f"the test's record is too small ({size} bytes)"
    for i in range(100):
        now[0] += wait / 50
        entries[i].status = "done"
        record.changed(i)
    assert record.files.snapshots in (2, 3), record.files.snapshots  # the first, then one per `wait`


def _bytes_written() -> int | None:
    """Bytes this process has passed to write() so far (Linux), or None."""
    try:
        return int(dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())["wchar"])
    except (OSError, KeyError, ValueError):
        return None


def test_ten_thousand_pictures_are_not_ten_thousand_rewrites(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = fake_pictures(tmp_path / "in", 10_000)
    out = tmp_path / "out"
    rewrites: list[int] = []
    real_replace = os.replace

    def replace(src: str | Path, dst: str | Path, *args: object, **kwargs: object) -> None:
        if Path(dst).name == "batch.json":
            rewrites.append(os.stat(src).st_size)
            assert len(rewrites) <= 50, f"batch.json rewritten {len(rewrites)} times in {len(rewrites) // 2} pictures"
        real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    before, started = _bytes_written(), time.monotonic()
    report, _, _ = run_fake_batch(out, folder, pool=FakePool(out, workers=8, make_runs=False))
    after, seconds = _bytes_written(), time.monotonic() - started
    assert report.counts["done"] == 10_000 and seconds < RUN_TIMEOUT
    final = (out / "batch.json").stat().st_size
    assert sum(rewrites) <= 2 * final + seconds * SNAPSHOT_RATE + final, rewrites
    if before is not None and after is not None:  # everything written: snapshots, the journal, the rest
        assert after - before < 8 * final + seconds * SNAPSHOT_RATE, f"{after - before} bytes for a {final}-byte record"
    assert not (out / JOURNAL_NAME).exists() and not (out / LOCK_NAME).exists()


def test_a_folders_picture_whose_name_is_not_utf8_fails_alone_in_one_sentence(tmp_path: Path) -> None:
    """A Latin-1 'café.png' in a folder: the record, JSON, could not hold its name, and the whole batch ended in a
    traceback (UnicodeEncodeError) before any picture ran."""
    import os

    from img23d_backend.batch.inputs import read_inputs

    folder = tmp_path / "pictures"
    folder.mkdir()
    latin = folder / os.fsdecode(b"caf\xe9.png")
    latin.write_bytes(b"")
    (folder / "ok.png").write_bytes(b"")
    [odd, fine] = sorted(read_inputs([str(folder)]), key=lambda item: item.image is not None)
    assert fine.image == (folder / "ok.png").resolve() and not fine.problem
    assert odd.image is None and odd.problem == (f"{folder}/caf\\udce9.png: its file name is not UTF-8 text (a name "
                                                 "from another system's encoding): rename it")
    odd.problem.encode("utf-8")  # the record can hold it
