"""Tests for runs/folders.py: file names from user text, run folders, paths inside a run, and the manifest."""

from __future__ import annotations

import json
import os
import unicodedata
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import pytest
from img23d_protocol import ErrorCode, JobOptions, ProtocolError

from img23d_backend.runs import folders
from img23d_backend.runs.folders import Manifest, RunFolder, TargetRecord
from img23d_backend.runs.stems import safe_stem
from run_files import manifest, tmp_leftovers

WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)),
                    *(f"lpt{i}" for i in range(1, 10))}
NOT_PORTABLE = set('<>:"/\\|?*')

AWKWARD_NAMES = [
    "red barrel", "../../etc/passwd", "a/b\\c", "..", ".", "", "   ", "CON", "nul", "Com1", "lpt9",
    "x" * 5000, "ünïcødé 家", "a/b", "a_b", "a b", "a\\b", "a:b", "a__b", ".hidden", "-rf", "___",
    "door\x00knob", "tab\there", "名前/で/す", "\u202eevil", "Ａ", "A", "ﬁsh", "fish", "CON_", "target",
    "x" * 5000 + "y", "café", "cafe\u0301", "trailing.", "emoji 🛢️ barrel", "a" * 60, "a" * 61,
]


def frozen_clock(monkeypatch, when=datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)):
    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return when

    monkeypatch.setattr(folders, "datetime", Frozen)


@pytest.fixture
def run(tmp_path) -> RunFolder:
    return RunFolder.create(tmp_path / "runs", "house_scene", manifest())


# --- safe_stem --------------------------------------------------------------------------------

def test_readable_names_stay_readable():
    assert safe_stem("barrel") == "barrel"
    assert safe_stem("red barrel").startswith("red_barrel")
    assert safe_stem("ünïcødé 家").startswith("ünïcødé_家")


@pytest.mark.parametrize("name", AWKWARD_NAMES, ids=lambda n: repr(n)[:24])
def test_every_stem_is_a_safe_file_name(name):
    stem = safe_stem(name)
    assert stem
    assert "/" not in stem and "\\" not in stem and os.sep not in stem
    assert not stem.startswith(".") and not stem.startswith("-")
    assert not stem.endswith(".") and not stem.endswith(" ")
    assert not (NOT_PORTABLE & set(stem))
    assert all(ch.isprintable() for ch in stem)
    assert stem.casefold() not in WINDOWS_RESERVED
    assert stem not in (".", "..")
    assert len(stem) <= 70
    # Usable as a real file name here.
    assert Path(stem).name == stem


def test_a_name_with_a_lone_surrogate_has_a_stem() -> None:
    """A file name that is not UTF-8 reaches Python with lone surrogates: hashing it for the stem raised."""
    stem = safe_stem("caf\udce9")
    assert stem.startswith("caf") and stem != safe_stem("caf\udce8")


def test_a_stem_of_four_byte_letters_leaves_room_for_every_suffix(tmp_path: Path) -> None:
    """70 letters of CJK Extension B made a 60-letter stem of 247 bytes: with ".splat.ply" or "-2-v2.glb" past the
    255 bytes of a file name, and the whole job failed ("File name too long")."""
    name = "\U00020000" * 70
    stem = safe_stem(name)
    assert len(stem.encode("utf-8")) <= 127 and stem != safe_stem("\U00020000" * 69)
    (tmp_path / f"{stem}-2-v2.splat.ply").write_bytes(b"")   # as long as any file a run writes for it


@pytest.mark.parametrize("name", ["..", "", "   ", "___"])
def test_names_with_nothing_usable_still_get_a_stem(name):
    assert safe_stem(name).startswith("target")


@pytest.mark.parametrize("name", ["CON", "nul", "Com1", "LPT9", "aux"])
def test_windows_device_names_are_changed(name):
    assert safe_stem(name).casefold() != name.casefold()
    assert safe_stem(name).casefold().startswith(name.casefold())


def test_long_name_is_shortened_with_a_hash():
    stem = safe_stem("x" * 5000)
    assert 60 <= len(stem) <= 70
    assert safe_stem("x" * 5000) == stem                    # deterministic across runs
    assert safe_stem("x" * 4999 + "y") != stem


def test_different_names_in_one_run_never_share_a_stem(tmp_path):
    # "Different" as the protocol counts names: validate_targets trims and NFC-normalises.
    names = list({unicodedata.normalize("NFC", n).strip(): n for n in reversed(AWKWARD_NAMES)}.values())
    assert "Ａ" in names and "A" in names and "ﬁsh" in names and "fish" in names
    names += ["red barrel", "red_barrel", "a b", "a_b"]
    run = RunFolder.create(tmp_path, "scene", manifest())
    stems = [run.unique_stem(name, 1) for name in names]
    assert len({s.casefold() for s in stems}) == len(names)


@pytest.mark.parametrize("a, b", [("a/b", "a_b"), ("a:b", "a_b"), ("Ａ", "A"), ("..x", "x"), ("CON", "CON_")])
def test_names_differing_by_a_replaced_character_get_different_stems(a, b):
    assert safe_stem(a) != safe_stem(b)


@pytest.mark.parametrize("name, stem", [("red barrel", "red_barrel"), ("ünïcødé 家", "ünïcødé_家"),
                                        ("big  old\ttree", "big_old_tree")])
def test_names_that_only_lose_spaces_stay_readable(name, stem):
    assert safe_stem(name) == stem


# --- RunFolder.create ----------------------------------------------------------------------------

def test_create_writes_a_manifest_in_a_folder_named_after_the_image(tmp_path, monkeypatch):
    frozen_clock(monkeypatch)
    run = RunFolder.create(tmp_path / "deep" / "runs", "red barrel", manifest())
    assert run.root.parent == tmp_path / "deep" / "runs"
    assert run.root.name.startswith("20240506-070809-")
    assert "red_barrel" in run.root.name
    assert (run.root / "manifest.json").is_file()


def test_create_twice_in_the_same_second_never_reuses_a_folder(tmp_path, monkeypatch):
    frozen_clock(monkeypatch)
    first = RunFolder.create(tmp_path, "house", manifest(job_id="a"))
    second = RunFolder.create(tmp_path, "house", manifest(job_id="b"))
    third = RunFolder.create(tmp_path, "house", manifest(job_id="c"))
    roots = {first.root, second.root, third.root}
    assert len(roots) == 3
    for run, job in ((first, "a"), (second, "b"), (third, "c")):
        assert json.loads((run.root / "manifest.json").read_text())["job_id"] == job
        assert "house" in run.root.name


def test_create_does_not_reuse_an_existing_folder(tmp_path, monkeypatch):
    frozen_clock(monkeypatch)
    first = RunFolder.create(tmp_path, "house", manifest())
    (first.root / "barrel.glb").write_bytes(b"glTF")
    (tmp_path / f"{first.root.name}-2").mkdir()       # also taken, by someone else
    second = RunFolder.create(tmp_path, "house", manifest())
    assert second.root.name == f"{first.root.name}-3"
    # A running job's folder: its manifest, and the room reserved to close it on a full disk.
    assert sorted(p.name for p in second.root.iterdir()) == [folders.RESERVE_NAME, "manifest.json"]


@pytest.mark.parametrize("image_name", ["../../escape.png", "/etc/passwd", "a/b/c.png", ".png", "..", ""])
def test_run_folder_stays_in_the_runs_dir(tmp_path, image_name):
    runs_dir = tmp_path / "runs"
    run = RunFolder.create(runs_dir, image_name, manifest())
    assert run.root.parent == runs_dir
    assert not run.root.name.startswith(".")


def test_a_label_with_a_dot_keeps_what_follows_it(tmp_path):
    """retopo --name chair.low made '<time>-chair': the label's '.low-retopo' was taken off as a file suffix."""
    from img23d_backend.jobs.kinds.retopo import RetopoRun
    from img23d_protocol import JobOptions, RetopoRequest

    label = RetopoRun.folder_label(RetopoRequest(id="r", mesh="m.npz", name="chair.low", options=JobOptions()))
    run = RunFolder.create(tmp_path, label, manifest())
    assert "chair_low-retopo" in run.root.name


def test_long_image_name_gives_a_bounded_folder_name(tmp_path):
    run = RunFolder.create(tmp_path, "p" * 5000 + ".png", manifest())
    assert len(run.root.name) < 80


# --- unique_stem and path --------------------------------------------------------------------------

def test_unique_stem_deduplicates(run):
    stems = [run.unique_stem("door", 1), run.unique_stem("door", 1), run.unique_stem("door", 2),
             run.unique_stem("door-2", 1), run.unique_stem("Door", 1), run.unique_stem("door", 1)]
    assert stems[0] == "door" and stems[2] == "door-2"
    assert len({s.casefold() for s in stems}) == len(stems)   # distinct on case-blind disks too


def test_unique_stem_of_names_that_collapse_to_one_stem(run):
    stems = [run.unique_stem(name, 1) for name in ("Ａ", "A", "a")]
    assert len({s.casefold() for s in stems}) == 3


@pytest.mark.parametrize("relative", ["../x", "../../etc/passwd", "sub/../../x", "/etc/passwd", "..", "./../x"])
def test_path_refuses_to_leave_the_run(run, relative):
    with pytest.raises(ProtocolError) as excinfo:
        run.path(relative)
    assert excinfo.value.code == ErrorCode.BAD_REQUEST
    assert "leave the run folder" in excinfo.value.message


def test_path_refuses_a_symlink_out_of_the_run(run, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (run.root / "link").symlink_to(outside)
    with pytest.raises(ProtocolError):
        run.path("link/secret.txt")


@pytest.mark.parametrize("relative", ["a.glb", "crops/a.png", "x/../y.json", "."])
def test_path_inside_the_run_is_fine(run, relative):
    path = run.path(relative)
    assert path == run.root.resolve() or run.root.resolve() in path.parents


def test_writing_outside_the_run_is_refused_and_writes_nothing(run, tmp_path):
    with pytest.raises(ProtocolError):
        run.write_json("../escaped.json", {"a": 1})
    assert not (run.root.parent / "escaped.json").exists()


# --- manifest ------------------------------------------------------------------------------------

def test_manifest_round_trips_through_the_file(run):
    m = run.manifest
    m.image = {"path": "/pics/house.png", "size": [1024, 768], "scale": 0.5, "has_alpha": True}
    m.targets = ["door", "家"]
    m.options = asdict(JobOptions(steps=3, keep="all"))
    m.device = "cpu"
    m.models = {"shape": {"id": "tiny", "revision": "abc"}}
    m.timings = {"detect": 1.25, "shape": 10.0}
    m.memory_peaks = {"shape": 123456789}
    m.model_counters = {"loads": 2}
    m.records = [
        TargetRecord(target="door", stem="door", status="done", box=[1.0, 2.0, 30.5, 40.0], score=0.9, seed=1,
                     crop="crops/door.png", matte="mattes/door.png", mesh="door.glb", faces=2000, vertices=1002),
        TargetRecord(target="家", instance=2, stem="家-2", status="failed",
                     error={"code": "shape_failed", "message": "no surface"}),
    ]
    m.errors = [{"code": "target_not_found", "message": "no chimney", "target": "chimney"}]
    path = run.save_manifest()
    assert path == run.path("manifest.json")
    loaded = Manifest.from_dict(json.loads(path.read_text(encoding="utf-8")))
    assert loaded == m
    assert isinstance(loaded.records[0], TargetRecord)
    assert tmp_leftovers(run.root) == []


def test_finish_records_status_and_time(run):
    run.finish("cancelled")
    on_disk = Manifest.from_dict(json.loads((run.root / "manifest.json").read_text()))
    assert on_disk.status == "cancelled"
    assert on_disk.finished is not None
    assert datetime.fromisoformat(on_disk.finished) >= datetime.fromisoformat(on_disk.created)
