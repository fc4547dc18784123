"""``print`` against a hostile run folder and a failing disk (issue 97's printing faults 3 and 4, and five more): each
fault injected, and what the artist sees asserted: the sentence, the exit code, the files left.

- a run of more objects than a plate takes, refused before a mesh is read; a plate larger than a common bed, said;
- a name holding a NUL (lib3mf cut it there and the object was lost from the 3MF, while print.json called it
  printed): cleaned before lib3mf, kept apart from a name that cleans the same, and a check that fails is that
  object's, which is then not printed (exit 3);
- a manifest, a ``relayout.json`` or a PLY header too large to read, one sentence each;
- a disk that fills while the files are written: the print's folder taken away, one sentence;
- the models that made each object named in the 3MF's metadata (read with the standard library) and print.json.
"""

from __future__ import annotations

import errno
import json
import xml.etree.ElementTree as ElementTree
import zipfile
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trimesh

from cli_inprocess import RunCli, run_cli
from run_files import two_object_run
from img23d_protocol import MAX_PRINT_OBJECTS
from img23d_protocol.run_manifest import MAX_RUN_JSON_BYTES

CORE = "{http://schemas.microsoft.com/3dmanufacturing/core/2015/02}"


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> RunCli:
    """The command line in this process (``print`` loads no model)."""
    return partial(run_cli, capsys)


def _errors(out: Any) -> list[str]:
    assert "Traceback" not in out.stderr, out.stderr
    return [line for line in out.stderr.splitlines() if line.startswith("error: ")]


def _model(path: Path) -> ElementTree.Element:
    """The 3MF's model part as a slicer reads it: the standard library's zip and XML readers, no lib3mf."""
    with zipfile.ZipFile(path) as archive:
        return ElementTree.fromstring(archive.read("3D/3dmodel.model"))


def test_a_run_of_more_objects_than_a_plate_takes_is_one_sentence_before_a_mesh_is_read(
        tmp_path: Path, cli: RunCli) -> None:
    def many(data: dict[str, Any]) -> None:
        house = data["records"][0]
        data["records"] = [dict(house, target=f"house {n}", stem=f"house_{n}", mesh=f"house_{n}.glb")
                           for n in range(300)] + [house]
        data["targets"] = [record["target"] for record in data["records"]]

    run = two_object_run(tmp_path, many)  # none of the 300 houses' GLBs is there: a mesh read would be a sentence of its own
    out = cli("print", run, "--height-mm", "80")
    assert out.returncode == 2
    assert _errors(out) == [f"error: {run.name} has 301 finished objects; a print takes at most {MAX_PRINT_OBJECTS} "
                            "on one plate: pick some with --only [bad_request]"]
    assert not list(run.glob("print*"))
    picked = cli("print", run, "--height-mm", "80", "--only", "house")  # the limit counts what --only leaves
    assert picked.returncode == 0, picked.stdout + picked.stderr
    assert [item["name"] for item in json.loads((run / "print" / "print.json").read_text())["objects"]] == ["house"]


def test_a_plate_larger_than_a_common_bed_is_printed_with_a_sentence_naming_its_size(
        tmp_path: Path, cli: RunCli) -> None:
    run = two_object_run(tmp_path)
    out = cli("print", run, "--height-mm", "300", "--object", "house")
    assert out.returncode == 0, out.stdout + out.stderr
    record = json.loads((run / "print" / "print.json").read_text(encoding="utf-8"))
    width, depth = record["plate"]["size_mm"]
    assert width > 256
    said = [line for line in out.stdout.splitlines() if line.startswith("the plate is ")]
    assert said == [f"the plate is {width:,.0f} x {depth:,.0f} mm, larger than a common bed (256 x 256 mm): print "
                    "fewer objects at once (--only) or a smaller --height-mm, or split it in the slicer"]
    assert record["notes"] == said
    small = cli("print", run, "--height-mm", "40")
    assert small.returncode == 0 and "the plate is" not in small.stdout
    assert json.loads((Path(small.stdout.split("print folder: ")[1].strip()) / "print.json").read_text())["notes"] \
        == []


def test_names_with_control_characters_are_cleaned_for_the_3mf_and_kept_apart(tmp_path: Path, cli: RunCli) -> None:
    def hostile(data: dict[str, Any]) -> None:
        data["records"][0]["target"] = "ho\u0000use"
        data["records"][1]["target"] = "ho\u0001use"   # cleans to the same name: it must stay a second object
        data["targets"] = ["ho\u0000use", "ho\u0001use"]

    run = two_object_run(tmp_path, hostile)
    out = cli("print", run, "--height-mm", "80")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "\x00" not in out.stdout and "\x01" not in out.stdout
    names = [item.get("name") for item in _model(run / "print" / "plate.3mf").iter(CORE + "object")]
    assert names == ["ho use", "ho use 2"]
    record = json.loads((run / "print" / "print.json").read_text(encoding="utf-8"))
    assert [(item["name"], item["printed"]) for item in record["objects"]] == [("ho use", True), ("ho use 2", True)]
    assert all(check["passed"] for item in record["objects"] for check in item["checks"])


def test_an_object_missing_from_the_3mf_read_back_is_not_printed_and_the_exit_code_says_so(
        tmp_path: Path, cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    from img23d_backend.printing import plate_files

    read = plate_files.read_3mf

    def loses_the_chimney(path: Path) -> Any:  # as lib3mf lost "ho\0use": the name cut, the object not found
        unit, found = read(path)
        return unit, [item for item in found if item.name != "chimney"]

    monkeypatch.setattr(plate_files, "read_3mf", loses_the_chimney)
    run = two_object_run(tmp_path)
    out = cli("print", run, "--height-mm", "80")
    assert out.returncode == 3, out.stdout + out.stderr
    assert "chimney is missing from plate.3mf as read back, so it is not printed" in out.stdout.splitlines()
    record = json.loads((run / "print" / "print.json").read_text(encoding="utf-8"))
    chimney = next(item for item in record["objects"] if item["name"] == "chimney")
    assert not chimney["printed"]
    assert {"file": "plate.3mf", "passed": False, "failure": "it is missing from plate.3mf as read back"} \
        in chimney["checks"]
    assert next(item for item in record["objects"] if item["name"] == "house")["printed"]


def test_a_3mf_that_cannot_be_read_back_fails_every_objects_check(
        tmp_path: Path, cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    import lib3mf

    from img23d_backend.printing import plate_files

    def unreadable(_: Path) -> Any:
        raise lib3mf.ELib3MFException(3, "the model could not be read")

    monkeypatch.setattr(plate_files, "read_3mf", unreadable)
    run = two_object_run(tmp_path)
    out = cli("print", run, "--height-mm", "80")
    assert out.returncode == 3, out.stdout + out.stderr
    record = json.loads((run / "print" / "print.json").read_text(encoding="utf-8"))
    assert [item["printed"] for item in record["objects"]] == [False, False]
    assert all(any(not check["passed"] for check in item["checks"]) for item in record["objects"])


def test_a_relayout_json_too_large_is_one_sentence_naming_it(tmp_path: Path, cli: RunCli) -> None:
    run = two_object_run(tmp_path)
    with open(run / "relayout.json", "wb") as handle:
        handle.truncate(MAX_RUN_JSON_BYTES + 1)   # sparse: no 16 MB written, all of it there to read
    out = cli("print", run, "--height-mm", "80")
    assert out.returncode == 2
    assert _errors(out) == [f"error: {run / 'relayout.json'} is larger than the 16 MB any relayout writes, so it "
                            "is not read: move it out of the run to print the layout the manifest records "
                            "[bad_request]"]
    assert not list(run.glob("print*"))


def test_a_manifest_too_large_is_one_sentence_naming_the_run(tmp_path: Path, cli: RunCli) -> None:
    run = two_object_run(tmp_path)
    with open(run / "manifest.json", "ab") as handle:
        handle.truncate(MAX_RUN_JSON_BYTES + 1)
    out = cli("print", run, "--height-mm", "80")
    assert out.returncode == 2
    assert _errors(out) == [f"error: {run} is not a run folder img23d can read: its manifest.json is larger than "
                            "the 16 MB any run writes, so it is not read [bad_request]"]
    assert not list(run.glob("print*"))


def test_a_ply_declaring_too_many_faces_behind_a_long_header_is_refused_before_loading(
        tmp_path: Path, cli: RunCli) -> None:
    comments = b"".join(b"comment " + b"x" * 90 + b"\n" for _ in range(720))   # 70 KB, past the 64 KB once read
    long = tmp_path / "long.ply"
    long.write_bytes(b"ply\nformat binary_little_endian 1.0\n" + comments + b"element vertex 3\nproperty float x\n"
                     b"property float y\nproperty float z\nelement face 2200000\n"
                     b"property list uchar int vertex_indices\nend_header\n")
    endless = tmp_path / "endless.ply"
    endless.write_bytes(b"ply\nformat ascii 1.0\n" + b"comment " + b"x" * (1 << 20) + b"\n")
    said = {}
    for mesh in (long, endless):
        out = cli("print", mesh, "--height-mm", "50", "--out", tmp_path / "runs")
        assert out.returncode == 2
        said[mesh.stem] = _errors(out)
    assert said["long"] == ["error: long.ply has 2,200,000 triangles; a print takes at most 2,000,000 (finer than "
                            "any printer shows): decimate it first (the panel's Finish, or retopo --topology "
                            "triangles) [bad_request]"]
    assert said["endless"] == ["error: endless.ply's PLY header runs past 1 MB with no end_header, more than any "
                               "mesh's header: it is not read [bad_request]"]
    assert not (tmp_path / "runs").exists()


def test_a_disk_that_fills_while_the_stls_are_written_leaves_no_print(
        tmp_path: Path, cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    from img23d_backend.printing import plate_files

    def full(path: Path, *_: object) -> None:   # after plate.3mf was written: the first STL fills the disk
        assert (path.parent / "plate.3mf").is_file()
        path.write_bytes(b"half an STL")
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(plate_files, "write_stl", full)
    run = two_object_run(tmp_path)
    before = sorted(path.name for path in run.iterdir())
    out = cli("print", run, "--height-mm", "80")
    assert out.returncode == 1
    assert _errors(out) == [f"error: the disk is full: the print could not be written, so what it had written into "
                            f"{run / 'print'} was taken away: nothing was kept [disk]"]
    assert sorted(path.name for path in run.iterdir()) == before   # no print folder, nothing of the run touched


def test_a_disk_that_fills_at_print_json_leaves_no_print(
        tmp_path: Path, cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    from img23d_backend.runs.added_folders import AddedFolder

    write = AddedFolder.write_bytes_with

    def full_at_the_record(self: AddedFolder, relative: str, writer: Any) -> Path:
        if relative == "print.json":
            raise OSError(errno.ENOSPC, "No space left on device")
        return write(self, relative, writer)

    monkeypatch.setattr(AddedFolder, "write_bytes_with", full_at_the_record)
    mesh = tmp_path / "cube.glb"
    trimesh.creation.box(extents=(1.0, 1.0, 1.0)).export(mesh)
    out = cli("print", mesh, "--height-mm", "30", "--out", tmp_path / "runs")
    assert out.returncode == 1
    errors = _errors(out)
    assert len(errors) == 1 and errors[0].startswith("error: the disk is full: the print could not be written, so ")
    assert errors[0].endswith(" was taken away: nothing was kept [disk]")
    (made,) = (tmp_path / "runs").iterdir()   # the print's own run keeps its manifest, saying it failed
    assert not (made / "print").exists()
    assert json.loads((made / "manifest.json").read_text(encoding="utf-8"))["status"] == "failed"


def test_the_3mf_and_print_json_name_the_models_that_made_each_object(tmp_path: Path, cli: RunCli) -> None:
    from img23d_backend.gltf.made_by import made_by
    from img23d_backend.gltf.writer import export_glb

    run = two_object_run(tmp_path)
    made = made_by([("grounding", "Qwen/Qwen3-VL-8B-Instruct"), ("shape", "tencent/Hunyuan3D-2")])
    export_glb(trimesh.creation.box(extents=(1.2, 1.08, 1.2)), run / "house.glb", made)
    out = cli("print", run, "--height-mm", "80")
    assert out.returncode == 0, out.stdout + out.stderr
    model = _model(run / "print" / "plate.3mf")
    metadata = {item.get("name"): item.text or "" for item in model.findall(CORE + "metadata")}
    assert metadata["Application"] == "img23d"
    assert "img23d" in metadata["Copyright"]
    for credit in made.models:
        assert credit.model in metadata["Copyright"] and credit.licence_terms in metadata["Copyright"]
        assert credit.licence_terms in metadata["LicenseTerms"]
    objects = {item.get("name"): item for item in model.iter(CORE + "object")}
    house = {entry.get("name", "").split(":")[-1]: entry.text for entry in objects["house"].iter(CORE + "metadata")}
    assert all(credit.model in house["credits"] for credit in made.models)
    chimney = {entry.get("name", "").split(":")[-1]: entry.text for entry in objects["chimney"].iter(CORE + "metadata")}
    assert "names no model that made it" in chimney["credits"]   # trimesh's GLB: no model is claimed for it
    record = {item["name"]: item for item in json.loads((run / "print" / "print.json").read_text())["objects"]}
    assert [entry["model"] for entry in record["house"]["credits"]] == [credit.model for credit in made.models]
    assert "the STL carries no credits" in record["house"]["credits_note"]
    assert record["chimney"]["credits"] == [] and record["chimney"]["credits_note"] is None
