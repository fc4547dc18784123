"""Print Selected's mesh files in real Blender (issue 97): what the backend would refuse (more objects than a
print takes, a name it cannot take, nothing with faces, no mesh) is one sentence before a file is written; the
files a print writes into the runs folder's ``_inputs`` stay while its job runs (the backend reads them) and are
gone once it has ended, finished, failed or cancelled, or when it is refused; the artist's files stay."""

from __future__ import annotations

import errno
from pathlib import Path
from types import SimpleNamespace

import pytest

bpy = pytest.importorskip("bpy")

from blender_support import JOB_TIMEOUT, _module  # noqa: E402
from fault_support import _protocol, _runs_dir  # noqa: E402

MAX = 256  # the protocol's MAX_PRINT_OBJECTS


def _inputs() -> set[str]:
    """What the runs folder's ``_inputs`` holds now, files and folders, relative to it."""
    folder = _runs_dir() / "_inputs"
    return {str(path.relative_to(folder)) for path in folder.rglob("*")} if folder.is_dir() else set()


def _cube(name: str, location: tuple[float, float, float] = (0.0, 0.0, 0.0)):
    bpy.ops.mesh.primitive_cube_add(size=2.0, location=location)
    cube = bpy.context.active_object
    cube.name = name
    return cube


def _select(*objects) -> None:
    for obj in bpy.context.view_layer.objects:
        obj.select_set(obj in objects)
    bpy.context.view_layer.objects.active = objects[0] if objects else None


def _refused(match: str) -> None:
    """Print Selected refuses in one sentence matching ``match``, with no file written and no job."""
    before = _inputs()
    with pytest.raises(RuntimeError, match=match):
        bpy.ops.img23d.print_selected()
    assert _inputs() == before


def test_more_objects_than_a_print_takes_are_refused_before_a_file_is_written(addon, scene) -> None:
    cube = _cube("Crate")
    crates = [cube]
    for index in range(299):  # 300 in all, sharing one mesh: as a scattered crowd would
        copy = cube.copy()
        copy.location.x = 3.0 * (index + 1)
        scene.collection.objects.link(copy)
        crates.append(copy)
    _select(*crates)
    scene.img23d.printing.object = ""
    _refused(rf"300 objects are chosen to print, more than the {MAX} one print takes: select fewer and print them "
             "in turns")  # before: 300 files written, then "at most 256 objects per print, got 300", and left there
    assert _module(addon, "runtime").active_runner is None


def test_a_name_the_backend_cannot_take_or_nothing_to_print_is_refused_before_a_file_is_written(addon,
                                                                                                 scene) -> None:
    scene.img23d.printing.object = ""
    bpy.ops.object.empty_add()
    _select(bpy.context.active_object)
    _refused("No mesh object is chosen: select mesh objects to print")
    hidden = _cube("Cube\u200b")
    _select(hidden)
    _refused(r"The name of 'Cube\\u200b' contains an invisible or line-breaking character .*: type it again "
             "without it")
    hidden.name = "   "
    _refused("The name of '   ' is empty: rename it to print it")
    lamp, spaced = _cube("Lamp"), _cube("Lamp ", (3.0, 0.0, 0.0))
    _select(lamp, spaced)
    _refused("'Lamp' and 'Lamp ' would print under one name, 'Lamp': rename one of them")
    empty = lamp.modifiers.new("nothing", "MASK")
    empty.vertex_group = "none of its groups"  # every face masked away: nothing of it is left to print
    _select(lamp)
    _refused("'Lamp' has no faces to print: nothing is left to print")
    assert _module(addon, "runtime").active_runner is None


def test_a_print_removes_its_own_mesh_files_once_its_job_has_ended(addon, scene, monkeypatch) -> None:
    folder = _runs_dir() / "_inputs"
    (folder / "mine").mkdir(parents=True, exist_ok=True)  # the artist's: a folder and a file named like a print's
    (folder / "mine" / "notes.txt").write_text("kept", encoding="utf-8")
    (folder / "Box-print-0000beef.npz").write_bytes(b"the artist's")
    before = _inputs()
    box = _cube("Box")
    _select(box)
    scene.img23d.printing.object, scene.img23d.printing.height_mm = "", 40.0
    waiting = _module(addon, "operators._wait")
    real, seen = waiting.wait_to_end, []

    def watched(wait, **kwargs) -> None:
        seen.append(_inputs() - before)  # the job was sent: its file is there for the backend to read

        def step(wait_now) -> None:
            seen.append(_inputs() - before)

        real(wait, timeout=JOB_TIMEOUT, on_step=step)

    monkeypatch.setattr(waiting, "wait_to_end", watched)
    assert bpy.ops.img23d.print_selected() == {"FINISHED"}
    assert seen and all(len(new) == 1 and next(iter(new)).startswith("Box-print-") for new in seen)
    assert _inputs() == before  # its own file gone; the artist's file and folder stay


def test_a_failed_print_and_a_cancelled_one_leave_no_mesh_file(addon, scene, fresh_backend) -> None:
    _select(_cube("Vase"))
    scene.img23d.printing.object, scene.img23d.printing.height_mm = "", 40.0
    before = _inputs()
    fresh_backend.setenv("IMG23D_FAILPOINTS", "write.3mf:enospc")  # the disk is full as the plate is written
    with pytest.raises(RuntimeError, match="the disk is full: the print could not be written"):
        bpy.ops.img23d.print_selected()
    assert _inputs() == before
    fresh_backend.delenv("IMG23D_FAILPOINTS")
    addon.runtime.shutdown()  # the next print starts the backend: cancelled while it starts, never sent
    waiting = _module(addon, "operators._wait")
    real = waiting.wait_to_end
    ended = []

    def cancelled_at_once(wait, **kwargs) -> None:  # the artist pressed Esc
        wait.cancel()
        real(wait, timeout=JOB_TIMEOUT)
        ended.append(wait.outcome)

    fresh_backend.setattr(waiting, "wait_to_end", cancelled_at_once)
    assert bpy.ops.img23d.print_selected() == {"CANCELLED"}
    assert ended[0].cancelled
    assert _inputs() == before


def test_a_print_refused_while_writing_or_sending_leaves_none_of_its_files(addon, scene, monkeypatch) -> None:
    print_meshes = _module(addon, "print_meshes")
    _select(_cube("Chair"), _cube("Table", (3.0, 0.0, 0.0)))
    scene.img23d.printing.object = ""
    real, calls = print_meshes.write_world_mesh, []

    def disk_full_at_the_second(context, obj, path) -> None:
        calls.append(obj.name)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(context, obj, path)

    monkeypatch.setattr(print_meshes, "write_world_mesh", disk_full_at_the_second)
    _refused(r"Could not write '(Chair|Table)' for the backend to .*_inputs: No space left on device")
    assert len(calls) == 2  # the first was written, and is gone
    monkeypatch.setattr(print_meshes, "write_world_mesh", real)
    protocol = _protocol()
    session = addon.runtime.session()

    def unavailable(request) -> str:
        raise protocol.ProtocolError(protocol.ErrorCode.BACKEND_UNAVAILABLE, "the backend could not start (a test)")

    monkeypatch.setattr(session, "submit", unavailable)
    _refused(r"the backend could not start \(a test\)")  # both written, then no job: both gone


def test_the_files_of_a_job_still_running_stay_until_it_has_ended(addon, scene, tmp_path: Path) -> None:
    """Blender ended the modal wait (a file loaded) while the backend still prints: the files stay while the
    session holds the job, and go when a later look finds it ended."""
    print_meshes = _module(addon, "print_meshes")
    operator = _module(addon, "operators.print_selected")
    stool = _cube("Stool")
    files = print_meshes.PrintFiles.plan([stool], tmp_path)
    files.write(bpy.context, [stool])
    (tmp_path / "kept.txt").write_text("the artist's", encoding="utf-8")
    session = SimpleNamespace(job_id="print-1")
    meshes = operator.JobMeshes(session, "print-1", files)
    assert meshes() == operator.POLL_SECONDS and files.planned["Stool"].is_file()
    session.job_id = None  # its result, error or cancel arrived, or the backend stopped
    assert meshes() is None and meshes.left == ""
    assert sorted(path.name for path in tmp_path.iterdir()) == ["kept.txt"]


def test_an_object_of_more_triangles_than_a_print_takes_is_left_out_before_its_file_is_written(addon, scene,
                                                                                             monkeypatch) -> None:
    """The protocol's ``MAX_PRINT_TRIANGLES`` (the limits table, the backend's too) is weighed on the mesh as it will
    be written, every modifier applied: an object past it is one sentence, and no file of it is written for the
    backend to read and refuse. The limit is lowered here: two million triangles are seconds of Blender's time."""
    print_meshes = _module(addon, "print_meshes")
    monkeypatch.setattr(_protocol(), "MAX_PRINT_TRIANGLES", 12)
    scene.img23d.printing.object = ""
    crate, statue = _cube("Crate"), _cube("Statue", (3.0, 0.0, 0.0))
    statue.modifiers.new("finer", "SUBSURF").levels = 1  # 24 quads as written: 48 triangles
    pick = print_meshes.PrintPick([crate, statue])
    assert print_meshes.printable(bpy.context, pick) == [crate]  # 12 triangles: exactly as many as a print takes
    assert pick.skipped == ["'Statue' has 48 triangles, more than the 12 a print takes: it is not printed (decimate "
                            "it first with the Decimate modifier)"]
    _select(statue)
    _refused(r"'Statue' has 48 triangles, more than the 12 a print takes: it is not printed \(decimate it first with "
             r"the Decimate modifier\): nothing is left to print")
    assert _module(addon, "runtime").active_runner is None
